"""Measured values: results loaded for an episode's templates, as numbers
that remember the result file and field they came from (so every number a
template shows can be checked against its source), and the provenance line
shown beside them."""
from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Any

from .errors import UserError
from .results import Result, read_result

AT = "__at__"   # `quant@gpu.fp32.size_mb` in a template reads the name quant__at__gpu


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
