"""A labelled output's files: the image and its label files, made from the source's pixels and ``Instances``.

``execute.Worker`` hands labelled jobs here; ``verify --replay`` and ``preview`` make outputs the same way.
The format (chosen once, by name, from the registry) reads the source's labels into ``Instances`` and renders
each output's label files; this module only moves them (``moving``).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from expander import images
from expander.errors import EmptyCopy
from expander.labels import registry
from expander.labels.base import Files, LabelOptions, Objects, Read
from expander.labels.instances import Instances
from expander.labels.moving import move, resized, start
from expander.plan import Job, Output

Members = tuple[tuple[str, str, bytes], ...]  # an output's label files as a Sample holds them: (role, path, bytes)
LabelDigest = tuple[tuple[tuple[str, str], ...], tuple[tuple[int, int], ...]]  # (label file, SHA-256), (class, n)


class LabelledSource:
    """One source, decoded once, with its instances in the frame every output starts from.

    The instances are made on first use: an original not resized is copied with its label files byte for byte,
    so a mask that does not fit its image fails the copies of that image, not the original.
    """

    def __init__(self, options: LabelOptions, read: Read, job: Job, data: bytes, order: str, size, max_pixels):
        self.options, self.read, self.job, self.data, self.size = options, read, job, data, size
        self.format = registry.get(options.format)
        self.settings = options.setting
        self.objects: Objects = job.objects or Objects()
        self.image = images.decode(data, job.source, order, max_pixels)
        self._start: tuple[np.ndarray, Instances] | None = None

    @property
    def start(self) -> tuple[np.ndarray, Instances]:
        """(pixels, instances) of the source as every output starts from it: clipped, resized if asked."""
        if self._start is None:
            height, width = self.image.shape[:2]
            instances = self.format.instances(self.objects, height, width, self.read, self.settings)
            instances = start(instances, height, width)
            self._start = resized(self.image, instances, self.size) if self.size else (self.image, instances)
        return self._start

    def label_paths(self, out: Output) -> tuple[str, ...]:
        return self.format.label_paths(self.objects, self.job.source, out.rel_path)

    def output(self, out: Output, augmenter, quality: int, order: str) -> tuple[bytes, Files, list[int]]:
        """(image bytes, label files, class of each object in them) of one output. Originals not resized are
        copied byte for byte, label files too."""
        if out.copy_index is None and self.size is None:
            if self.format.copies_labels:
                labels = self.format.original_labels(self.objects, self.job.source, self.read)
                return self.data, labels, list(self.objects.classes)
            image, instances = self.start  # converted (--to): the image as it is, its labels written anew
            size = (image.shape[1], image.shape[0])
            files, classes = self.format.render_original(self.objects, instances, self.label_paths(out), out, size,
                                                         self.settings)  # fmt: skip
            return self.data, files, classes
        image, instances = self.start if out.copy_index is None else self.copy(augmenter, out.seed or 0)
        if out.copy_index is not None and len(self.start[1]) and not len(instances) and not self.options.keep_empty:
            raise EmptyCopy(f"all {len(self.start[1])} objects left the image (--keep-empty writes it)")
        size = (image.shape[1], image.shape[0])
        files, classes = self.format.render(self.objects, instances, self.label_paths(out), out, size, self.settings)
        return images.encode(image, images.format_of(out.rel_path), quality, order), files, classes

    def sample(self, out: Output, augmenter, quality: int, order: str) -> tuple[bytes, Members, LabelDigest]:
        """(image bytes, label files with their roles, label digest: files' SHA-256 and objects per class) of one
        output, as the sink and the manifest take it."""
        picture, files, classes = self.output(out, augmenter, quality, order)
        roles = self.format.roles(tuple(files))
        members = tuple((role, path, content) for role, (path, content) in zip(roles, files.items(), strict=True))
        digest = (tuple((path, hashlib.sha256(content).hexdigest()) for path, content in files.items()),
                  tuple(sorted(Counter(classes).items())))  # fmt: skip
        return picture, members, digest

    def copy(self, augmenter, seed: int) -> tuple[np.ndarray, Instances]:
        """The source moved by the pipeline with ``seed``: (pixels, instances)."""
        image, instances = self.start
        return move(augmenter, image, instances, seed)

    def instances_of(self, out: Output, augmenter) -> tuple[np.ndarray, Instances]:
        """(pixels, instances) an output shows, for drawing (``preview``)."""
        return self.start if out.copy_index is None else self.copy(augmenter, out.seed or 0)


def options_for(labels, min_visibility: float = 0.1, keep_empty: bool = False) -> LabelOptions:
    """A run's LabelOptions for a dataset's LabelSet."""
    settings = registry.get(labels.format).worker_settings(labels)
    return LabelOptions(labels.format, min_visibility, keep_empty, tuple(sorted(settings.items())))


__all__ = ["EmptyCopy", "Instances", "LabelledSource", "options_for"]
