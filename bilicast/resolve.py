"""Resolve stage: fills the script's templates with measured results.

Any text in a segment (narration, params, overlay caption, chapter) and the
cover/upload texts may use Jinja2 with the episode's bench results:

    {{ quant.fp32.size_mb | mb }}  ->  "0.55 MB"

Templates run in Jinja2's sandbox with StrictUndefined. Every number that
reaches the screen is recorded (numbers.json) with the result file and field
it came from, so `verify()` can check it against its source after rounding.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .filters import FILTERS, TESTS, FilterError, _sig
from .measured import AT, Measured, Namespace, evaluate, provenance_line, raw_value, sources
from .results import read_result

# -- resolving a script ------------------------------------------------------

@dataclass
class ShownNumber:
    where: str              # e.g. segments[2].narration[0]
    segment: str | None
    text: str               # what the viewer reads
    value: float
    filter: str
    args: tuple
    expr: tuple

    def as_json(self, results_files: dict) -> dict:
        return {"where": self.where, "segment": self.segment, "text": self.text, "value": self.value,
                "filter": self.filter, "sources": [
                    {"file": f, "field": name, "raw": raw_value(results_files[f], name)}
                    for f, name in sources(self.expr)]}


@dataclass
class Resolution:
    data: dict                                   # the script data with templates filled in
    numbers: list[ShownNumber] = field(default_factory=list)
    results: dict = field(default_factory=dict)    # file -> Result
    key_files: dict = field(default_factory=dict)  # bench key -> file

    @property
    def provenance(self) -> dict:
        """bench key -> the provenance line shown beside its numbers."""
        return {k: provenance_line(self.results[f], f) for k, f in self.key_files.items()}


class _Recorder:
    def __init__(self) -> None:
        self.shown: list[tuple] = []

    def wrap(self, name, fn):
        def filt(value, *args, **kwargs):
            text = fn(value, *args, **kwargs)
            if isinstance(value, Measured):
                self.shown.append((text, float(value), name, args + tuple(kwargs.items()), value.expr))
            return text
        return filt


def _fail_undefined(self):
    """StrictUndefined, but the message lists the keys that do exist."""
    obj, name = self._undefined_obj, self._undefined_name
    if self._undefined_exception is not jinja2.UndefinedError:   # the sandbox's SecurityError
        raise self._undefined_exception(self._undefined_message)
    if isinstance(obj, Namespace):
        raise jinja2.UndefinedError(f"'{obj._path}' has no '{name}'; it has: {', '.join(obj.keys())}")
    if obj is jinja2.utils.missing:
        raise jinja2.UndefinedError(f"'{name}' is undefined")
    raise jinja2.UndefinedError(self._undefined_message)


class _StrictUndefined(jinja2.StrictUndefined):
    _fail_with_undefined_error = _fail_undefined
    __str__ = __iter__ = __len__ = __bool__ = __eq__ = __float__ = __int__ = _fail_undefined
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = _fail_undefined


def _environment(recorder: _Recorder) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=_StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update({name: recorder.wrap(name, fn) for name, fn in FILTERS.items()})
    env.tests.update(TESTS)
    return env


def fill(template: str, **names) -> str:
    """One template string filled the way a script's are (same filters and
    tests, same sandbox), e.g. to try a sentence against results."""
    return _environment(_Recorder()).from_string(template).render(**names)


_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)
TEMPLATED_EPISODE_FIELDS = [("cover", "title"), ("cover", "badge"), ("upload", "desc"), ("upload", "dynamic")]


_AT = re.compile(r"\b([A-Za-z_]\w*)@([A-Za-z0-9_]+)\b")
_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _at_names(text: str) -> str:
    """KEY@NODE inside the template's {{ }} and {% %} (not in its plain text) as a name Jinja reads."""
    return _BLOCK.sub(lambda block: _AT.sub(rf"\1{AT}\2", block.group()), text)


