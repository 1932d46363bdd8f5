"""你以为的准确率95%，其实是数据泄露: train with one preprocessing pipeline,
then evaluate (a) through a serving signature that carries the same
tf.image pipeline inside the exported model, and (b) with the hand-written
pipelines people write at serving time: nearest-neighbour resize, scaling to
0..1 but forgetting the mean/std step used in training, OpenCV's BGR channel
order, and all three together."""
import numpy as np
from pydantic import Field

from bilicast.demokit import DemoParams, compile_classifier, digits, small_cnn


class Params(DemoParams):
    epochs: int = Field(10, ge=1, le=200)
    model_size: int = Field(32, ge=8, le=128)


TINY = {"epochs": 4}


def hand_written(raw: np.ndarray, size: int, resize="bilinear", center=True, bgr=False) -> np.ndarray:
    """Serving-side preprocessing written by hand in NumPy, the way it often is."""
    x = raw.astype("float32")
    if resize == "nearest":
        factor = size // raw.shape[1]
        x = x.repeat(factor, axis=1).repeat(factor, axis=2)
    else:
        import tensorflow as tf
        x = tf.image.resize(x, (size, size), method="bilinear").numpy()
    x = x / 255.0
    if center:
        x = (x - 0.5) / 0.5
    if bgr:
        x = x[..., ::-1]
    return x


def run(p: Params, ctx):
    import keras
    import tensorflow as tf

    ctx.step("preparing camera-style uint8 RGB digits")
    xtr, ytr, xte, yte = digits(ctx.tiny, size=8, rgb=True)
    raw_train = np.round(xtr * 255).astype("uint8")   # what a camera/decoder hands you
    raw_test = np.round(xte * 255).astype("uint8")

    def training_pipeline(x):
        x = tf.image.resize(tf.cast(x, tf.float32), (p.model_size, p.model_size), method="bilinear")
        return (x / 255.0 - 0.5) / 0.5   # to [-1, 1], as MobileNet-style models expect

    ctx.step("training on the tf.image pipeline")
    core = compile_classifier(small_cnn((p.model_size, p.model_size, 3)))
    core.fit(training_pipeline(raw_train).numpy(), ytr, epochs=p.epochs, batch_size=32, verbose=0)

    ctx.step("exporting a serving signature with the pipeline inside")
    archive = keras.export.ExportArchive()
    archive.track(core)
    archive.add_endpoint("serve", lambda x: core(training_pipeline(x), training=False),
                         input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.uint8)])
    serving_dir = ctx.workdir / "serving_model"
    archive.write_out(str(serving_dir), verbose=False)
    served = tf.saved_model.load(str(serving_dir))

    def acc(logits):
        return float(np.mean(np.argmax(np.asarray(logits), axis=1) == yte))

    consistent = ctx.metric("consistent.acc", acc(served.serve(tf.constant(raw_test))), "ratio")
    skews = {
        "nearest_resize": dict(resize="nearest"),
        "forgot_mean_std": dict(center=False),
        "bgr_order": dict(bgr=True),
        "opencv_style": dict(resize="nearest", center=False, bgr=True),
    }
    worst = 0.0
    for name, kwargs in skews.items():
        ctx.step(f"evaluating the hand-written pipeline: {name}")
        a = ctx.metric(f"{name}.acc", acc(core.predict(hand_written(raw_test, p.model_size, **kwargs), verbose=0)),
                       "ratio")
        worst = max(worst, ctx.metric(f"{name}.drop", consistent - a, "ratio"))
    ctx.metric("worst.drop", worst, "ratio")
    ctx.metric("test.samples", len(yte), "images")
