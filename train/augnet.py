"""``train augnet``: the Stanford paper's neural augmentation, trained jointly with the classifier.

Wang and Perez, "The Effectiveness of Data Augmentation in Image Classification using Deep Learning":
an augmentation net (5 conv layers, 3x3, 16 channels with ReLU, the last with the image's channels)
takes two images of one class stacked on the channel axis and outputs a new image; the classifier
trains on the originals and the new images. Loss = alpha * classification + beta * augmentation loss:

* ``content``: MSE between the new image and a third random image of the class;
* ``style``: MSE between Gram matrices of the new image and that third image. The paper takes them
  from a pretrained network; offline, with no weights to download, we take them from the image's
  own channels and from a fixed, seeded random 3x3 conv layer (random features carry texture
  statistics too), which is weaker;
* ``none``: no augmentation loss;
* ``control``: no augmentation loss and the same image fed twice.

For the paper's other rows the same loop runs without the net (``augment``): ``off`` trains the
classifier on the originals alone, ``traditional`` pairs each original with a fresh copy from
expander's ``traditional`` preset (shifts, zoom, rotation, flips, distortions, hue), so every row of
the table shares data, model, optimiser, epochs and selection.

The best epoch (highest validation accuracy, as the paper reports) is kept. The saved net follows
expander's generator conventions (two images stacked, [0, 1] in and out), so
``expander expand SRC --generator RUN/augnet.keras`` materialises its augmentations offline.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from expander.augment import Augmenter
from expander.manifest import package_versions
from expander.options import default_workers
from expander.pipeline import preset_dict
from train.data import checked_for_leaks, detect_channels, load_split, read_pixels
from train.errors import TrainError
from train.fit import quiet_tensorflow
from train.metrics import classification_metrics
from train.models import create_model
from train.report import pyplot
from train.runs import report_folder

LOSSES = ("content", "style", "none", "control")
AUGMENTS = ("neural", "traditional", "off")


@dataclass(frozen=True)
class AugnetConfig:
    loss: str = "content"
    model: str = "smallnet"
    image_size: int = 64
    epochs: int = 40
    batch_size: int = 16
    lr: float = 1e-4
    alpha: float = 0.75
    beta: float = 0.25
    seed: int = 0
    augment: str = "neural"  # neural: the net; traditional: the traditional preset; off: originals only

    def to_dict(self) -> dict:
        return asdict(self)


def build_augnet(size: int, channels: int):
    """Two images stacked (size, size, 2C) -> one image (size, size, C) in [0, 1]."""
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    inputs = keras.Input((size, size, 2 * channels))
    x = inputs
    for _ in range(4):
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    # A sigmoid keeps the output an image in [0, 1], the range expander writes.
    outputs = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="augnet")


def _load(samples, size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.stack([read_pixels(s.path, (size, size), channels) for s in samples]).astype(np.float32) / 255.0
    return x, np.array([s.label for s in samples], dtype=np.int32)


def _triples(y: np.ndarray, order: np.ndarray, rng: np.random.Generator, control: bool):
    """For each anchor in ``order``: a partner and a target of the same class (the anchor itself if alone)."""
    by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    partners = order.copy() if control else np.array([rng.choice(by_class[y[i]]) for i in order])
    targets = np.array([rng.choice(by_class[y[i]]) for i in order])
    return partners, targets


def train_augnet(
    src: str | Path,
    *,
    test: str | Path | None = None,
    out: str | Path | None = None,
    config: AugnetConfig = AugnetConfig(),
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    progress: bool = False,
    allow_leaks: bool = False,
) -> dict:
    """Train the augmentation net and the classifier together; save ``augnet.keras`` and a report.

    Each epoch: ``train_one_epoch`` then ``validate``; the best epoch by validation accuracy is kept
    (its test metrics, and the net itself); then ``write_report``.
    """
    if config.loss not in LOSSES:
        raise TrainError(f"--loss must be one of {', '.join(LOSSES)}; got {config.loss!r}.")
    if config.augment not in AUGMENTS:
        raise TrainError(f"augment must be one of {', '.join(AUGMENTS)}; got {config.augment!r}.")
    quiet_tensorflow()

    split = load_split(src, None, test, val_fraction=val_fraction, test_fraction=test_fraction)
    split = checked_for_leaks(split, src, default_workers(), allow_leaks)  # before any folder is made
    out = report_folder(out, "augnet")
    data = _Arrays.load(split, config.image_size)
    steps = _Steps(config, data.channels, len(split.classes))
    traditional = _TraditionalCopies(data.x_train) if config.augment == "traditional" else None
    rng = np.random.default_rng(config.seed)
    history: list[dict] = []
    best: dict = {"val_accuracy": -1.0}
    bar = tqdm(total=config.epochs, unit="epoch", file=sys.stderr, disable=not progress, desc=f"augnet {config.loss}")
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        losses = train_one_epoch(steps, data, config, rng, traditional)
        val = validate(steps.classifier, data.x_val, data.y_val, len(split.classes))
        record = {"epoch": epoch, **losses, "val_accuracy": val["accuracy"], "val_loss": val["loss"],
                  "seconds": time.perf_counter() - started}  # fmt: skip
        history.append(record)
        if val["accuracy"] > best["val_accuracy"]:
            best = {**record, "test": validate(steps.classifier, data.x_test, data.y_test, len(split.classes))}
            out.mkdir(parents=True, exist_ok=True)
            if config.augment == "neural":
                steps.augnet.save(out / "augnet.keras")
        bar.set_postfix(val_accuracy=f"{val['accuracy']:.3f}")
        bar.update(1)
    bar.close()
    sheet = _best_samples(out, data, split.classes, config, rng) if config.augment == "neural" else None
    report = _report(src, test, out, val_fraction, config, split, data, history, best, sheet)
    write_report(out, report)
    return report


@dataclass(frozen=True)
class _Arrays:
    """A split's images as float32 arrays in [0, 1] at the run's size, with their labels."""

    channels: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @classmethod
    def load(cls, split, size: int) -> _Arrays:
        channels = detect_channels(split.train_original)
        return cls(channels, *_load(split.train_original, size, channels), *_load(split.val, size, channels),
                   *_load(split.test, size, channels))  # fmt: skip


def augmentation_loss(loss: str, style_features):
    """The augmentation loss of the net's output against a third image of the class (see module docstring)."""
    import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    def gram(images):
        def one(features):
            flat = tf.reshape(features, (tf.shape(features)[0], -1, features.shape[-1]))
            return tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[1], tf.float32)

        return one(images), one(style_features(images))

    def content(augmented, target):
        return tf.reduce_mean(tf.square(augmented - target))

    def style(augmented, target):
        return sum(tf.reduce_mean(tf.square(a - b)) for a, b in zip(gram(augmented), gram(target), strict=True))

    def nothing(augmented, target):
        return tf.constant(0.0)

    return {"content": content, "style": style}.get(loss, nothing)


