"""按钮一按，模型开始自我进化: a continuous-training pipeline, run for real in
plain TensorFlow/Keras. The stages carry the names of TFX's components
(ExampleGen, StatisticsGen/ExampleValidator, Trainer, Evaluator, Pusher); the
TFX library itself is not used (it does not support this TensorFlow).

1. ExampleGen: scikit-learn's digits, split into the slice the first model is
   trained on and a later slice of other images. The later slice arrives
   shifted, made here: rotated, strokes thickened, noise added. It is run
   twice: a large shift, and one too small to matter.
2. StatisticsGen/ExampleValidator: per-pixel histograms of the training slice;
   the drift of a new slice is the Jensen-Shannon divergence of each pixel's
   histogram from the training one, averaged over pixels, and is flagged above
   `drift_threshold`. The same measure between the training slice and its
   own held-out part is the noise floor (`reference.drift.score`).
3. Trainer: warm start from the serving model's weights, trained on the old
   and new slices together.
4. Evaluator: blesses the candidate only if it beats the serving model on a
   held-out mix of both slices by `margin` and loses at most `tolerance` on
   the old slice.
5. Pusher: a blessed candidate is written as a SavedModel and a TFLite file,
   as the next version.
"""
import time

from pydantic import BaseModel, ConfigDict, Field

from bilicast.demokit import DemoParams, compile_classifier, small_cnn


class Shift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    angle: float = Field(ge=0, le=90, description="largest rotation, degrees (each image gets its own)")
    thicken: bool = False
    noise: float = Field(0.0, ge=0, le=1, description="standard deviation of added Gaussian noise")


class Params(DemoParams):
    image_size: int = Field(16, ge=8, le=64)
    epochs: int = Field(15, ge=1, le=200)
    retrain_epochs: int = Field(10, ge=1, le=200)
    drift_threshold: float = Field(0.03, gt=0, le=1)
    margin: float = Field(0.01, ge=0, le=1)
    tolerance: float = Field(0.02, ge=0, le=1)
    large: Shift = Shift(angle=25, thicken=True, noise=0.15)
    small: Shift = Shift(angle=3, noise=0.01)
    seed: int = 0


TINY = {"image_size": 8, "epochs": 4, "retrain_epochs": 2}
BINS = 10


def shifted(x, shift: Shift, seed: int):
    """The new slice as it arrives: each image rotated by its own angle,
    optionally thickened (grey dilation), plus noise; values stay in 0..1."""
    import numpy as np
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    out = np.empty_like(x)
    for i, image in enumerate(x[..., 0]):
        image = ndimage.rotate(image, rng.uniform(-shift.angle, shift.angle), reshape=False, order=1)
        if shift.thicken:
            image = ndimage.grey_dilation(image, size=(2, 2))
        out[i, ..., 0] = image
    out += rng.normal(0, shift.noise, out.shape).astype(out.dtype) if shift.noise else 0
    return np.clip(out, 0, 1)


def pixel_histograms(x):
    """StatisticsGen: a BINS-bin histogram of every pixel over 0..1, as probabilities."""
    import numpy as np
    flat = x.reshape(len(x), -1)
    index = np.minimum((flat * BINS).astype(int), BINS - 1)
    hist = np.stack([np.bincount(index[:, j], minlength=BINS) for j in range(flat.shape[1])]).astype(float)
    return (hist + 0.5) / (hist + 0.5).sum(axis=1, keepdims=True)   # smoothed: no empty bins


def drift(reference, current, threshold: float) -> tuple[float, int, float]:
    """ExampleValidator: each pixel's Jensen-Shannon divergence (base 2, 0..1)
    from the training histogram; returns (mean over pixels, pixels over the
    threshold, largest)."""
    from scipy.spatial.distance import jensenshannon
    divergences = jensenshannon(reference, current, axis=1, base=2) ** 2
    return float(divergences.mean()), int((divergences > threshold).sum()), float(divergences.max())


def predict(model, x):
    import numpy as np
    # one direct call: these sets are small, and predict() would trace a function for each model
    return np.argmax(model(x, training=False).numpy(), axis=1)


def accuracy(model, x, y) -> float:
    import numpy as np
    return float(np.mean(predict(model, x) == y))


def confusion(model, x, y) -> list[list[int]]:
    """Rows: the true digit; columns: what the model said."""
    import numpy as np
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (y, predict(model, x)), 1)
    return counts.tolist()


