"""What demo authors build on, and the worker that runs one demo in its own process.

A demo is demos/<name>.py with:
    class Params(DemoParams)       the knobs an episode may set
    TINY = {...}                   param overrides for --tiny (tests, CI)
    def run(p: Params, ctx: DemoContext)   measures and records through ctx

TensorFlow is imported inside run(), never at module level, so listing and
validating demos stays fast.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import sys
import time
from importlib import metadata
from pathlib import Path

from .strict import Strict

class DemoParams(Strict):
    """Base for a demo's Params: unknown keys are errors."""


def library_versions() -> dict:
    """Versions from package metadata (no TensorFlow import needed)."""
    def version(*names):
        for name in names:
            try:
                return metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        return "not installed"
    return {
        "python": platform.python_version(),
        "tensorflow": version("tensorflow-cpu", "tensorflow"),
        "keras": version("keras"),
        "litert": version("ai-edge-litert"),
        "numpy": version("numpy"),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def accelerator() -> str | None:
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    return ", ".join(d.name for d in gpus) or None


def summarize(samples_ms: list[float], warmup: int, threads: int, init_ms: float | None = None) -> dict:
    """A timing from one process's samples, with a 95 % bootstrap interval of
    its median (LiteRT latencies use bilicast.latency: several processes)."""
    from .latency import bootstrap_ci, describe
    low, high = bootstrap_ci([samples_ms])
    return {**describe(samples_ms), "warmup": warmup, "threads": threads, "init_ms": init_ms,
            "ci_low": low, "ci_high": high, "processes": 1}


class DemoContext:
    def __init__(self, tiny: bool, workdir: Path):
        self.tiny = tiny
        self.workdir = workdir
        self.metrics: dict = {}
        self.timings: dict = {}
        self.series: dict = {}
        self.notes: list[str] = []
        self.artifacts: dict = {}
        self.models: dict = {}

    def metric(self, name: str, value: float, unit: str) -> float:
        self.metrics[name] = {"value": float(value), "unit": unit}
        return float(value)

    def model(self, name: str, model) -> None:
        """Record a Keras model's layers as it ran (kind, output shape,
        parameter count), for scenes that draw the real model."""
        self.models[name] = describe_model(model)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def step(self, text: str) -> None:
        """Progress line, shown to the creator while the demo runs."""
        print(f"progress: {text}", flush=True)

    def time_models(self, variants: list[dict]) -> dict:
        """Time LiteRT models the way bilicast.latency does (batched,
        interleaved, several fresh processes) and record each under its name.
        variants: [{"name", "model": path, "threads", "input": .npy path}]."""
        from .latency import measure
        timings = measure(variants, self.tiny, progress=self.step)
        self.timings.update(timings)
        return timings


def describe_model(model) -> dict:
    def detail(layer) -> str:
        c = layer.get_config()
        act = c.get("activation")
        act = f" {act}" if act and act != "linear" else ""
        if "filters" in c:
            return f"{c['filters']} {'×'.join(map(str, c['kernel_size']))}{act}"
        if "units" in c:
            return f"{c['units']}{act}"
        if "pool_size" in c:
            return "×".join(map(str, c["pool_size"]))
        if "rate" in c:
            return f"rate {c['rate']}"
        return ""
    layers = [{"name": layer.name, "kind": type(layer).__name__, "detail": detail(layer),
               "output": [d for d in layer.output.shape[1:]], "params": int(layer.count_params())}
              for layer in model.layers]
    return {"input": list(model.inputs[0].shape[1:]), "params": int(model.count_params()), "layers": layers}


def digits(tiny: bool, size: int = 8, rgb: bool = False, seed: int = 0):
    """scikit-learn's bundled 8x8 digits (no download), split 70/30 with a fixed
    seed, float32 in 0..1, optionally resized (bilinear) and tinted to RGB.
    Returns (x_train, y_train, x_test, y_test)."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    if size != 8:
        import tensorflow as tf
        x = tf.image.resize(x, (size, size), method="bilinear").numpy()
    if rgb:
        x = x * np.array(DIGIT_TINT, dtype="float32")
    xtr, xte, ytr, yte = train_test_split(x, data.target, test_size=0.3, random_state=seed, stratify=data.target)
    if tiny:
        xtr, ytr = xtr[:600], ytr[:600]
    return xtr, ytr, xte, yte


DIGIT_TINT = (1.0, 0.55, 0.15)   # digits drawn orange-ish, so channel order matters


def small_cnn(input_shape, classes: int = 10, seed: int = 0):
    """The small Keras CNN the demos train."""
    import keras
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(classes),
    ])


def compile_classifier(model, learning_rate: float = 1e-3):
    import keras
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def run_demo(demo_file: Path, params: dict, tiny: bool, workdir: Path, code_hash: str) -> dict:
    from .workspace import import_file
    module = import_file(demo_file, "demos")
    p = module.Params.model_validate(params)
    ctx = DemoContext(tiny, workdir)
    started = time.time()
    module.run(p, ctx)
    return {
        "schema": "bilicast.result/1", "demo": demo_file.stem, "params": p.model_dump(), "tiny": tiny,
        "metrics": ctx.metrics, "timings": ctx.timings, "series": ctx.series, "notes": ctx.notes,
        "artifacts": ctx.artifacts, "models": ctx.models,
        "provenance": {
            **library_versions(), "platform": platform.platform(), "cpu": cpu_model(),
            "cores": os.cpu_count() or 1, "accelerator": accelerator(), "machine": socket.gethostname(),
            "node": os.environ.get("BILICAST_NODE") or None,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "code_hash": code_hash, "duration_s": round(time.time() - started, 2),
        },
    }


def main() -> None:
    """Worker: `python -m bilicast.demokit DEMO_FILE PARAMS_JSON OUT_JSON WORKDIR CODE_HASH [--tiny]`."""
    ap = argparse.ArgumentParser()
    ap.add_argument("demo_file")
    ap.add_argument("params")
    ap.add_argument("out")
    ap.add_argument("workdir")
    ap.add_argument("code_hash")
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = run_demo(Path(a.demo_file), json.loads(a.params), a.tiny, Path(a.workdir), a.code_hash)
    Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
