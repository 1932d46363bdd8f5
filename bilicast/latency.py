"""LiteRT latency that holds still from run to run.

One run of a small model's invoke takes ~0.02–0.05 ms, mostly Python call
overhead, and one process's numbers drift with where its memory landed, so a
single timing loop in one process gave medians that moved 20–70 % between
runs. The method here (docs/latency.md):

1. Every variant (model file × thread count) is loaded in each of PROCESSES
   fresh worker processes (`python -m bilicast.latency`, no TensorFlow import).
2. In a worker, each variant is warmed up (the TFLite benchmark tool's
   WARMUP runs), then timed in batches of k invokes, k chosen so one sample
   takes at least MIN_SAMPLE_MS and about as long as one invoke of the
   slowest variant; a sample is the batch's time / k.
3. Variants are interleaved, A B C D A B C D …, so drift hits all of them
   alike, until each has at least MIN_RUNS samples and MIN_SECONDS of timing.
4. The reported median is the median of the process medians, with a 95 %
   confidence interval from a two-level bootstrap (resample processes, then
   samples within each).
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time

PROCESSES = 3
WARMUP, MIN_RUNS, MIN_SECONDS, MIN_SAMPLE_MS = 10, 50, 1.0, 1.0
TINY = {"warmup": 3, "min_runs": 10, "min_seconds": 0.05, "min_sample_ms": 1.0}
BOOTSTRAP_ROUNDS = 2000


def bootstrap_ci(groups: list[list[float]], rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the median of group medians: resample the groups,
    then the samples within each chosen group."""
    import numpy as np
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(g, dtype=float) for g in groups]
    estimates = np.empty(rounds)
    for r in range(rounds):
        chosen = rng.integers(len(arrays), size=len(arrays))
        estimates[r] = np.median([np.median(arrays[i][rng.integers(len(arrays[i]), size=len(arrays[i]))])
                                  for i in chosen])
    low, high = np.percentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def describe(samples_ms: list[float]) -> dict:
    """Count, median, p90, min, max, mean and stdev of samples (ms)."""
    ordered = sorted(samples_ms)
    return {
        "unit": "ms", "samples": len(ordered),
        "median": statistics.median(ordered), "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "min": ordered[0], "max": ordered[-1], "mean": statistics.fmean(ordered),
        "stdev": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
    }


def summarize_processes(per_process: list[dict], warmup: int, threads: int) -> dict:
    """A result timing from the workers' samples of one variant: statistics of
    all samples, but the median is the median of the process medians."""
    groups = [p["samples"] for p in per_process]
    medians = [statistics.median(g) for g in groups]
    low, high = bootstrap_ci(groups)
    return {
        **describe([s for g in groups for s in g]), "warmup": warmup, "median": statistics.median(medians),
        "threads": threads, "init_ms": statistics.median(p["init_ms"] for p in per_process),
        "ci_low": low, "ci_high": high, "processes": len(per_process), "process_medians": medians,
        "batch": max(p["batch"] for p in per_process), "interleaved": True,
    }


def measure(variants: list[dict], tiny: bool, progress=None) -> dict:
    """variants: [{"name", "model" (path), "threads", "input" (.npy path)}].
    Returns {name: timing} (see summarize_processes)."""
    settings = TINY if tiny else {"warmup": WARMUP, "min_runs": MIN_RUNS, "min_seconds": MIN_SECONDS,
                                  "min_sample_ms": MIN_SAMPLE_MS}
    spec = json.dumps({"variants": variants, **settings})
    runs = []
    for i in range(PROCESSES):
        if progress:
            progress(f"timing {len(variants)} variants, interleaved, process {i + 1}/{PROCESSES}")
        proc = subprocess.run([sys.executable, "-m", "bilicast.latency"], input=spec, capture_output=True,
                              text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode != 0:
            raise RuntimeError(f"latency worker failed:\n{proc.stderr[-2000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {v["name"]: summarize_processes([run[v["name"]] for run in runs], settings["warmup"], v["threads"])
            for v in variants}


def _per_invoke_ms(invoke, at_least_s: float = 0.02) -> float:
    """One invoke's time, from a batch doubled until it lasts at_least_s (a
    threaded model's first few invokes after warm-up still wake its threads)."""
    k = 1
    while True:
        started = time.perf_counter()
        for _ in range(k):
            invoke()
        seconds = time.perf_counter() - started
        if seconds >= at_least_s:
            return seconds * 1000 / k
        k *= 2


def _worker(spec: dict) -> dict:
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    loaded = []
    for v in spec["variants"]:
        started = time.perf_counter()
        interpreter = Interpreter(model_path=v["model"], num_threads=v["threads"])
        interpreter.allocate_tensors()
        init_ms = (time.perf_counter() - started) * 1000
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.load(v["input"]))
        invoke = interpreter.invoke
        for _ in range(spec["warmup"]):
            invoke()
        loaded.append((v["name"], invoke, _per_invoke_ms(invoke), init_ms, interpreter))
    # Every sample of every variant takes about the same time (at least
    # min_sample_ms, and one invoke of the slowest variant), so in each round
    # all variants get equal time and all reach min_seconds together.
    target_ms = max(spec["min_sample_ms"], max(once for _, _, once, _, _ in loaded))
    loaded = [(name, invoke, max(1, math.ceil(1.5 * target_ms / once)), init_ms, interpreter)
              for name, invoke, once, init_ms, interpreter in loaded]
    samples = {name: [] for name, *_ in loaded}
    spent = {name: 0.0 for name, *_ in loaded}
    while any(len(samples[n]) < spec["min_runs"] or spent[n] < spec["min_seconds"] for n, *_ in loaded):
        for name, invoke, batch, _, _ in loaded:   # one round: every variant once, in turn
            started = time.perf_counter()
            for _ in range(batch):
                invoke()
            seconds = time.perf_counter() - started
            samples[name].append(seconds * 1000 / batch)
            spent[name] += seconds
    return {name: {"samples": samples[name], "batch": batch, "init_ms": init_ms}
            for name, _, batch, init_ms, _ in loaded}


if __name__ == "__main__":
    from .lifeline import die_with_parent
    die_with_parent()
    print(json.dumps(_worker(json.loads(sys.stdin.read()))))
