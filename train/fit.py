"""Train one model on one arm with one seed, select the best epoch on validation, evaluate on test."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from expander.augment import Augmenter
from expander.errors import require
from expander.pipeline import preset_dict, scaled_pipeline
from expander.tf_setup import tensorflow_defaults
from train.batches import Mixing, TrainBatches
from train.data import Sample, load_pixels
from train.metrics import classification_metrics
from train.models import create_model


@dataclass(frozen=True)
class FitConfig:
    """Everything that decides a training run besides its data and seed (a study store keys runs by it)."""

    model: str = "resnet"
    image_size: int = 64
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    early_stopping: int | None = None  # patience in epochs; None trains all epochs
    class_weight: str = "none"  # or "balanced"
    monitor: str = "val_loss"  # or "val_accuracy": what picks the best epoch (and stops early)
    schedule: str = "cosine"  # or "constant"
    warmup: int = 2  # epochs of linear learning-rate warm-up
    weight_decay: float = 0.05  # AdamW's decoupled decay (not on batch-norm weights and biases)
    label_smoothing: float = 0.1
    mixup: float = 0.0  # Beta(a, a) of MixUp; 0 is off
    cutmix: float = 0.0  # Beta(a, a) of CutMix; 0 is off
    online: str | None = None  # a preset applied on the fly to every training image, every epoch
    online_magnitude: float = 1.0  # its strength ranges scaled (expander.pipeline.scaled_pipeline); 1 is as defined
    epoch_images: int | None = None  # images per epoch; None: the whole training set
    precision: str = "float32"  # or "bfloat16": Keras' mixed_bfloat16 policy (bfloat16 compute, float32 weights)

    def to_dict(self) -> dict:
        return asdict(self)

    def key_dict(self) -> dict:
        """What a stored run is keyed by: every field, less those added later while at their defaults (so runs
        stored before a field existed keep their keys)."""
        return {k: v for k, v in self.to_dict().items() if k not in _ADDED_LATER or v != _ADDED_LATER[k]}


_ADDED_LATER = {
    "precision": "float32",
    "online_magnitude": 1.0,
}  # field -> its default; a stored run's key leaves these out


TENSORFLOW_LOG = False  # the train CLI's --verbose: show TensorFlow's start-up log


def quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up log (oneDNN, CUDA probing) kept off stderr, unless TENSORFLOW_LOG.

    TensorFlow 2.16+ logs through absl before TF_CPP_MIN_LOG_LEVEL applies, so the only way to keep a
    user's terminal clean is to point file descriptor 2 elsewhere while it starts; later messages,
    warnings and errors reach stderr as usual.
    """
    require("train", "train", "tensorflow", "matplotlib", "scipy")
    tensorflow_defaults()  # oneDNN on (TF_ENABLE_ONEDNN_OPTS=0 in the environment keeps it off)
    if TENSORFLOW_LOG or "tensorflow" in sys.modules:
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(null, 2)
        import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

        tf.config.list_physical_devices()  # the CUDA probe logs on first use
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def use_threads(threads: int) -> None:
    """Run TensorFlow's kernels on ``threads`` threads (intra- and inter-op). Call before its first op: a run's
    numbers depend on its thread count, since the kernels split their sums by thread."""
    quiet_tensorflow()
    import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether the CPU computes in bfloat16 itself (AVX-512 BF16 or AMX); None where that cannot be read.
    Without it oneDNN emulates bfloat16, measured 11x slower than float32 on an AVX2 CPU."""
    try:
        flags = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fit_one(
    train: tuple[Sample, ...],
    val: tuple[Sample, ...],
    test: tuple[Sample, ...],
    classes: tuple[str, ...],
    config: FitConfig,
    seed: int,
    channels: int,
    on_epoch: Callable[[int, dict], None] | None = None,
    views: tuple[tuple[Sample, ...], ...] = (),
):
    """Train, keep the validation-selected epoch's weights, test them and the last epoch's. With ``views``
    (K copies of ``train``, in its order), epoch e trains on copy e mod K of every image.

    Returns (model at the selected epoch, record): the record holds the history, the selected epoch,
    test metrics at it (``test``) and at the last epoch (``test_last``), and the train/validation gap.
    """
    quiet_tensorflow()
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra
    import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    tf.get_logger().setLevel("ERROR")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    size = (config.image_size, config.image_size)
    batches = training_batches(train, len(classes), config, seed, channels, views)
    model = create_compiled(config, (config.image_size, config.image_size, channels), len(classes), batches.steps)
    val_x, val_y = load_pixels(val, size, channels), np.array([s.label for s in val])
    selector = _Selector(config)
    history = []
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        train_figures = _train_epoch(model, batches, epoch - 1)
        seconds = time.perf_counter() - started
        val_metrics = classification_metrics(val_y, _predict(model, val_x), len(classes))
        row = {"epoch": epoch, **train_figures, "val_loss": val_metrics["loss"],
               "val_accuracy": val_metrics["accuracy"], "val_ece": val_metrics["ece"]}  # fmt: skip
        row |= {"gap": row["accuracy"] - row["val_accuracy"], "seconds": seconds,
                "images_per_s": batches.epoch_images / seconds if seconds else 0.0}  # fmt: skip
        history.append(row)
        if on_epoch:
            on_epoch(epoch, row)
        if selector.update(model, row):
            break
    record = {"seed": seed, "train_images": len(train), "epochs_run": len(history), "history": history}
    record |= _final_metrics(model, selector, history, train, test, classes, size, channels, seed)
    record |= {
        "augment_seconds": batches.augment_seconds,
        "seconds_per_epoch": float(np.mean([e["seconds"] for e in history])),
        "images_per_s": float(np.mean([e["images_per_s"] for e in history])),
    }
    return model, record


def training_batches(train: tuple[Sample, ...], classes: int, config: FitConfig, seed: int, channels: int,
                     views: tuple[tuple[Sample, ...], ...] = ()):  # fmt: skip
    """The run's TrainBatches: pixels in memory (and the copies it cycles through), the config's on-the-fly
    pipeline, mixing and class weights."""
    augment = None
    if config.online:
        pipeline = preset_dict(config.online)
        if config.online_magnitude != 1.0:
            pipeline = scaled_pipeline(pipeline, config.online_magnitude)
        augment = Augmenter(pipeline)
    labels = np.array([s.label for s in train])
    weights = _class_weights(labels, classes) if config.class_weight == "balanced" else None
    size = (config.image_size, config.image_size)
    pixels = load_pixels(train, size, channels)
    copies = np.stack([load_pixels(view, size, channels) for view in views]) if views else None
    return TrainBatches(pixels, labels, classes, seed=seed, batch_size=config.batch_size,
                        mixing=Mixing(config.mixup, config.cutmix), augment=augment, class_weights=weights,
                        epoch_images=config.epoch_images, views=copies)  # fmt: skip


def create_compiled(config: FitConfig, input_shape: tuple[int, int, int], classes: int, steps_per_epoch: int):
    """The model, compiled with AdamW, the learning-rate schedule and label-smoothed cross-entropy."""
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    # Layers take the policy in force when they are made; later models (another run, augnet) get float32 again.
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if config.precision == "bfloat16" else "float32")
    try:
        model = create_model(config.model, input_shape, classes)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate(config, steps_per_epoch),
                                       weight_decay=config.weight_decay)  # fmt: skip
    # Decay shrinks weights toward zero; batch norm's scales and shifts and the biases are not such weights.
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def learning_rate(config: FitConfig, steps_per_epoch: int):
    """``lr`` constant, or linear warm-up to ``lr`` then cosine decay to zero at the last step."""
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    if config.schedule == "constant":
        return config.lr
    warmup = min(config.warmup, config.epochs - 1) * steps_per_epoch
    total = config.epochs * steps_per_epoch
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=total)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=config.lr, warmup_steps=warmup
    )


def _train_epoch(model, batches: TrainBatches, epoch: int) -> dict:
    """One epoch of optimiser steps; the mean loss, and accuracy against each target's larger share."""
    loss = correct = seen = 0.0
    for x, y, w in batches.epoch(epoch):
        logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)
        loss += float(logs["loss"]) * len(x)
        correct += float(logs["accuracy"]) * len(x)
        seen += len(x)
    return {"loss": loss / seen, "accuracy": correct / seen}


