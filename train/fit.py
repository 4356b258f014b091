"""Train one model on one arm with one seed, select the best epoch on validation, evaluate on test."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from expander.errors import require
from train.data import Sample, make_dataset
from train.metrics import classification_metrics


@dataclass(frozen=True)
class FitConfig:
    model: str = "smallnet"
    image_size: int = 64
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    early_stopping: int | None = None  # patience in epochs; None trains all epochs
    class_weight: str = "none"  # or "balanced"
    monitor: str = "val_loss"  # or "val_accuracy": what picks the best epoch (and stops early)

    def to_dict(self) -> dict:
        return asdict(self)


TENSORFLOW_LOG = False  # the train CLI's --verbose: show TensorFlow's start-up log


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up log (oneDNN, CUDA probing) kept off stderr, unless TENSORFLOW_LOG.

    TensorFlow 2.16+ logs through absl before TF_CPP_MIN_LOG_LEVEL applies, so the only way to keep a
    user's terminal clean is to point file descriptor 2 elsewhere while it starts; later messages,
    warnings and errors reach stderr as usual.
    """
    require("train", "train", "tensorflow", "matplotlib", "scipy")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if TENSORFLOW_LOG or "tensorflow" in sys.modules:
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe logs on first use
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def fit_one(
    train: tuple[Sample, ...],
    val: tuple[Sample, ...],
    test: tuple[Sample, ...],
    classes: tuple[str, ...],
    config: FitConfig,
    seed: int,
    channels: int,
    on_epoch: Callable[[int, dict], None] | None = None,
):
    """Returns (model, record) where record holds history, best epoch and test metrics."""
    quiet_tensorflow()
    import keras
    import tensorflow as tf

    from train.models import create_model

    tf.get_logger().setLevel("ERROR")  # one model per run retraces predict; the warning says nothing useful here
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    size = (config.image_size, config.image_size)
    train_ds = make_dataset(train, size, channels, config.batch_size, shuffle_seed=seed)
    val_ds = make_dataset(val, size, channels, config.batch_size)
    test_ds = make_dataset(test, size, channels, config.batch_size)

    model = create_model(config.model, (config.image_size, config.image_size, channels), len(classes))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor=config.monitor, patience=config.early_stopping or config.epochs, restore_best_weights=True
    )
    timer = _epoch_timer(len(train), on_epoch)
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=_class_weights(train, len(classes)) if config.class_weight == "balanced" else None,
        callbacks=[timer, stopper],
        shuffle=False,  # the tf.data pipeline shuffles, with the run's seed
        verbose=0,
    )
    epochs = [
        {
            "epoch": i + 1,
            **{k: float(v[i]) for k, v in history.history.items()},
            "gap": float(history.history["accuracy"][i] - history.history["val_accuracy"][i]),
            **timer.timings[i],
        }
        for i in range(len(history.history["loss"]))
    ]
    probabilities = model.predict(test_ds, verbose=0)
    y_true = np.array([s.label for s in test])
    record = {
        "seed": seed,
        "train_images": len(train),
        "best_epoch": int(stopper.best_epoch) + 1,
        "epochs_run": len(epochs),
        "history": epochs,
        "test": classification_metrics(y_true, probabilities, len(classes)),
        "seconds_per_epoch": float(np.mean([e["seconds"] for e in epochs])),
        "images_per_s": float(np.mean([e["images_per_s"] for e in epochs])),
    }
    return model, record


def _class_weights(train: tuple[Sample, ...], classes: int) -> dict[int, float]:
    counts = np.bincount([s.label for s in train], minlength=classes)
    return {c: float(len(train) / (classes * n)) if n else 0.0 for c, n in enumerate(counts)}


def _epoch_timer(images: int, on_epoch):
    """Keras callback recording wall time and images/s per epoch, forwarded to ``on_epoch``."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.timings: list[dict] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._start
            self.timings.append({"seconds": seconds, "images_per_s": images / seconds if seconds else 0.0})
            if on_epoch:
                on_epoch(epoch + 1, dict(logs or {}))

    return EpochTimer()
