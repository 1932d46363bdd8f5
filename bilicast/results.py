"""Demo results: the one place measured numbers live (results/<demo>/<slug>.json).

Schema `bilicast.result/1` (every field checked on load and on import):

    schema      "bilicast.result/1"
    demo        demo name (demos/<demo>.py)
    params      the effective demo params (after --tiny overrides)
    tiny        true for the shrunken CI/test run
    metrics     {"fp32.size_mb": {"value": 0.15, "unit": "MB"}, ...}   flat dotted names
    timings     {"fp32.latency_1t": {"unit": "ms", "samples", "warmup", "median", "p90",
                 "min", "max", "mean", "stdev", "threads", "init_ms"}, ...}
    series      {"train.loss": [..], "confusion": [[..]..], ...}   lists of numbers
    notes       ["int8 is slower than float32 on this CPU", ...]
    artifacts   {"tensorboard": "results/train_curve/<slug>.files/logs"}  paths
    provenance  python, tensorflow, keras, litert, numpy, platform, cpu, cores,
                accelerator, machine, date (ISO 8601 UTC), code_hash, duration_s
    imported_from  set when the result came in through `bilicast bench --import`
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UserError

SCHEMA = "bilicast.result/1"


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
    date: str
    code_hash: str = Field(min_length=16)
    duration_s: float = Field(ge=0)


Number = Union[float, int]


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
    provenance: Provenance
    imported_from: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), ensure_ascii=False, indent=1)


def read_result(path: Path) -> Result:
    """Load and check a result file; a corrupt or foreign file is a UserError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the result file ({e})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); "
                        "the result file is corrupt: rerun the demo with `bilicast bench --force`") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{path}: not a bilicast result (expected \"schema\": \"{SCHEMA}\", "
                        f"got {data.get('schema') if isinstance(data, dict) else type(data).__name__!r})")
    try:
        return Result.model_validate(data)
    except ValidationError as e:
        lines = [f"  {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:10]]
        raise UserError(f"{path}: the result does not match schema {SCHEMA}:\n" + "\n".join(lines)) from None
