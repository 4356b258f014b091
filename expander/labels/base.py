"""What a label format is: ``LabelFormat``, the one class a format implements, and the plain data it reads
into (``Objects`` per image, ``LabelSet`` per dataset) and runs with (``LabelOptions``).

A format owns everything that depends on it: finding its layout, reading it, turning an image's labels
into ``Instances`` in pixels, writing an output's label files from moved instances, the dataset-level files
(data.yaml, the COCO JSON, VOC's lists), and checking all of them for ``verify``. ``registry`` chooses one
per dataset; nothing else asks which format a dataset is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from expander.dataset import Item
    from expander.labels.instances import Instances
    from expander.labels.tree import Tree
    from expander.plan import Output

Read = Callable[[str], bytes]  # a file of the dataset (or of the output) by its relative path
Files = dict[str, bytes]  # an output's label files: path -> bytes, in the order they are written


@dataclass(frozen=True)
class Written:
    """An output on disk, as the dataset-level files need it: its path, its source, split and label files."""

    output: str
    source: str
    split: str | None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Objects:
    """One image's labels as read. ``records`` holds the format's own record of each usable object (a YOLO
    line's values, a COCO annotation, a VOC ``<object>`` element as text, a mask id), ``head`` the format's own
    record of the image (COCO's image entry, VOC's document without its objects), so an output keeps what the
    format stores besides boxes. The source's label files are never changed.

    ``problems`` are objects left out (a zero-size box, a box outside the image: real exports have them);
    ``errors`` are lines or entries that cannot be read at all, which stop a run unless it skips them (then
    the lines are left out, and an image whose labels are ``unreadable`` as a whole is left out).
    """

    label_files: tuple[str, ...] = ()  # the source's own label files of this image (relative paths)
    classes: tuple[int, ...] = ()  # class index per usable object, into LabelSet.names
    records: tuple[Any, ...] = ()
    head: Any = None
    problems: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    unreadable: bool = False  # the image's labels cannot be read as a whole (not only some lines of them)

    @property
    def count(self) -> int:
        """How many usable objects the image has (0 for a background image)."""
        return len(self.classes)


@dataclass(frozen=True)
class LabelSet:
    """What a labelled dataset is, beyond its images."""

    format: str  # a registry name
    names: tuple[str, ...]  # class names, by class index
    files: tuple[str, ...] = ()  # dataset-level label files read (data.yaml, COCO JSON, ImageSets lists)
    orphans: tuple[str, ...] = ()  # label files (or entries) with no image
    notes: tuple[str, ...] = ()  # what the reader decided that a user should know (a split read from a name)
    errors: tuple[str, ...] = ()  # dataset-level entries that cannot be read (duplicate COCO image ids, ...)
    details: dict[str, Any] = field(default_factory=dict, hash=False)  # the format's own, for its other methods


@dataclass(frozen=True)
class LabelOptions:
    """How a run handles labels, sent to every worker: the format, ``--min-visibility``, ``--keep-empty``, and
    the little of the dataset the format needs per image (``LabelFormat.worker_settings``)."""

    format: str
    min_visibility: float = 0.1
    keep_empty: bool = False
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def setting(self) -> dict[str, Any]:
        return dict(self.settings)


class LabelFormat:
    """One label format. Subclasses set ``name`` and implement every method below that raises."""

    name = ""
    description = ""  # the layout it reads, for error messages and docs
    copies_labels = True  # an original's label files are the source's, byte for byte (not when converting: --to)

    # --- reading (main process) ---------------------------------------------------------------------------
    def coverage(self, tree: Tree) -> int:
        """How many images under ``tree`` have labels laid out as this format publishes them (0: none). The
        format that labels the most images is the dataset's: Ultralytics' COCO ships a COCO JSON for val only
        beside YOLO labels for every split."""
        raise NotImplementedError

    def read(self, tree: Tree) -> tuple[list[Item], LabelSet]:
        """Every image of the dataset (background images included) with its ``Objects``, and the ``LabelSet``."""
        raise NotImplementedError

    def worker_settings(self, labels: LabelSet) -> dict[str, Any]:
        """What workers need of the dataset besides each image's ``Objects`` (small: it is sent to each)."""
        return {}

    def masked(self, objects: Objects) -> int:
        """How many of an image's objects move as full-frame masks (their memory is bounded: MAX_MASK_BYTES)."""
        return 0

    # --- one output (workers) ------------------------------------------------------------------------------
    def instances(self, objects: Objects, height: int, width: int, read: Read, settings: dict[str, Any]) -> Instances:
        """An image's objects in its pixel frame (``read`` gives the dataset's files, e.g. mask PNGs)."""
        raise NotImplementedError

    def label_paths(self, objects: Objects | None, source: str, output: str) -> tuple[str, ...]:
        """Where an output's label files go (none for an original without a label file of its own)."""
        raise NotImplementedError

    def original_labels(self, objects: Objects, source: str, read: Read) -> Files:
        """An original's label files as the dataset has them, under the output's paths (copied byte for byte)."""
        paths = self.label_paths(objects, source, source)
        return {path: read(own) for path, own in zip(paths, objects.label_files, strict=False)}

    def render(
        self,
        objects: Objects,
        moved: Instances,
        paths: tuple[str, ...],
        out: Output,
        size: tuple[int, int],
        settings: dict[str, Any],
    ) -> tuple[Files, list[int]]:
        """An output's label files (at ``paths``, from ``label_paths``) from its moved instances (``size``:
        width, height), and the class of each object written. ``out.copy_index`` is None for an original
        (resized)."""
        raise NotImplementedError

    def outlines(self, objects: Objects, height: int, width: int) -> list[list[list[float]] | None]:
        """Each object's polygon as the source has it ([[x, y], ...] in pixels; None for one without), so a
        converted original keeps its exact outline (``--to``); by default none."""
        return [None] * objects.count

    def render_original(self, objects: Objects, instances: Instances, paths: tuple[str, ...], out: Output,
                        size: tuple[int, int], settings: dict[str, Any]) -> tuple[Files, list[int]]:  # fmt: skip
        """An original's label files written anew, its image unchanged (a format that does not copy them:
        ``copies_labels`` False)."""
        return self.render(objects, instances, paths, out, size, settings)

    def roles(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        """What each of an output's label files is, for shard members and columns (``labels``, ``coco``...)."""
        return (self.name,) * len(paths)

    # --- checking (resume, verify) -------------------------------------------------------------------------
    def count(self, files: Files, labels: LabelSet) -> dict[int, int]:
        """How many objects of each class written label files hold."""
        raise NotImplementedError

    def check(self, files: Files, height: int, width: int, labels: LabelSet) -> str:
        """Why an output's label files are not valid labels of an image of that size ("" when they are)."""
        raise NotImplementedError

    # --- the dataset's own files ---------------------------------------------------------------------------
    def dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> Files:
        """The output's dataset-level files from what was written, in plan order (``read`` gives the output's
        files)."""
        return {}

    def check_dataset_files(self, labels: LabelSet, written: list[Written], read: Read) -> list[str]:
        """What is wrong with the output's dataset-level files, compared with the source's (``labels``) and with
        what the manifest says was written; one line per problem, naming the file. By default: each must be what
        ``dataset_files`` makes of what was written."""
        problems = []
        for name, expected in self.dataset_files(labels, written, read).items():
            try:
                found = read(name)
            except OSError:
                problems.append(f"{name}: missing")
                continue
            if found != expected:
                problems.append(f"{name}: differs from what the images written need")
        return problems