class _Steps:
    """The nets of one run and their compiled training steps; each step returns (loss, classification, augmentation)."""

    def __init__(self, config: AugnetConfig, channels: int, classes: int):
        import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra
        import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

        size = config.image_size
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()
        self.augnet = build_augnet(size, channels)
        self.classifier = create_model(config.model, (size, size, channels), classes)
        random_kernel = keras.initializers.GlorotUniform(seed=config.seed)
        style_features = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, trainable=False,
                                             kernel_initializer=random_kernel)  # fmt: skip
        style_features.build((None, size, size, channels))
        self.optimizer = keras.optimizers.Adam(learning_rate=config.lr)
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy()
        self.extra_loss = augmentation_loss(config.loss, style_features)
        self.alpha, self.beta = config.alpha, config.beta
        self.neural = tf.function(self._neural)
        self.classify = tf.function(self._classify)

    def _neural(self, anchor, partner, target, labels):
        import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

        with tf.GradientTape() as tape:
            augmented = self.augnet(tf.concat([anchor, partner], axis=-1), training=True)
            # The classifier rescales 0-255 input itself (Rescaling is its first layer).
            logits = self.classifier(255.0 * tf.concat([anchor, augmented], axis=0), training=True)
            classification = self.cross_entropy(tf.concat([labels, labels], axis=0), logits)
            extra = self.extra_loss(augmented, target)
            loss = self.alpha * classification + self.beta * extra
        variables = self.augnet.trainable_variables + self.classifier.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss, classification, extra

    def _classify(self, images, labels):  # the rows without the net: classification loss only
        import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

        with tf.GradientTape() as tape:
            loss = self.cross_entropy(labels, self.classifier(255.0 * images, training=True))
        variables = self.classifier.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss, loss, tf.constant(0.0)


