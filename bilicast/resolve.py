"""Resolve stage: fills the script's templates with measured results.

Any text in a segment (narration, params, overlay caption, chapter) and the
cover/upload texts may use Jinja2 with the episode's bench results:

    {{ quant.fp32.size_mb | mb }}  ->  "0.55 MB"

Templates run in Jinja2's sandbox with StrictUndefined. Every number that
reaches the screen is recorded (numbers.json) with the result file and field
it came from, so `verify()` can check it against its source after rounding.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import UserError
from .results import Result, read_result

# -- measured values that remember where they came from ---------------------


class MissingResult(UserError):
    """A bench entry has no result yet (validate can go on without it)."""


class Measured(float):
    """A float from a result (or arithmetic on such floats), with the
    expression that recomputes it from the result files."""

    def __new__(cls, value, expr):
        obj = super().__new__(cls, value)
        obj.expr = expr
        return obj

    def _op(self, other, op, swap=False):
        other_expr = other.expr if isinstance(other, Measured) else ("const", float(other))
        a, b = (other_expr, self.expr) if swap else (self.expr, other_expr)
        x, y = (float(other), float(self)) if swap else (float(self), float(other))
        return Measured(op(x, y), (op.__name__, a, b))

    def __add__(self, o): return self._op(o, operator.add)
    def __radd__(self, o): return self._op(o, operator.add, True)
    def __sub__(self, o): return self._op(o, operator.sub)
    def __rsub__(self, o): return self._op(o, operator.sub, True)
    def __mul__(self, o): return self._op(o, operator.mul)
    def __rmul__(self, o): return self._op(o, operator.mul, True)
    def __truediv__(self, o): return self._op(o, operator.truediv)
    def __rtruediv__(self, o): return self._op(o, operator.truediv, True)
    def __neg__(self): return Measured(-float(self), ("neg", self.expr))
    def __abs__(self): return Measured(abs(float(self)), ("abs", self.expr))


def sources(expr) -> list[tuple[str, str]]:
    if expr[0] == "src":
        return [(expr[1], expr[2])]
    return [s for part in expr[1:] if isinstance(part, tuple) for s in sources(part)]


def evaluate(expr, lookup) -> float:
    """Recompute an expression; lookup(file, field) gives a source's raw value."""
    kind = expr[0]
    if kind == "src":
        return lookup(expr[1], expr[2])
    if kind == "const":
        return expr[1]
    if kind == "neg":
        return -evaluate(expr[1], lookup)
    if kind == "abs":
        return abs(evaluate(expr[1], lookup))
    return getattr(operator, kind)(evaluate(expr[1], lookup), evaluate(expr[2], lookup))


def raw_value(result: Result, name: str) -> float:
    """A result field by its name: a metric, timing.stat, series:NAME:i[:j],
    or a model's parameter count (models:NAME:params, models:NAME:layers:i:params)."""
    if name.startswith("models:"):
        _, model, *path = name.split(":")
        record = result.models[model]
        return float(record.params if path == ["params"] else record.layers[int(path[1])].params)
    if name.startswith("series:"):
        _, series, *index = name.split(":")
        value: Any = result.series[series]
        for i in index:
            value = value[int(i)]
        return float(value)
    if name in result.metrics:
        return result.metrics[name].value
    timing, _, stat = name.rpartition(".")
    return float(getattr(result.timings[timing], stat))


class Namespace:
    """Dotted access into one result: quant.fp32.size_mb, quant.fp32.latency_1t.median."""

    def __init__(self, entries: dict, path: str = ""):
        self._entries = entries
        self._path = path

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._entries:
            raise AttributeError(name)
        return self._entries[name]

    def __getitem__(self, name):
        return self._entries[name]

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def __repr__(self):
        return f"<results {self._path or 'root'}: {', '.join(self.keys())}>"


def _nest(flat: dict) -> dict:
    """{"fp32.size_mb": v} -> {"fp32": {"size_mb": v}}. A name that is both a
    value and a group (x and x.y) is a demo bug: say so."""
    root: dict = {}
    for name, value in flat.items():
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"result field '{name}' clashes with the field '{part}': rename one in the demo")
        if isinstance(node.get(parts[-1]), dict):
            raise UserError(f"result field '{name}' clashes with fields named '{name}.…': rename one in the demo")
        node[parts[-1]] = value
    return root


def _to_namespace(tree, path=""):
    if isinstance(tree, dict):
        return Namespace({k: _to_namespace(v, f"{path}.{k}" if path else k) for k, v in tree.items()}, path)
    return tree


