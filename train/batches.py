"""Training batches from pixels in memory: a seeded order, on-the-fly augmentation, MixUp and CutMix.

Pure numpy, so every rule is testable without TensorFlow, and every batch is a function of
(seed, epoch, batch): a run trains on the same batches whatever the machine or thread count.

* Order: an endless stream of seeded permutations of the training set; epoch ``e`` is the stream's
  ``e``-th stretch of ``epoch_images`` positions (the whole set by default), so an epoch may be shorter
  than the set (equal steps for arms of different sizes) and every image is still seen in turn.
* On the fly (``augment``): expander's pipeline on every image of every batch, seeded by the stream
  position, so no two epochs see the same copy of an image.
* Cycling (``views``): K offline copies of every image, made before training; epoch ``e`` trains on copy
  ``e mod K`` of each image (the on-the-fly schedule replayed from disk, the copies reused by every run).
* MixUp (Zhang et al., 2018) blends two images and their labels with a weight drawn from Beta(a, a);
  CutMix (Yun et al., 2019) pastes a box of one image into another and mixes the labels by its area.
  With both, each batch uses one of them, chosen by a coin (as timm does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

Augment = Callable[[np.ndarray, int], np.ndarray]  # (image, seed) -> image, e.g. expander's Augmenter


@dataclass(frozen=True)
class Mixing:
    mixup: float = 0.0  # Beta(a, a) parameter; 0 is off
    cutmix: float = 0.0

    @property
    def active(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0


class TrainBatches:
    """``epoch(e)`` yields ``(images float32 0..255, one-hot targets, sample weights)`` batches."""

    def __init__(
        self,
        pixels: np.ndarray,
        labels: np.ndarray,
        classes: int,
        *,
        seed: int,
        batch_size: int,
        mixing: Mixing = Mixing(),
        augment: Augment | None = None,
        class_weights: np.ndarray | None = None,
        epoch_images: int | None = None,
        views: np.ndarray | None = None,
    ):
        """``views``, when given, is (K, len(pixels), H, W, C): the copies epochs cycle through."""
        if views is not None and views.shape[1:] != pixels.shape:
            raise ValueError(f"views {views.shape} do not hold copies of pixels {pixels.shape}")
        self.pixels, self.labels, self.views = pixels, np.asarray(labels, dtype=np.int64), views
        self.targets = np.eye(classes, dtype=np.float32)[self.labels]
        self.seed, self.batch_size, self.mixing, self.augment = seed, batch_size, mixing, augment
        self.weights = np.ones(len(labels), np.float32) if class_weights is None else class_weights[self.labels]
        self.epoch_images = epoch_images or len(labels)
        self.augment_seconds = 0.0  # CPU time spent augmenting on the fly, over every epoch so far

    @property
    def steps(self) -> int:
        return -(-self.epoch_images // self.batch_size)

    def positions(self, epoch: int) -> np.ndarray:
        """Stream positions of epoch ``epoch`` (0-based); ``position % n`` is the place in its permutation."""
        return np.arange(epoch * self.epoch_images, (epoch + 1) * self.epoch_images)

    def indices(self, positions: np.ndarray) -> np.ndarray:
        """The training images at these stream positions."""
        n = len(self.labels)
        rounds = positions // n
        orders = {int(r): np.random.default_rng([self.seed, int(r)]).permutation(n) for r in np.unique(rounds)}
        return np.array([orders[int(r)][p % n] for r, p in zip(rounds, positions, strict=True)], dtype=np.int64)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        positions = self.positions(epoch)
        for number, start in enumerate(range(0, len(positions), self.batch_size)):
            at = positions[start : start + self.batch_size]
            yield self.batch(at, np.random.default_rng([self.seed, epoch, number, 1]))

    def batch(self, positions: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        chosen = self.indices(positions)
        if self.views is not None:  # epoch e (of epoch_images positions each) trains on copy e mod K
            images = self.views[(positions // self.epoch_images) % len(self.views), chosen]
        else:
            images = self.pixels[chosen]
        if self.augment is not None:
            started = time.process_time()
            images = np.stack([
                self.augment(image, _position_seed(self.seed, int(p))).reshape(image.shape)
                for image, p in zip(images, positions, strict=True)
            ])  # fmt: skip
            self.augment_seconds += time.process_time() - started
        x, y = images.astype(np.float32), self.targets[chosen]
        if self.mixing.active and len(chosen) > 1:
            x, y = mix(x, y, self.mixing, rng)
        return x, y, self.weights[chosen]


def mix(x: np.ndarray, y: np.ndarray, mixing: Mixing, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MixUp or CutMix of a batch with a shuffled copy of itself; returns new arrays."""
    partner = rng.permutation(len(x))
    use_cutmix = mixing.cutmix > 0 and (mixing.mixup <= 0 or rng.random() < 0.5)
    if use_cutmix:
        lam = float(rng.beta(mixing.cutmix, mixing.cutmix))
        (top, bottom), (left, right) = cut_box(x.shape[1], x.shape[2], lam, rng)
        x = x.copy()
        x[:, top:bottom, left:right] = x[partner, top:bottom, left:right]
        lam = 1.0 - (bottom - top) * (right - left) / (x.shape[1] * x.shape[2])  # the box as pasted, after clipping
    else:
        lam = float(rng.beta(mixing.mixup, mixing.mixup))
        x = lam * x + (1.0 - lam) * x[partner]
    return x, (lam * y + (1.0 - lam) * y[partner]).astype(np.float32)


def cut_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[tuple[int, int], tuple[int, int]]:
    """A box of about (1 - lam) of the image around a uniform centre, clipped to it: ((top, bottom), (left, right))."""
    ratio = np.sqrt(1.0 - lam)
    h, w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    return (max(cy - h // 2, 0), min(cy + h // 2, height)), (max(cx - w // 2, 0), min(cx + w // 2, width))


def _position_seed(seed: int, position: int) -> int:
    return int(np.random.SeedSequence([seed, position, 2]).generate_state(1)[0])
