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

from expander.manifest import package_versions
from train.data import detect_channels, load_split, read_pixels
from train.errors import TrainError
from train.fit import quiet_tensorflow
from train.metrics import classification_metrics

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
    import keras

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
) -> dict:
    """Train the augmentation net and the classifier together; save ``augnet.keras`` and a report."""
    if config.loss not in LOSSES:
        raise TrainError(f"--loss must be one of {', '.join(LOSSES)}; got {config.loss!r}.")
    if config.augment not in AUGMENTS:
        raise TrainError(f"augment must be one of {', '.join(AUGMENTS)}; got {config.augment!r}.")
    neural = config.augment == "neural"
    quiet_tensorflow()
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from train.compare import default_out
    from train.models import create_model

    out = Path(out) if out is not None else default_out("augnet")
    split = load_split(src, None, test, val_fraction=val_fraction, test_fraction=test_fraction)
    channels = detect_channels(split.train_original)
    size = config.image_size
    x_train, y_train = _load(split.train_original, size, channels)
    x_val, y_val = _load(split.val, size, channels)
    x_test, y_test = _load(split.test, size, channels)
    classes = len(split.classes)

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    augnet = build_augnet(size, channels)
    classifier = create_model(config.model, (size, size, channels), classes)
    random_kernel = keras.initializers.GlorotUniform(seed=config.seed)
    style_features = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, trainable=False,
                                         kernel_initializer=random_kernel)  # fmt: skip
    style_features.build((None, size, size, channels))
    optimizer = keras.optimizers.Adam(learning_rate=config.lr)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()

    def gram(images):
        def one(features):
            flat = tf.reshape(features, (tf.shape(features)[0], -1, features.shape[-1]))
            return tf.matmul(flat, flat, transpose_a=True) / tf.cast(tf.shape(flat)[1], tf.float32)

        return one(images), one(style_features(images))

    def augmentation_loss(augmented, target):
        if config.loss == "content":
            return tf.reduce_mean(tf.square(augmented - target))
        if config.loss == "style":
            return sum(tf.reduce_mean(tf.square(a - b)) for a, b in zip(gram(augmented), gram(target), strict=True))
        return tf.constant(0.0)

    @tf.function
    def step(anchor, partner, target, labels):
        with tf.GradientTape() as tape:
            augmented = augnet(tf.concat([anchor, partner], axis=-1), training=True)
            # The classifier rescales 0-255 input itself (Rescaling is its first layer).
            logits = classifier(255.0 * tf.concat([anchor, augmented], axis=0), training=True)
            classification = cross_entropy(tf.concat([labels, labels], axis=0), logits)
            extra = augmentation_loss(augmented, target)
            loss = config.alpha * classification + config.beta * extra
        variables = augnet.trainable_variables + classifier.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss, classification, extra

    @tf.function
    def classify_step(images, labels):  # the rows without the net: classification loss only
        with tf.GradientTape() as tape:
            loss = cross_entropy(labels, classifier(255.0 * images, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, classifier.trainable_variables),
                                      classifier.trainable_variables, strict=True))  # fmt: skip
        return loss, loss, tf.constant(0.0)

    traditional = _TraditionalCopies(x_train) if config.augment == "traditional" else None

    def evaluate(x, y) -> dict:
        probabilities = classifier.predict(255.0 * x, batch_size=128, verbose=0)
        return classification_metrics(y, probabilities, classes)

    rng = np.random.default_rng(config.seed)
    history, best = [], {"val_accuracy": -1.0}
    bar = tqdm(total=config.epochs, unit="epoch", file=sys.stderr, disable=not progress, desc=f"augnet {config.loss}")
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(len(x_train))
        if neural:
            partners, targets = _triples(y_train, order, rng, control=config.loss == "control")
        elif traditional is not None:
            seeds = rng.integers(0, 2**63 - 1, size=len(order), dtype=np.int64)
        totals = np.zeros(3)
        for start in range(0, len(order), config.batch_size):
            batch = slice(start, start + config.batch_size)
            anchors, labels = x_train[order[batch]], y_train[order[batch]]
            if neural:
                losses = step(anchors, x_train[partners[batch]], x_train[targets[batch]], labels)
            elif traditional is not None:
                copies = traditional(order[batch], seeds[batch])
                losses = classify_step(np.concatenate([anchors, copies]), np.concatenate([labels, labels]))
            else:
                losses = classify_step(anchors, labels)
            totals += [float(v) * len(order[batch]) for v in losses]
        val = evaluate(x_val, y_val)
        record = {
            "epoch": epoch,
            "loss": totals[0] / len(order),
            "classification_loss": totals[1] / len(order),
            "augmentation_loss": totals[2] / len(order),
            "val_accuracy": val["accuracy"],
            "val_loss": val["loss"],
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if val["accuracy"] > best["val_accuracy"]:
            best = {**record, "test": evaluate(x_test, y_test)}
            out.mkdir(parents=True, exist_ok=True)
            if neural:
                augnet.save(out / "augnet.keras")
        bar.set_postfix(val_accuracy=f"{val['accuracy']:.3f}")
        bar.update(1)
    bar.close()

    sheet = None
    if neural:
        best_augnet = keras.models.load_model(out / "augnet.keras", compile=False)
        sheet = _sample_sheet(out / "samples.png", best_augnet, x_val, y_val, split.classes, config, rng)
    report = {
        "study": "augnet",
        "arguments": {
            "src": str(Path(src).resolve()),
            "test": str(Path(test).resolve()) if test else None,
            "out": str(out.resolve()),
            "val_fraction": val_fraction,
            "channels": channels,
            **config.to_dict(),
        },
        "versions": package_versions("expander", "tensorflow", "keras", "numpy"),
        "data": {
            "classes": list(split.classes),
            "test_source": split.test_source,
            "counts": {"train": len(x_train), "val": len(x_val), "test": len(x_test)},
        },
        "best_epoch": best["epoch"],
        "best_val_accuracy": best["val_accuracy"],
        "test_at_best": best["test"],
        "history": history,
        "samples": sheet,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot_history(out / "history.png", report)
    (out / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


class _TraditionalCopies:
    """Copies of training images from expander's ``traditional`` preset, one seed per copy."""

    def __init__(self, x: np.ndarray):
        from expander.augment import Augmenter
        from expander.pipeline import preset_dict

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


def _sample_sheet(path: Path, augnet, x, y, classes, config: AugnetConfig, rng) -> dict:
    """Rows of (anchor, partner, output) for a few validation pairs of each class."""
    import cv2

    rows = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        for _ in range(min(3, len(members))):
            a = rng.choice(members)
            b = a if config.loss == "control" else rng.choice(members)
            rows.append((a, b))
    anchors = x[[a for a, _ in rows]]
    partners = x[[b for _, b in rows]]
    outputs = augnet.predict(np.concatenate([anchors, partners], axis=-1), verbose=0)
    tiles = [np.concatenate([anchors[i], partners[i], outputs[i]], axis=1) for i in range(len(rows))]
    sheet = np.clip(np.rint(np.concatenate(tiles, axis=0) * 255), 0, 255).astype(np.uint8)
    scale = max(1, 128 // x.shape[1])
    sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if sheet.ndim == 3:
        sheet = cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(path), sheet)
    return {"file": path.name, "rows": [[classes[int(y[a])], int(a), int(b)] for a, b in rows],
            "columns": ["first image", "second image", "augnet output"]}  # fmt: skip


def _plot_history(path: Path, report: dict) -> None:
    from train.report import pyplot

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