def _measured_series(values, file, path):
    if isinstance(values, list):
        return [_measured_series(v, file, f"{path}:{i}") for i, v in enumerate(values)]
    return Measured(values, ("src", file, path))


def provenance_line(result: Result, file: str) -> str:
    """From templates/provenance.j2 of the workspace the result file is in
    (results/<demo>/<slug>.json), else the built-in one."""
    from . import templates
    p = result.provenance
    threads = {t.threads for t in result.timings.values()}
    thread_text = f"{min(threads)}–{max(threads)} 线程" if len(threads) > 1 else (
        f"{threads.pop()} 线程" if threads else f"{p.cores} 核")
    cpu = re.sub(r"\s+\d+-Core Processor|\(R\)|\(TM\)|CPU @.*", "", p.cpu).strip()
    line = templates.render("provenance.j2", Path(file).resolve().parents[2], cpu=cpu, accelerator=p.accelerator,
                            threads=thread_text, tensorflow=".".join(p.tensorflow.split(".")[:2]), date=p.date[:10],
                            tiny=result.tiny, node=p.node)
    return line.strip()


def progress_lines(log: Path) -> list[str]:
    """The steps a demo reported while it ran (its `ctx.step` lines, from the
    run's log; an imported result has none)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line[len("progress: "):].strip() for line in text.splitlines() if line.startswith("progress: ")]


def result_namespace(key: str, result: Result, file: str) -> Namespace:
    flat: dict[str, Measured | Namespace] = {name: Measured(m.value, ("src", file, name))
                                            for name, m in result.metrics.items()}
    for name, t in result.timings.items():
        stats: dict[str, float] = {s: Measured(getattr(t, s), ("src", file, f"{name}.{s}"))
                                   for s in ("median", "p90", "min", "max", "mean", "stdev", "ci_low", "ci_high")
                                   if getattr(t, s) is not None}
        stats.update(samples=t.samples, warmup=t.warmup, threads=t.threads, processes=t.processes)
        flat[name] = Namespace(stats, f"{key}.{name}")
    tree = _nest(flat)
    tree["series"] = {name: _measured_series(values, file, f"series:{name}") for name, values in result.series.items()}
    tree["notes"] = result.notes
    tree["provenance"] = provenance_line(result, file)
    tree["log"] = progress_lines(Path(file).with_suffix(".log"))
    namespace = _to_namespace(tree, key)
    # A model stays a plain mapping, so `{{ q.models.digits }}` fills a scene
    # param whole; its parameter counts are checked like every shown number.
    if result.models:
        namespace._entries["models"] = Namespace({name: _model_values(name, m, file) for name, m in result.models.items()},
                                                 f"{key}.models")
    return namespace


def _model_values(name: str, model, file: str) -> dict:
    data = model.model_dump()
    data["params"] = Measured(model.params, ("src", file, f"models:{name}:params"))
    for i, layer in enumerate(data["layers"]):
        layer["params"] = Measured(layer["params"], ("src", file, f"models:{name}:layers:{i}:params"))
    return data


# -- filters: fixed, documented rounding (half up) ---------------------------
# mb   MB to 3 significant figures, KB below 1 MB      0.1445 -> "145 KB", 13.92 -> "13.9 MB"
# ms   3 significant figures                           0.06754 -> "0.0675 ms"
# fps  whole frames per second, thousands separated    14805.4 -> "14,805 FPS"
# pct  a ratio as a percentage, 1 decimal; pct(true) adds the sign   0.9222 -> "92.2%"
# x    a ratio, 1 decimal                              3.81 -> "3.8×"
# sec  seconds, 3 significant figures                  2.122 -> "2.12 秒"
# cn   Chinese large numbers: 万 (1e4), 亿 (1e8), 2 decimals     35000 -> "3.50万"
# num  fixed decimals, num(digits=2)                   3.14159 | num(3) -> "3.142"

class FilterError(jinja2.TemplateRuntimeError):
    pass


def _number(value, name):
    if isinstance(value, jinja2.Undefined):   # a missing key: say which, and what exists
        value._fail_with_undefined_error()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"the filter '{name}' needs a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise FilterError(f"the filter '{name}' got {value}")
    return float(value)


def _round(x: float, decimals: int) -> str:
    """Half-up rounding, as people round (float noise removed first: 0.1445 * 1000 -> 145)."""
    d = Decimal(f"{x:.12g}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{d:f}"


def _sig(x: float, figures: int = 3) -> str:
    """x with `figures` significant figures, no exponent."""
    if x == 0:
        return "0"
    decimals = max(0, figures - 1 - int(math.floor(math.log10(abs(x)))))
    return _round(x, decimals)


def fmt_mb(v):
    x = _number(v, "mb")
    return f"{_sig(x * 1000)} KB" if abs(x) < 1 else f"{_sig(x)} MB"


def fmt_ms(v):
    return f"{_sig(_number(v, 'ms'))} ms"


def fmt_fps(v):
    return f"{int(_round(_number(v, 'fps'), 0)):,} FPS"


def fmt_pct(v, signed=False):
    x = _number(v, "pct") * 100
    text = f"{_round(abs(x), 1)}%"
    if signed:
        return ("+" if x > 0 else "−" if x < 0 else "±") + text
    return ("−" if x < 0 else "") + text


def fmt_x(v):
    return f"{_round(_number(v, 'x'), 1)}×"


def fmt_sec(v):
    return f"{_sig(_number(v, 'sec'))} 秒"


def fmt_cn(v):
    """Chinese large-number style: 12,345 -> 1.23万, 3.5e8 -> 3.50亿."""
    x = _number(v, "cn")
    if abs(x) >= 1e8:
        return f"{_round(x / 1e8, 2)}亿"
    if abs(x) >= 1e4:
        return f"{_round(x / 1e4, 2)}万"
    return _sig(x) if x != int(x) else str(int(x))


def fmt_num(v, digits=2):
    return _round(_number(v, "num"), int(digits))


FILTERS = {"mb": fmt_mb, "ms": fmt_ms, "fps": fmt_fps, "pct": fmt_pct, "x": fmt_x, "sec": fmt_sec,
           "cn": fmt_cn, "num": fmt_num}


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


# -- tests: speed differences called only when real --------------------------
# {% if a is slower_than(b) %}…{% elif a is faster_than(b) %}…{% else %}no measurable difference{% endif %}
# a and b are timings (quant.int8.latency_1t); a is slower only when its 95 %
# interval lies wholly above b's, faster only when wholly below.

def _interval(timing, test: str) -> tuple[float, float]:
    if isinstance(timing, jinja2.Undefined):
        timing._fail_with_undefined_error()
    if not isinstance(timing, Namespace) or "median" not in timing.keys():
        raise FilterError(f"the test '{test}' compares two timings, e.g. "
                          f"quant.int8.latency_1t is {test}(quant.fp32.latency_1t); got {timing!r}")
    if "ci_low" not in timing.keys():
        raise FilterError(f"'{timing._path}' was measured without a confidence interval (an older result): "
                          "rerun its demo with `bilicast bench SCRIPT --force`")
    return float(timing.ci_low), float(timing.ci_high)


def slower_than(a, b) -> bool:
    return _interval(a, "slower_than")[0] > _interval(b, "slower_than")[1]


def faster_than(a, b) -> bool:
    return _interval(a, "faster_than")[1] < _interval(b, "faster_than")[0]


def same_speed_as(a, b) -> bool:
    """No measurable difference: the two intervals overlap."""
    return not slower_than(a, b) and not faster_than(a, b)


TESTS = {"slower_than": slower_than, "faster_than": faster_than, "same_speed_as": same_speed_as}


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


def load_results(script, registry, results_dir: Path) -> tuple[dict, dict, dict]:
    """(bench key -> Namespace, file -> Result, bench key -> file); prefers a
    full run's result, else a tiny one. Results measured by `bench --on NODE`
    come as KEY@NODE (they may be all there is of a key)."""
    from .bench import result_path
    names, files, key_files = {}, {}, {}

    def add(key: str, name: str, path: Path):
        files[str(path)] = read_result(path)
        names[name] = result_namespace(key, files[str(path)], str(path))
        key_files[key] = str(path)

    for key, entry in script.bench.items():
        for tiny in (False, True):
            path = result_path(results_dir, entry.demo, registry.effective_params(entry.demo, entry.params, tiny), tiny)
            on_nodes = sorted(path.parent.glob(f"{path.stem}@*.json"))
            if path.exists() or on_nodes:
                break
        else:
            raise MissingResult(f"bench '{key}' ({entry.demo}) has no result yet: run `bilicast bench SCRIPT` "
                                "(or `bilicast bench SCRIPT --tiny` for a quick one)")
        if path.exists():
            add(key, key, path)
        for measured in on_nodes:
            node = measured.stem.split("@", 1)[1]
            add(f"{key}@{node}", f"{key}{AT}{node}", measured)
    return names, files, key_files


AT = "__at__"   # `quant@gpu.fp32.size_mb` in a template reads the name quant__at__gpu
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
