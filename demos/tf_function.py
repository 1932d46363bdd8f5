"""Eager loop vs @tf.function for the same training step: step time, and
process memory over N steps, plus the classic pitfall of passing a changing
Python number into a tf.function (it retraces every call, slowing down and
growing memory)."""
import os
import time
from pathlib import Path

from pydantic import Field

from bilicast.demokit import DemoParams, digits, small_cnn, summarize


class Params(DemoParams):
    steps: int = Field(300, ge=10, le=100_000)
    batch_size: int = Field(64, ge=1, le=4096)


TINY = {"steps": 40}


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def run(p: Params, ctx):
    import keras
    import numpy as np
    import tensorflow as tf

    xtr, ytr, _, _ = digits(ctx.tiny)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def make_step():
        model = small_cnn(xtr.shape[1:])
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)

        def step(x, y, scale=1.0):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True)) * scale
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return step

    rng = np.random.default_rng(0)
    batches = [(tf.constant(xtr[idx]), tf.constant(ytr[idx]))
               for idx in (rng.choice(len(xtr), p.batch_size) for _ in range(64))]
    warmup = 3 if ctx.tiny else 10
    modes = {
        "eager": (make_step(), False),
        "graph": (tf.function(make_step()), False),
        # Pitfall: a Python float that changes each call is part of the trace key.
        "retrace": (tf.function(make_step()), True),
    }
    for name, (step, changing_python_arg) in modes.items():
        ctx.step(f"{p.steps} training steps, {name}")
        for i in range(warmup):
            step(*batches[i % len(batches)])
        before = rss_mb()
        times = []
        for i in range(p.steps):
            x, y = batches[i % len(batches)]
            t = time.perf_counter()
            loss = step(x, y, 1.0 + i * 1e-6) if changing_python_arg else step(x, y)
            loss.numpy()   # wait for the step to finish
            times.append((time.perf_counter() - t) * 1000)
        ctx.metric(f"{name}.rss_growth_mb", rss_mb() - before, "MB")
        ctx.timings[f"{name}.step"] = summarize(times, warmup, threads=os.cpu_count() or 1)
        if hasattr(step, "experimental_get_tracing_count"):
            ctx.metric(f"{name}.traces", step.experimental_get_tracing_count(), "traces")
    ctx.metric("graph.speedup", ctx.timings["eager.step"]["median"] / ctx.timings["graph.step"]["median"], "x")
    ctx.metric("retrace.slowdown", ctx.timings["retrace.step"]["median"] / ctx.timings["graph.step"]["median"], "x")
    ctx.metric("steps", p.steps, "steps")
