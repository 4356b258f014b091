"""Copies per image that raise object classes toward a target: class-selective quotas for detection.

An image carries all its objects into every copy, so raising a rare class raises the classes it
shares images with. ``copies_for_target`` works rarest class first: it gives copies to the images
that hold the class, purest first (the largest share of their objects in that class), round-robin
so no image is copied much more than another, until the class reaches the target; then the next
rarest still below it. Each step leaves the class at or above the target and counts never fall,
so it ends after at most one step per class. Ties are broken by a seeded hash, not folder order.
"""

from __future__ import annotations

import numpy as np


def instance_counts(objects_per_image: list[tuple[int, ...]], classes: int) -> np.ndarray:
    """(images, classes) matrix of object counts."""
    counts = np.zeros((len(objects_per_image), classes), dtype=np.int64)
    for row, objects in enumerate(objects_per_image):
        np.add.at(counts[row], list(objects), 1)
    return counts


def copies_for_target(counts: np.ndarray, selected: list[int], target: int, tiebreak: list[int]) -> np.ndarray:
    """Copies per image so every selected class reaches ``target`` instances (where an image holds it).

    Args:
        counts: (images, classes) object counts of the images that may be copied.
        selected: class indices to raise.
        target: instances wanted per selected class.
        tiebreak: a seeded number per image, to order equally good images.
    """
    copies = np.zeros(len(counts), dtype=np.int64)
    totals = counts.sum(axis=0)
    sizes = np.maximum(counts.sum(axis=1), 1)
    while True:
        below = [c for c in selected if totals[c] < target and counts[:, c].any()]
        if not below:
            return copies
        rarest = min(below, key=lambda c: (totals[c], c))
        holders = np.flatnonzero(counts[:, rarest])
        purity = counts[holders, rarest] / sizes[holders]
        order = holders[np.lexsort((np.asarray(tiebreak)[holders], -purity))]
        added = _round_robin(counts[order, rarest], target - totals[rarest])
        copies[order] += added
        totals += (counts[order] * added[:, None]).sum(axis=0)


def _round_robin(per_copy: np.ndarray, need: int) -> np.ndarray:
    """Copies per image (in the given order) so the class gains at least ``need``: whole rounds, then the
    first images of one more round."""
    per_round = int(per_copy.sum())
    rounds, rest = divmod(int(need), per_round)
    added = np.full(len(per_copy), rounds, dtype=np.int64)
    if rest:
        last = int(np.searchsorted(np.cumsum(per_copy), rest))  # the first images whose copies cover the rest
        added[: last + 1] += 1
    return added