def train_one_epoch(
    steps: _Steps, data: _Arrays, config: AugnetConfig, rng: np.random.Generator, traditional
) -> dict[str, float]:
    """One pass over the training originals in a seeded order, in the run's mode; mean losses per image."""
    order = rng.permutation(len(data.x_train))
    if config.augment == "neural":
        partners, targets = _triples(data.y_train, order, rng, control=config.loss == "control")
    elif traditional is not None:
        seeds = rng.integers(0, 2**63 - 1, size=len(order), dtype=np.int64)
    totals = np.zeros(3)
    for start in range(0, len(order), config.batch_size):
        batch = slice(start, start + config.batch_size)
        anchors, labels = data.x_train[order[batch]], data.y_train[order[batch]]
        if config.augment == "neural":
            losses = steps.neural(anchors, data.x_train[partners[batch]], data.x_train[targets[batch]], labels)
        elif traditional is not None:
            copies = traditional(order[batch], seeds[batch])
            losses = steps.classify(np.concatenate([anchors, copies]), np.concatenate([labels, labels]))
        else:
            losses = steps.classify(anchors, labels)
        totals += [float(v) * len(order[batch]) for v in losses]
    loss, classification, extra = totals / len(order)
    return {"loss": loss, "classification_loss": classification, "augmentation_loss": extra}


def validate(classifier, x: np.ndarray, y: np.ndarray, classes: int) -> dict:
    """Classification metrics of the classifier on images in [0, 1]."""
    probabilities = classifier.predict(255.0 * x, batch_size=128, verbose=0)
    return classification_metrics(y, probabilities, classes)


def _best_samples(out: Path, data: _Arrays, classes, config: AugnetConfig, rng) -> dict:
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    best_augnet = keras.models.load_model(out / "augnet.keras", compile=False)
    return _sample_sheet(out / "samples.png", best_augnet, data.x_val, data.y_val, classes, config, rng)


def _report(src, test, out: Path, val_fraction, config, split, data: _Arrays, history, best, sheet) -> dict:
    return {
        "study": "augnet",
        "arguments": {
            "src": str(Path(src).resolve()),
            "test": str(Path(test).resolve()) if test else None,
            "out": str(out.resolve()),
            "val_fraction": val_fraction,
            "channels": data.channels,
            **config.to_dict(),
        },
        "versions": package_versions("expander", "tensorflow", "keras", "numpy"),
        "data": {
            "classes": list(split.classes),
            "test_source": split.test_source,
            "counts": {"train": len(data.x_train), "val": len(data.x_val), "test": len(data.x_test)},
            "warnings": list(split.warnings),
        },
        "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"],
        "test_at_best": best["test"],
        "history": history,
        "samples": sheet,
    }


def write_report(out: Path, report: dict) -> None:
    """report.json, history.png and report.md in ``out``."""
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_history(out / "history.png", report)
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")


