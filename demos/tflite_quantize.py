"""三步把Keras模型塞进手机: train a small CNN on scikit-learn's digits, export a
SavedModel, convert it to TFLite as float32, dynamic-range, float16 and full
int8, and measure each variant's file size, test accuracy and LiteRT latency
(1 thread and all cores). MobileNetV2 with random weights gives the size and
latency of a realistic phone model."""
import os
import time

from pydantic import Field

from bilicast.demokit import DemoParams, compile_classifier, digits, small_cnn


class Params(DemoParams):
    epochs: int = Field(8, ge=1, le=200)
    image_size: int = Field(32, ge=8, le=128)
    calibration_samples: int = Field(200, ge=10, le=2000)
    mobilenet: bool = True
    mobilenet_size: int = Field(224, ge=32, le=512)
    mobilenet_alpha: float = Field(1.0, gt=0, le=1.4)


TINY = {"epochs": 2, "calibration_samples": 50, "mobilenet_size": 96, "mobilenet_alpha": 0.35}
VARIANTS = ("fp32", "dynamic", "fp16", "int8")


def convert(saved_model: str, variant: str, calibration):
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if variant != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def make_interpreter(path, threads):
    from ai_edge_litert.interpreter import Interpreter
    started = time.perf_counter()
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter, (time.perf_counter() - started) * 1000


def to_input(x, detail):
    """Quantize a float input for an int8 model; pass floats through."""
    import numpy as np
    if detail["dtype"] == np.int8:
        scale, zero = detail["quantization"]
        return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    return x.astype(detail["dtype"])


def accuracy(path, x, y):
    import numpy as np
    interpreter, _ = make_interpreter(path, 1)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    correct = 0
    for i in range(len(x)):
        interpreter.set_tensor(inp["index"], to_input(x[i:i + 1], inp))
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(out["index"])[0]) == y[i])
    return correct / len(x)


def latency_variants(name, path, sample, workdir):
    """What bilicast.latency times for one model: at 1 thread and at all
    cores, with its input saved beside it (quantized for an int8 model)."""
    import numpy as np
    interpreter, _ = make_interpreter(path, 1)
    inp = workdir / f"{name}.input.npy"
    np.save(inp, to_input(sample, interpreter.get_input_details()[0]))
    cores = os.cpu_count() or 1
    return [{"name": f"{name}.latency_{'1t' if threads == 1 else 'all'}", "model": str(path), "threads": threads,
             "input": str(inp)} for threads in sorted({1, cores})]


def run(p: Params, ctx):
    import numpy as np

    ctx.step("loading digits and training the CNN")
    xtr, ytr, xte, yte = digits(ctx.tiny, size=p.image_size)
    model = compile_classifier(small_cnn(xtr.shape[1:]))
    started = time.perf_counter()
    model.fit(xtr, ytr, epochs=p.epochs, batch_size=32, verbose=0)
    ctx.metric("train.seconds", time.perf_counter() - started, "s")
    ctx.metric("keras.acc", model.evaluate(xte, yte, verbose=0)[1], "ratio")
    ctx.model("digits", model)
    ctx.metric("test.samples", len(xte), "images")

    saved = ctx.workdir / "saved_model"
    model.export(str(saved), verbose=False)
    calibration = xtr[:p.calibration_samples]
    sizes, timed = {}, []
    for variant in VARIANTS:
        ctx.step(f"converting and measuring {variant}")
        path = ctx.workdir / f"digits_{variant}.tflite"
        path.write_bytes(convert(str(saved), variant, calibration))
        ctx.artifacts[f"tflite.{variant}"] = str(path)
        sizes[variant] = ctx.metric(f"{variant}.size_mb", path.stat().st_size / 1e6, "MB")
        ctx.metric(f"{variant}.size_kb", path.stat().st_size / 1e3, "KB")
        ctx.metric(f"{variant}.acc", accuracy(path, xte, yte), "ratio")
        timed += latency_variants(variant, path, xte[:1], ctx.workdir)

    # The int8 model's input quantization (scale, zero point), read back from
    # the converted file, and a few real pixel values of a test image to map.
    interpreter, _ = make_interpreter(ctx.workdir / "digits_int8.tflite", 1)
    scale, zero_point = interpreter.get_input_details()[0]["quantization"]
    ctx.metric("int8.input.scale", scale, "scale")
    ctx.metric("int8.input.zero_point", zero_point, "int")
    pixels = np.unique(np.round(xte[0].ravel(), 4))
    ctx.series["int8.input.sample"] = [float(v) for v in np.quantile(pixels, [0, 0.3, 0.55, 0.8, 1.0],
                                                                      method="nearest")]

    ctx.metric("int8.size_ratio", sizes["fp32"] / sizes["int8"], "x")
    ctx.metric("int8.size_saving", 1 - sizes["int8"] / sizes["fp32"], "ratio")
    ctx.metric("int8.acc_change", ctx.metrics["int8.acc"]["value"] - ctx.metrics["fp32.acc"]["value"], "ratio")
    if p.mobilenet:
        import keras
        ctx.step(f"MobileNetV2 {p.mobilenet_size}x{p.mobilenet_size} alpha {p.mobilenet_alpha} (random weights)")
        keras.utils.set_random_seed(0)
        net = keras.applications.MobileNetV2(weights=None, input_shape=(p.mobilenet_size, p.mobilenet_size, 3),
                                             alpha=p.mobilenet_alpha)
        ctx.metric("mobilenet.params_m", net.count_params() / 1e6, "M")
        saved = ctx.workdir / "mobilenet_saved"
        net.export(str(saved), verbose=False)
        rng = np.random.default_rng(0)
        calib = rng.random((8, p.mobilenet_size, p.mobilenet_size, 3), dtype=np.float32)
        big = []
        for variant in ("fp32", "int8"):
            path = ctx.workdir / f"mobilenet_{variant}.tflite"
            path.write_bytes(convert(str(saved), variant, calib))
            big.append(path)
            ctx.metric(f"mobilenet.{variant}.size_mb", path.stat().st_size / 1e6, "MB")
            timed += latency_variants(f"mobilenet.{variant}", path, calib[:1], ctx.workdir)
        import shutil
        shutil.rmtree(saved)
        ctx.metric("mobilenet.int8.size_ratio", ctx.metrics["mobilenet.fp32.size_mb"]["value"]
                   / ctx.metrics["mobilenet.int8.size_mb"]["value"], "x")

    # All variants are timed together, interleaved, in fresh processes (bilicast/latency.py).
    timings = ctx.time_models(timed)
    for name, timing in timings.items():
        ctx.metric(name.replace(".latency_", ".fps_"), 1000 / timing["median"], "fps")
    ctx.metric("int8.speedup_1t", timings["fp32.latency_1t"]["median"] / timings["int8.latency_1t"]["median"], "x")
    for prefix in ("", "mobilenet."):
        fp32, int8 = timings.get(f"{prefix}fp32.latency_1t"), timings.get(f"{prefix}int8.latency_1t")
        if fp32 and int8 and int8["ci_low"] > fp32["ci_high"]:
            ctx.note(f"{prefix}int8 is slower than float32 on this CPU at 1 thread "
                     f"({int8['median']:.4f} ms vs {fp32['median']:.4f} ms, 95% intervals apart)")
    if p.mobilenet:
        for path in big:
            path.unlink()   # large; the numbers are what we keep