def run(p: Params, ctx):
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    import tensorflow as tf

    # -- ExampleGen: two slices of different images ---------------------------
    ctx.step("ExampleGen: splitting digits into the first slice and a later one")
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    if p.image_size != 8:
        x = tf.image.resize(x, (p.image_size, p.image_size), method="bilinear").numpy()
    order = np.random.default_rng(p.seed).permutation(len(x))
    x, y = x[order], data.target[order]
    half = len(x) // 2
    old_x, old_y, new_x, new_y = x[:half], y[:half], x[half:], y[half:]

    def split(a, b):   # 70 % train, 30 % held out
        cut = int(len(a) * 0.7)
        return a[:cut], b[:cut], a[cut:], b[cut:]

    old_tr_x, old_tr_y, old_te_x, old_te_y = split(old_x, old_y)
    ctx.metric("old.samples", len(old_x), "images")
    ctx.metric("new.samples", len(new_x), "images")
    ctx.metric("drift.threshold", p.drift_threshold, "JS")
    ctx.metric("evaluator.margin", p.margin, "ratio")
    ctx.metric("evaluator.tolerance", p.tolerance, "ratio")

    # -- the model in service ------------------------------------------------------
    ctx.step(f"Trainer: the first model, {p.epochs} epochs on the first slice")
    started = time.perf_counter()
    serving = compile_classifier(small_cnn(x.shape[1:], seed=p.seed))
    serving.fit(old_tr_x, old_tr_y, epochs=p.epochs, batch_size=32, verbose=0)
    ctx.metric("base.train.seconds", time.perf_counter() - started, "s")
    ctx.model("cnn", serving)
    ctx.metric("base.acc", accuracy(serving, old_te_x, old_te_y), "ratio")
    stats = pixel_histograms(old_tr_x)
    ctx.metric("reference.drift.score", drift(stats, pixel_histograms(old_te_x), p.drift_threshold)[0], "JS")

    # The two shifts are two separate stories, each starting from the model in service.
    for k, (name, shift) in enumerate((("large", p.large), ("small", p.small))):
        ctx.step(f"a new slice arrives ({name} shift); validate, retrain, evaluate, push")
        arrived = shifted(new_x, shift, p.seed + 1 + k)
        new_tr_x, new_tr_y, new_te_x, new_te_y = split(arrived, new_y)

        started = time.perf_counter()
        score, over, worst = drift(stats, pixel_histograms(new_tr_x), p.drift_threshold)
        ctx.metric(f"{name}.validate.seconds", time.perf_counter() - started, "s")
        ctx.metric(f"{name}.drift.score", score, "JS")
        ctx.metric(f"{name}.drift.pixels_over", over, "pixels")
        ctx.metric(f"{name}.drift.worst", worst, "JS")
        ctx.metric(f"{name}.drift.detected", score > p.drift_threshold, "flag")
        ctx.metric(f"{name}.old_on_old.acc", accuracy(serving, old_te_x, old_te_y), "ratio")
        ctx.metric(f"{name}.old_on_new.acc", accuracy(serving, new_te_x, new_te_y), "ratio")

        # Trainer: warm start from the serving weights, old and new slices together.
        started = time.perf_counter()
        candidate = keras.models.clone_model(serving)
        candidate.set_weights(serving.get_weights())
        compile_classifier(candidate, learning_rate=5e-4)
        keras.utils.set_random_seed(p.seed + 10 + k)
        history = candidate.fit(np.concatenate([old_tr_x, new_tr_x]), np.concatenate([old_tr_y, new_tr_y]),
                                epochs=p.retrain_epochs, batch_size=32, verbose=0, shuffle=True)
        ctx.metric(f"{name}.train.seconds", time.perf_counter() - started, "s")
        ctx.series[f"{name}.train.loss"] = [float(v) for v in history.history["loss"]]
        ctx.series[f"{name}.old_on_new.confusion"] = confusion(serving, new_te_x, new_te_y)
        ctx.series[f"{name}.new_on_new.confusion"] = confusion(candidate, new_te_x, new_te_y)

        # Evaluator: the held-out mix decides; the old slice must not regress.
        started = time.perf_counter()
        mix_x, mix_y = np.concatenate([old_te_x, new_te_x]), np.concatenate([old_te_y, new_te_y])
        baseline, challenger = accuracy(serving, mix_x, mix_y), accuracy(candidate, mix_x, mix_y)
        new_on_old = accuracy(candidate, old_te_x, old_te_y)
        ctx.metric(f"{name}.new_on_new.acc", accuracy(candidate, new_te_x, new_te_y), "ratio")
        ctx.metric(f"{name}.new_on_old.acc", new_on_old, "ratio")
        ctx.metric(f"{name}.old_on_mix.acc", baseline, "ratio")
        ctx.metric(f"{name}.new_on_mix.acc", challenger, "ratio")
        ctx.metric(f"{name}.mix.acc_change", challenger - baseline, "ratio")
        ctx.metric(f"{name}.old.acc_change", new_on_old - ctx.metrics[f"{name}.old_on_old.acc"]["value"], "ratio")
        beats = challenger >= baseline + p.margin
        keeps_old = new_on_old >= ctx.metrics[f"{name}.old_on_old.acc"]["value"] - p.tolerance
        ctx.metric(f"{name}.blessed", beats and keeps_old, "flag")
        ctx.metric(f"{name}.evaluate.seconds", time.perf_counter() - started, "s")
        ctx.note(f"{name} shift: drift {score:.3f} (threshold {p.drift_threshold}), held-out mix "
                 f"{baseline:.3f} -> {challenger:.3f}, old slice -> {new_on_old:.3f}: "
                 f"{'blessed' if beats and keeps_old else 'rejected'}")

        # Pusher: only a blessed model becomes the next version.
        if beats and keeps_old:
            started = time.perf_counter()
            version = ctx.workdir / "serving" / name / "v2"
            candidate.export(str(version / "saved_model"), verbose=False)
            tflite = tf.lite.TFLiteConverter.from_saved_model(str(version / "saved_model")).convert()
            (version / "model.tflite").write_bytes(tflite)
            ctx.metric(f"{name}.push.seconds", time.perf_counter() - started, "s")
            ctx.metric(f"{name}.push.size_mb", len(tflite) / 1e6, "MB")
            ctx.artifacts[f"{name}.pushed"] = str(version)