def resolve(script, located, path: str, names: dict, files: dict, key_files: dict) -> Resolution:
    """Fill every template in the script. Errors name file:line, the segment and the keys that exist."""
    from .yamlsource import Problem, ScriptProblems
    recorder = _Recorder()
    env = _environment(recorder)
    data = script.model_dump()
    out = Resolution(data, results=files, key_files=key_files)
    problems = []

    def render(text: str, where_path: tuple, segment: str | None, where: str):
        if "{{" not in text and "{%" not in text:
            return text
        line, col = located.position(where_path)
        written, text = text, _at_names(text)
        try:
            single = _SINGLE.match(text)
            if single and "}}" not in single.group(1):
                value = env.compile_expression(single.group(1), undefined_to_none=False)(**names)
                if isinstance(value, jinja2.Undefined):
                    str(value)
                if isinstance(value, Namespace):
                    raise jinja2.TemplateRuntimeError(f"'{single.group(1).strip()}' is a group of results, "
                                                      f"not a value; it has: {', '.join(value.keys())}")
            else:
                value = env.from_string(text).render(**names)
        except jinja2.TemplateSyntaxError as e:
            problems.append(Problem(line + (e.lineno or 1) - 1, col, where, f"template syntax error: {e.message}",
                                    "check the {{ }} braces and filter names"))
            return written
        except jinja2.exceptions.SecurityError as e:
            problems.append(Problem(line, col, where, f"the template was refused by the sandbox: {e}",
                                    "templates may only read results and format them"))
            return written
        except (jinja2.TemplateError, TypeError, ValueError, ZeroDivisionError) as e:
            hint = ("results available: " + ", ".join(n.replace(AT, "@") for n in names) if names
                    else "add a `bench:` block to the script")
            if isinstance(e, FilterError):
                hint = "filters: " + ", ".join(FILTERS) + "; tests: " + ", ".join(TESTS)
            problems.append(Problem(line, col, where, f"template error in segment '{segment}': {e}"
                                    if segment else f"template error: {e}", hint))
            return written
        for shown in recorder.shown:
            out.numbers.append(ShownNumber(where, segment, *shown))
        for measured in _walk_measured(value):
            out.numbers.append(ShownNumber(where, segment, _plain(measured), float(measured), "raw", (),
                                           measured.expr))
        recorder.shown.clear()
        return _strip_measured(value)

    def walk(node, where_path, segment, where):
        if isinstance(node, str):
            return render(node, where_path, segment, where)
        if isinstance(node, list):
            return [walk(x, where_path + (i,), segment, f"{where}[{i}]") for i, x in enumerate(node)]
        if isinstance(node, dict):
            return {k: walk(v, where_path + (k,), segment, f"{where}.{k}") for k, v in node.items()}
        return node

    for i, seg in enumerate(data["segments"]):
        base = ("segments", i)
        for key in ("params", "narration", "chapter", "overlay"):
            if seg.get(key) is not None:
                seg[key] = walk(seg[key], base + (key,), seg["id"], f"segments[{i}].{key}")
    for a, b in TEMPLATED_EPISODE_FIELDS:
        value = data["episode"][a].get(b)
        if isinstance(value, str):
            data["episode"][a][b] = walk(value, ("episode", a, b), None, f"episode.{a}.{b}")
    if problems:
        raise ScriptProblems(path, problems)
    return out


def _walk_measured(value):
    if isinstance(value, Measured):
        yield value
    elif isinstance(value, (list, tuple)):
        for x in value:
            yield from _walk_measured(x)
    elif isinstance(value, dict):
        for x in value.values():
            yield from _walk_measured(x)


def _plain(x: float) -> str:
    return _sig(float(x), 4)


def _strip_measured(value):
    """Plain floats for the rest of the pipeline (scenes get ordinary numbers)."""
    if isinstance(value, Measured):
        return float(value)
    if isinstance(value, list):
        return [_strip_measured(x) for x in value]
    if isinstance(value, dict):
        return {k: _strip_measured(x) for k, x in value.items()}
    return value


def verify(numbers: list[ShownNumber], files: dict) -> list[str]:
    """Re-read every source and re-format: a shown number that disagrees with
    its source after rounding is an error (a stale or hand-edited value)."""
    fresh = {f: read_result(Path(f)) for f in files}
    errors = []
    for n in numbers:
        value = evaluate(n.expr, lambda f, name: raw_value(fresh[f], name))
        text = FILTERS[n.filter](value, *[a for a in n.args if not isinstance(a, tuple)],
                                 **dict(a for a in n.args if isinstance(a, tuple))) if n.filter != "raw" else _plain(value)
        if text != n.text:
            errors.append(f"{n.where}: shows {n.text!r} but its source now gives {text!r}")
    return errors
