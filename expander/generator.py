"""A Keras image-to-image model as a kind of transform: ``expand --generator MODEL``.

Conventions (checked when the run starts, with errors that say what to change):

* Input: one image, or two images of the same class (the Stanford paper's augmentation network),
  given either as two model inputs or stacked on the channel axis of one input. The arity is read
  from the model. Images are resized to the model's input size and scaled to [0, 1] float32.
* Output: one image of 1 or 3 channels with values in [0, 1], written as 8-bit at the model's
  output size.

A generator has no randomness of its own; what varies between copies is the partner image, which
the plan draws from each output's seed. Workers run TensorFlow on one thread (the pool is the
parallelism), so outputs are byte-identical whatever the worker count.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expander import images
from expander.errors import PipelineError, require
from expander.tf_setup import tensorflow_defaults

RANGE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class GeneratorInfo:
    path: str  # absolute
    sha256: str
    arity: int  # 1 or 2 images in
    stacked: bool  # two images on the channel axis of one input
    input_size: tuple[int, int]  # (width, height)
    channels: int  # per input image
    output_channels: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": {
                "path": self.path,
                "sha256": self.sha256,
                "arity": self.arity,
                "stacked": self.stacked,
                "input_size": list(self.input_size),
                "channels": self.channels,
                "output_channels": self.output_channels,
            }
        }

    @classmethod
    def from_dict(cls, pipeline: dict[str, Any]) -> GeneratorInfo:
        g = pipeline["generator"]
        return cls(g["path"], g["sha256"], g["arity"], g["stacked"], tuple(g["input_size"]), g["channels"],
                   g["output_channels"])  # fmt: skip


def single_threaded_tensorflow() -> None:
    """Call before TensorFlow starts in a worker: one thread, deterministic ops."""
    tensorflow_defaults()
    import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()


def _load(path: Path):
    require("--generator", "train", "tensorflow", "keras")
    tensorflow_defaults()
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # keras raises ValueError, OSError, zipfile errors, ...
        raise PipelineError(
            f"Cannot load generator '{path}': {' '.join(str(e).split())[:300]}. "
            "Give a Keras model file (.keras), e.g. one written by: train augnet SRC --out RUN"
        ) from None


def inspect_generator(path: str | os.PathLike) -> GeneratorInfo:
    """Load the model once, read its arity and sizes, and check it maps [0, 1] images to [0, 1] images.

    Raises:
        PipelineError: a missing file, or shapes or values outside the conventions above.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"Generator '{path}' does not exist. Give a Keras model file (.keras).")
    model = _load(path)
    shapes = [tuple(t.shape) for t in model.inputs]
    problem = f"Generator '{path}' takes inputs {', '.join(map(str, shapes))}"
    if not all(len(s) == 4 and s[1] and s[2] and s[3] for s in shapes) or len({s[1:] for s in shapes}) != 1:
        raise PipelineError(f"{problem}; expected images (batch, height, width, channels) of one fixed size.")
    _, height, width, channels = shapes[0]
    if len(shapes) == 2 and channels in (1, 3):
        arity, stacked, per_image = 2, False, channels
    elif len(shapes) == 1 and channels in (1, 3):
        arity, stacked, per_image = 1, False, channels
    elif len(shapes) == 1 and channels in (2, 6):
        arity, stacked, per_image = 2, True, channels // 2
    else:
        raise PipelineError(
            f"{problem}; expected one image (1 or 3 channels), two images as two inputs, or two images stacked "
            "on the channel axis (2 or 6 channels)."
        )
    probe = np.random.default_rng(0).random((1, height, width, per_image), dtype=np.float32)
    batch = [probe] * arity
    output = np.asarray(model.predict_on_batch(_model_inputs(batch, stacked)))
    if output.ndim != 4 or output.shape[-1] not in (1, 3):
        raise PipelineError(
            f"Generator '{path}' returns shape {output.shape}; expected images (batch, height, width, 1 or 3)."
        )
    low, high = float(output.min()), float(output.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise PipelineError(
            f"Generator '{path}' returned values from {low:.3g} to {high:.3g} for an input in [0, 1]; expander "
            "feeds images scaled to [0, 1] and writes the output as [0, 1]. End the model with a sigmoid, or "
            "rescale a tanh output with a layer computing (x + 1) / 2."
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return GeneratorInfo(str(path.resolve()), digest, arity, stacked, (width, height), per_image, output.shape[-1])


def _model_inputs(batch: list[np.ndarray], stacked: bool):
    if len(batch) == 1:
        return batch[0]
    return np.concatenate(batch, axis=-1) if stacked else batch


class Generator:
    """Per-worker: the loaded model; ``__call__`` maps a batch of (image[, partner]) to 8-bit images."""

    def __init__(self, info: GeneratorInfo):
        single_threaded_tensorflow()
        self.info = info
        self.model = _load(Path(info.path))

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """A decoded image as the model takes it: its size, its channels, float32 in [0, 1]."""

        image = images.to_8bit(image, self.info.channels)
        image = images.resize(image, self.info.input_size)
        width, height = self.info.input_size
        return image.reshape(height, width, self.info.channels).astype(np.float32) / 255.0

    def __call__(self, sources: list[np.ndarray], partners: list[np.ndarray] | None = None) -> list[np.ndarray]:
        batch = [np.stack(sources)] + ([np.stack(partners)] if self.info.arity == 2 and partners else [])
        output = np.asarray(self.model.predict_on_batch(_model_inputs(batch, self.info.stacked)))
        pixels = np.clip(np.rint(output * 255.0), 0, 255).astype(np.uint8)
        return [p[:, :, 0] if p.shape[-1] == 1 else p for p in pixels]
