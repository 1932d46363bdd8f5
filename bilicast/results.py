"""Demo results: the one place measured numbers live (results/<demo>/<slug>.json).

Schema `bilicast.result/1` (every field checked on load and on import):

    schema      "bilicast.result/1"
    demo        demo name (demos/<demo>.py)
    params      the effective demo params (after --tiny overrides)
    tiny        true for the shrunken CI/test run
    metrics     {"fp32.size_mb": {"value": 0.15, "unit": "MB"}, ...}   flat dotted names
    timings     {"fp32.latency_1t": {"unit": "ms", "samples", "warmup", "median", "p90",
                 "min", "max", "mean", "stdev", "threads", "init_ms", "ci_low", "ci_high",
                 "processes", "process_medians", "batch", "interleaved"}, ...}
                (see bilicast/latency.py for how LiteRT latencies are measured)
    series      {"train.loss": [..], "confusion": [[..]..], ...}   lists of numbers
    notes       ["int8 is slower than float32 on this CPU", ...]
    artifacts   {"tensorboard": "results/train_curve/<slug>.files/logs"}  paths
    models      {"digits": {"input": [32, 32, 1], "params": 134634, "layers": [{"name": "conv2d",
                 "kind": "Conv2D", "detail": "16 3×3 relu", "output": [32, 32, 16], "params": 160}, ..]}}
                the Keras models the demo really ran (model.Architecture draws them)
    provenance  python, tensorflow, keras, litert, numpy, platform, cpu, cores,
                accelerator, machine, date (ISO 8601 UTC), code_hash, duration_s
    imported_from  set when the result came in through `bilicast bench --import`
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Final, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UserError

SCHEMA: Final = "bilicast.result/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metric(_Model):
    value: float
    unit: str = Field(max_length=16)


class Timing(_Model):
    unit: Literal["ms"] = "ms"
    samples: int = Field(ge=1)
    warmup: int = Field(ge=0)
    median: float = Field(gt=0)
    p90: float = Field(gt=0)
    min: float = Field(gt=0)
    max: float = Field(gt=0)
    mean: float = Field(gt=0)
    stdev: float = Field(ge=0)
    threads: int = Field(ge=1)
    init_ms: Optional[float] = Field(None, ge=0)
    # 95 % confidence interval of the median (results before 2026-11 lack it)
    ci_low: Optional[float] = Field(None, gt=0)
    ci_high: Optional[float] = Field(None, gt=0)
    processes: int = Field(1, ge=1)                 # fresh worker processes; median = median of their medians
    process_medians: list[float] = []
    batch: int = Field(1, ge=1)                     # invokes timed together as one sample
    interleaved: bool = False                       # variants measured in turn, A B C A B C …


class Provenance(_Model):
    python: str
    tensorflow: str
    keras: str
    litert: str
    numpy: str
    platform: str
    cpu: str
    cores: int = Field(ge=1)
    accelerator: Optional[str] = None
    machine: str
    node: Optional[str] = None   # the cluster node's label, for a result measured by `bench --on LABEL`
    date: str
    code_hash: str = Field(min_length=16)
    duration_s: float = Field(ge=0)


Number = Union[float, int]


class Layer(_Model):
    name: str = Field(max_length=80)
    kind: str = Field(max_length=40)               # the Keras class name
    detail: str = Field("", max_length=60)         # "16 3×3 relu"
    output: list[Optional[int]]                     # output shape without the batch axis
    params: int = Field(ge=0)


class ModelRecord(_Model):
    input: list[Optional[int]]
    params: int = Field(ge=0)
    layers: list[Layer] = Field(min_length=1, max_length=400)


class Result(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: Literal["bilicast.result/1"] = Field(SCHEMA, alias="schema")
    demo: str
    params: dict
    tiny: bool
    metrics: dict[str, Metric]
    timings: dict[str, Timing] = {}
    series: dict[str, list[Union[Number, list[Number]]]] = {}
    notes: list[str] = []
    artifacts: dict[str, str] = {}
    models: dict[str, ModelRecord] = {}
    provenance: Provenance
    imported_from: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), ensure_ascii=False, indent=1)


MAX_RESULT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
# metric name suffix -> the unit it must carry, and whether it may be negative
UNITS = {"size_mb": ("MB", False), "size_kb": ("KB", False), "rss_growth_mb": ("MB", True),
         "seconds": ("s", False), "first_s": ("s", False), "fps_1t": ("fps", False), "fps_all": ("fps", False),
         "acc": ("ratio", False), "val_acc": ("ratio", False), "acc_change": ("ratio", True),
         "drop": ("ratio", True), "size_ratio": ("x", False), "speedup": ("x", False),
         "speedup_1t": ("x", False), "slowdown": ("x", False), "size_saving": ("ratio", True),
         "params_m": ("M", False), "latency_ms": ("ms", False)}


def _depth(text: str) -> int:
    """How deeply arrays and objects nest, without parsing (so a hostile file
    can't exhaust the parser's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif c in "]}":
            depth -= 1
    return deepest


def _non_finite(value, where: str):
    """The first NaN or infinity in `value`, by its field path."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _non_finite(v, f"{where}.{k}" if where else str(k))
        if found:
            return found
    return None


def _check_values(result: "Result") -> list[str]:
    problems = []
    for name, metric in result.metrics.items():
        expected = UNITS.get(name.rsplit(".", 1)[-1])
        if expected and metric.unit != expected[0]:
            problems.append(f"metrics.{name}: unit is {metric.unit!r}, a {name.rsplit('.', 1)[-1]} "
                            f"is measured in {expected[0]!r}")
        if expected and not expected[1] and metric.value < 0:
            problems.append(f"metrics.{name}: {metric.value} is negative; a size, time, rate or accuracy can't be")
    return problems


def read_result(path: Path) -> Result:
    """Load and check a result file, own or imported. A corrupt, hostile or
    foreign file is a UserError naming the problem (exit 2), never a crash:
    size and nesting are limited before parsing, NaN and infinities, negative
    sizes or times and wrong units are refused with the field named."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise UserError(f"{path}: {path.stat().st_size / 1e6:.0f} MB is too large for a result "
                            f"(limit {MAX_RESULT_BYTES // 2 ** 20} MB)")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the result file ({e})") from None
    if _depth(text) > MAX_DEPTH:
        raise UserError(f"{path}: arrays or objects nested more than {MAX_DEPTH} deep; not a bilicast result")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); "
                        "the result file is corrupt: rerun the demo with `bilicast bench --force`") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{path}: not a bilicast result (expected \"schema\": \"{SCHEMA}\", "
                        f"got {data.get('schema') if isinstance(data, dict) else type(data).__name__!r})")
    bad = _non_finite(data, "")
    if bad:
        raise UserError(f"{path}: {bad} is NaN or infinite; a measurement must be a finite number")
    try:
        result = Result.model_validate(data)
    except ValidationError as e:
        lines = [f"  {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:10]]
        raise UserError(f"{path}: the result does not match schema {SCHEMA}:\n" + "\n".join(lines)) from None
    problems = _check_values(result)
    if problems:
        raise UserError(f"{path}: the result has impossible values:\n" + "\n".join(f"  {p}" for p in problems))
    return result
