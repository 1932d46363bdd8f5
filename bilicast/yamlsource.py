"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives us nodes with line/column marks; we build plain Python
data from them ourselves (no object construction, only str/int/float/bool/null,
lists and mappings) and record the position of every value and key, so schema
errors can point at `file:line:column`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

MAX_FILE_BYTES = 1_000_000   # an episode script is a few KB; more is a mistake or an attack
MAX_NODES = 100_000          # stops alias bombs ("billion laughs") early
MAX_DEPTH = 40

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}


@dataclass
class Problem:
    """One thing wrong with a script, located in the source."""
    line: int          # 1-based
    column: int        # 1-based
    where: str         # field path such as segments[1].scene, or "" for the file
    message: str
    hint: str = ""
    file: str = ""     # when the value is in another file than the script (channel.yaml)

    def format(self, path: str) -> str:
        head = f"{self.file or path}:{self.line}:{self.column}: "
        head += f"{self.where}: {self.message}" if self.where else self.message
        return head + (f"\n    fix: {self.hint}" if self.hint else "")


class ScriptProblems(Exception):
    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(p.format(self.path) for p in self.problems)


@dataclass
class Located:
    """Parsed data plus the 1-based (line, column) of each value and mapping key."""
    data: object
    values: dict = field(default_factory=dict)   # path tuple -> (line, col)
    keys: dict = field(default_factory=dict)     # path tuple -> (line, col) of the key
    opening_added: bool = False                  # the channel's opening went first (channel.renumbered)
    channel: tuple[str, "Located"] | None = None  # channel.yaml's path and positions, when it is laid under

    def position(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """Position of `path` (its key if asked and known), else of its longest known prefix."""
        if key and path in self.keys:
            return self.keys[path]
        for n in range(len(path), -1, -1):
            if path[:n] in self.values:
                return self.values[path[:n]]
        return (1, 1)


def _fail(line: int, col: int, message: str, hint: str = "") -> ScriptProblems:
    return ScriptProblems("", [Problem(line, col, "", message, hint)])


def _syntax_hint(problem: str) -> str:
    if "\t" in problem or "'\\t'" in problem:
        return "YAML indents with spaces; replace the tab characters with spaces"
    if "mapping values are not allowed" in problem:
        return 'put text that contains ": " in quotes, e.g. "第一步: 导出"'
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    return "check the indentation and the quotes on this line and the one before"


def _syntax_problem(e: yaml.MarkedYAMLError) -> ScriptProblems:
    """Point at where the broken construct starts (a quote, a bracket), and
    say where the parser gave up, instead of only the latter."""
    start, end = e.context_mark, e.problem_mark
    problem = " ".join(x for x in (e.problem, e.context and f"({e.context})") if x)
    if start and end and (start.line, start.column) != (end.line, end.column):
        if "quoted scalar" in (e.context or ""):
            what = f"the quote opened on line {start.line + 1} is never closed"
            hint = "close the quote on the same line (or the line the text ends on)"
        elif "flow" in (e.context or ""):
            what = f"the bracket opened on line {start.line + 1} is never closed properly"
            hint = "close every [ with ] and every { with }"
        else:
            what = f"YAML syntax error in what starts on line {start.line + 1}: {problem}"
            hint = _syntax_hint(problem)
        return _fail(start.line + 1, start.column + 1, f"{what} (the parser gave up on line {end.line + 1}: "
                     f"{e.problem})", hint)
    mark = end or start
    if mark is None:
        return _fail(1, 1, f"YAML syntax error: {problem}", _syntax_hint(problem))
    return _fail(mark.line + 1, mark.column + 1, f"YAML syntax error: {problem}", _syntax_hint(problem))


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """(line, col) where [ and { brackets first nest deeper than MAX_DEPTH,
    found without parsing (quotes and comments skipped)."""
    depth, quote, line, col = 0, "", 1, 0
    previous = "\n"
    for c in text:
        col += 1
        if c == "\n":
            line, col = line + 1, 0
            if quote == "#":
                quote = ""
        elif quote:
            if c == quote and quote != "#":
                quote = ""
        elif c in "\"'" or (c == "#" and previous in " \t\n"):
            quote = c
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif c in "]}":
            depth -= 1
        previous = c
    return None


def load(path: Path) -> Located:
    """Read and parse a YAML file safely. Raises ScriptProblems on any problem."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ScriptProblems(str(path), [Problem(1, 1, "", f"cannot read the file: {e.strerror}",
                                                 "check the path")]) from None
    try:
        return parse(raw)
    except ScriptProblems as e:
        e.path = str(path)
        raise


def parse(raw: bytes) -> Located:
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(1, 1, f"the file is {len(raw) / 1e6:.1f} MB; an episode script may be at most "
                    f"{MAX_FILE_BYTES // 1000} KB", "is this the right file? split long texts or move data into results")
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise _fail(line, 1, "this is a binary file, not a YAML episode script",
                    "pass the .yaml script (a text file)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(line, col, f"the file is not valid UTF-8 (byte 0x{raw[e.start]:02x})",
                    "save the script as UTF-8 (GBK/GB2312 files must be converted)") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise _fail(1, 1, "the file is empty", "an episode script needs `episode:` and `segments:`")
    too_deep = _flow_too_deep(text)
    if too_deep:
        raise _fail(*too_deep, f"brackets nest more than {MAX_DEPTH} levels deep here",
                    f"a script may nest lists and mappings at most {MAX_DEPTH} levels; close the brackets")
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        raise _syntax_problem(e) from None
    except RecursionError:
        raise _fail(1, 1, f"the file nests lists or mappings far deeper than the {MAX_DEPTH} levels a script "
                    "may use", "flatten the structure") from None
    except yaml.YAMLError as e:
        raise _fail(1, 1, f"YAML error: {e}", "check the file's syntax") from None
    if len(documents) != 1:
        line = documents[0].end_mark.line + 1 if documents else 1
        raise _fail(line, 1, "a script holds exactly one YAML document",
                    "remove the extra `---` separator and what follows it")
    located = Located(None)
    located.data = _Builder(located).build(documents[0], (), 0)
    return located


class _Builder:
    def __init__(self, located: Located):
        self.located = located
        self.count = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node, path, depth):
        self.count += 1
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if self.count > MAX_NODES:
            raise _fail(line, col, f"the document expands to more than {MAX_NODES} values "
                        "(anchors/aliases repeated too often)", "write the values out instead of nesting aliases")
        if depth > MAX_DEPTH:
            raise _fail(line, col, f"nesting deeper than {MAX_DEPTH} levels", "flatten the structure")
        self.located.values.setdefault(path, (line, col))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:timestamp":
                return node.value            # dates stay text
            if node.tag not in _SCALAR_TAGS:
                raise _fail(line, col, f"the tag {node.tag} is not allowed",
                            "remove the `!tag`; scripts hold plain text, numbers, lists and mappings")
            return self.scalars.construct_object(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _fail(line, col, f"the tag {node.tag} is not allowed", "remove the `!tag`")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.tag != "tag:yaml.org,2002:map":
            raise _fail(line, col, f"the tag {node.tag} is not allowed", "remove the `!tag`")
        result = {}
        for key_node, value_node in node.value:
            kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(kline, kcol, "a mapping key must be plain text", "use a simple name as the key")
            key = key_node.value
            if key in result:
                first = self.located.keys.get(path + (key,), (0, 0))[0]
                raise _fail(kline, kcol, f"the key '{key}' appears twice in this mapping (first on line {first})",
                            "remove or rename one of them")
            self.located.keys[path + (key,)] = (kline, kcol)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result