class _Selector:
    """Keeps the weights of the best epoch by ``config.monitor`` and says when patience ran out."""

    def __init__(self, config: FitConfig):
        self.monitor, self.patience = config.monitor, config.early_stopping
        self.best: float | None = None
        self.best_epoch = 0
        self.weights: list | None = None

    def update(self, model, row: dict) -> bool:
        """Record an epoch; True when training should stop early."""
        value = row[self.monitor] if self.monitor == "val_loss" else -row[self.monitor]
        if self.best is None or value < self.best:
            self.best, self.best_epoch, self.weights = value, row["epoch"], model.get_weights()
        return self.patience is not None and row["epoch"] - self.best_epoch >= self.patience


def _final_metrics(model, selector: _Selector, history, train, test, classes, size, channels, seed) -> dict:
    """Test metrics and the train/validation gap at the last epoch, then at the selected one (weights left there).

    Without test images (a search's runs) the test figures are None: nothing is read from a test set.
    """
    probe = _train_probe(train, seed)
    probe_x, probe_y = load_pixels(probe, size, channels), np.array([s.label for s in probe])
    test_set = (load_pixels(test, size, channels), np.array([s.label for s in test])) if test else None
    figures = {}
    for when in ("last", "selected"):
        if when == "selected":
            model.set_weights(selector.weights)
        figures[when] = (
            classification_metrics(test_set[1], _predict(model, test_set[0]), len(classes)) if test_set else None,
            classification_metrics(probe_y, _predict(model, probe_x), len(classes))["accuracy"],
        )
    selected = history[selector.best_epoch - 1]
    return {
        "best_epoch": selector.best_epoch,
        "val_accuracy": selected["val_accuracy"],
        "val_loss": selected["val_loss"],
        "gap": figures["selected"][1] - selected["val_accuracy"],
        "gap_last": figures["last"][1] - history[-1]["val_accuracy"],
        "test": figures["selected"][0],
        "test_last": figures["last"][0],
        "train_accuracy": figures["selected"][1],
        "train_accuracy_last": figures["last"][1],
    }


def _train_probe(train: tuple[Sample, ...], seed: int, limit: int = 1000) -> tuple[Sample, ...]:
    """Up to ``limit`` training images, unaugmented: what the train/validation gap is measured on."""
    if len(train) <= limit:
        return train
    chosen = np.sort(np.random.default_rng([seed, 3]).choice(len(train), limit, replace=False))
    return tuple(train[i] for i in chosen)


def _predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities in inference mode, batch by batch (``predict`` would build a tf.data pipeline per call)."""
    chunks = [model.predict_on_batch(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, model.output_shape[-1]), np.float32)


def _class_weights(labels: np.ndarray, classes: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=classes)
    return np.array([len(labels) / (classes * n) if n else 0.0 for n in counts], dtype=np.float32)
