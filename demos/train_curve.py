"""Training time per epoch, loss/accuracy curves, a confusion matrix on held-out
data, and a TensorBoard log directory, for the small CNN on digits."""
import os
import time

from pydantic import Field

from bilicast.demokit import DemoParams, compile_classifier, digits, small_cnn, summarize


class Params(DemoParams):
    epochs: int = Field(12, ge=2, le=500)
    image_size: int = Field(16, ge=8, le=128)


TINY = {"epochs": 3}


def run(p: Params, ctx):
    import keras
    import numpy as np

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    seconds = []
    xtr, ytr, xte, yte = digits(ctx.tiny, size=p.image_size)
    logs = ctx.workdir / "tensorboard"
    model = compile_classifier(small_cnn(xtr.shape[1:]))
    ctx.step(f"training {p.epochs} epochs with TensorBoard logging")
    history = model.fit(xtr, ytr, validation_split=0.2, epochs=p.epochs, batch_size=32, verbose=0,
                        callbacks=[EpochTimer(), keras.callbacks.TensorBoard(log_dir=str(logs), histogram_freq=1)])
    ctx.artifacts["tensorboard"] = str(logs)
    for key, name in [("loss", "train.loss"), ("accuracy", "train.acc"), ("val_loss", "val.loss"),
                      ("val_accuracy", "val.acc")]:
        ctx.series[name] = [float(v) for v in history.history[key]]
    ctx.series["epoch.seconds"] = seconds
    ctx.metric("train.seconds", sum(seconds), "s")
    ctx.metric("epoch.first_s", seconds[0], "s")   # includes graph tracing
    ctx.timings["epoch.time"] = summarize([s * 1000 for s in seconds[1:]], warmup=1, threads=os.cpu_count() or 1)

    predicted = np.argmax(model.predict(xte, verbose=0), axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    for truth, guess in zip(yte, predicted):
        confusion[truth, guess] += 1
    ctx.series["confusion"] = confusion.tolist()
    ctx.metric("test.acc", float(np.mean(predicted == yte)), "ratio")
    per_class = confusion.diagonal() / confusion.sum(axis=1)
    worst = int(np.argmin(per_class))
    ctx.metric("worst.digit", worst, "digit")
    ctx.metric("worst.acc", float(per_class[worst]), "ratio")
    ctx.metric("final.val_acc", ctx.series["val.acc"][-1], "ratio")