class _TraditionalCopies:
    """Copies of training images from expander's ``traditional`` preset, one seed per copy."""

    def __init__(self, x: np.ndarray):

        self.augmenter = Augmenter(preset_dict("traditional"))
        self.images = np.rint(x * 255).astype(np.uint8)  # the decoded pixels (x was uint8 / 255)

    def __call__(self, indices: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        shape = self.images.shape[1:]
        copies = [
            self.augmenter(self._layout(self.images[i]), int(s)).reshape(shape)
            for i, s in zip(indices, seeds, strict=True)
        ]
        return np.stack(copies).astype(np.float32) / 255.0

    @staticmethod
    def _layout(image: np.ndarray) -> np.ndarray:
        return image[:, :, 0] if image.shape[2] == 1 else image  # grayscale as 2-D, as expander decodes it


SAMPLE_COLUMNS = ("first image", "second image", "augnet output")


def _sample_sheet(path: Path, augnet, x, y, classes, config: AugnetConfig, rng) -> dict:
    """A labelled grid: per row a validation pair of one class and what the net made of it."""
    rows = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        for _ in range(min(3, len(members))):
            a = rng.choice(members)
            b = a if config.loss == "control" else rng.choice(members)
            rows.append((a, b))
    anchors, partners = x[[a for a, _ in rows]], x[[b for _, b in rows]]
    outputs = augnet.predict(np.concatenate([anchors, partners], axis=-1), verbose=0)
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.8 * len(rows) + 0.45), squeeze=False)
    for r, (a, _) in enumerate(rows):
        for col, image in enumerate((anchors[r], partners[r], outputs[r])):
            ax = axes[r][col]
            gray = image.shape[-1] == 1
            ax.imshow(np.clip(image[..., 0] if gray else image, 0, 1), cmap="gray" if gray else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(SAMPLE_COLUMNS[col], fontsize=9)
            if col == 0:
                ax.set_ylabel(classes[int(y[a])], fontsize=9)
    height = 1.8 * len(rows)
    fig.suptitle(f"augnet ({config.loss} loss) on validation pairs", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))  # room for the title above the column titles
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return {"file": path.name, "rows": [[classes[int(y[a])], int(a), int(b)] for a, b in rows],
            "columns": list(SAMPLE_COLUMNS)}  # fmt: skip


def _plot_history(path: Path, report: dict) -> None:

    plt = pyplot()
    epochs = [h["epoch"] for h in report["history"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(epochs, [100 * h["val_accuracy"] for h in report["history"]], marker=".")
    left.axvline(report["best_epoch"], color="grey", ls="--", lw=1)
    left.set_xlabel("epoch")
    left.set_ylabel("validation accuracy (%)")
    for key in ("classification_loss", "augmentation_loss"):
        right.plot(epochs, [h[key] for h in report["history"]], label=key.replace("_", " "))
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(report: dict) -> str:
    args = report["arguments"]
    neural = args.get("augment", "neural") == "neural"
    title = f"train augnet --loss {args['loss']}" if neural else f"Paper row without the net: augment {args['augment']}"
    lines = [
        f"# {title}",
        "",
        f"Best validation accuracy {100 * report['best_val_accuracy']:.2f}% at epoch {report['best_epoch']} of "
        f"{len(report['history'])}; test accuracy of the classifier at that epoch "
        f"{100 * report['test_at_best']['accuracy']:.2f}% ({report['data']['counts']['test']} images from the "
        f"{report['data']['test_source']}).",
        "",
    ]
    if neural:
        lines += [
            f"Augmentation net saved as `augnet.keras` (use it with `expander expand SRC --generator "
            f"{args['out']}/augnet.keras`). Loss = {args['alpha']} x classification + {args['beta']} x "
            f"{args['loss']} loss; Adam, learning rate {args['lr']}; seed {args['seed']}.",
            "",
            "![validation accuracy and losses per epoch](history.png)",
            "",
            "Sample augmentations (validation images): each row is the first image, the second image, the output.",
            "",
            "![samples](samples.png)",
            "",
        ]
    else:
        copies = "the originals alone" if args["augment"] == "off" else "each original and a traditional-preset copy"
        lines += [
            f"Classifier trained on {copies}; classification loss; Adam, learning rate {args['lr']}; "
            f"seed {args['seed']}.",
            "",
            "![validation accuracy and losses per epoch](history.png)",
            "",
        ]
    lines += [
        "| epoch | loss | classification | augmentation | val accuracy | s |",
        "|---|---|---|---|---|---|",
    ]
    for h in report["history"]:
        lines.append(
            f"| {h['epoch']} | {h['loss']:.4f} | {h['classification_loss']:.4f} | {h['augmentation_loss']:.4f} | "
            f"{100 * h['val_accuracy']:.2f}% | {h['seconds']:.1f} |"
        )
    lines += ["", "## Arguments", "", "```json", json.dumps(args, indent=2), "```", ""]
    return "\n".join(lines)
