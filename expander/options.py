"""What ``expand`` is asked to do, declared and validated once: ``ExpandOptions``.

Each option is one field: its default, its help text and how the command line takes it (``opt``). The
CLI's ``expand`` (and the options ``preview``, ``inspect`` and ``verify`` share with it), ``expander.expand``
and the API reference are all derived from these fields, so an option is typed out in one place.
Every option is checked here (albumentations' per-transform ``InitSchema`` habit), so the stages after it
take a value they can trust. Also the small helpers both CLIs use (``default_workers``, ``parse_size``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expander.errors import ExpanderError, PipelineError
from expander.labels.registry import NAMES as LABEL_FORMATS
from expander.labels.registry import TARGETS as LABEL_TARGETS
from expander.limits import DEFAULT_MAX_OUTPUTS, DEFAULT_MAX_PIXELS
from expander.pipeline import DEFAULT_PRESET, PRESETS
from expander.plan import Quota
from expander.shards import FORMATS as SHARD_FORMATS
from expander.storage import is_url, local_path

OUTPUT_FORMATS = ("jpg", "png", "webp")  # what new images may be written as (--format)
BACKENDS = ("local", "ray")
LABEL_CHOICES = ("auto", "none", *LABEL_FORMATS)  # --labels
SHARD_CHOICES = tuple(SHARD_FORMATS)  # --shards
DEFAULT_PER_IMAGE = 5


@dataclass(frozen=True)
class Cli:
    """How the command line takes an option: flags, type, bounds, choices (all optional)."""

    help: str
    flags: tuple[str, ...] = ()  # default: --name-with-dashes; a bool gets --name (or "--a/--no-a")
    type: type = str  # int, float, str, bool or Path
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    exists: bool = False  # a file that must exist
    listed: bool = False  # comma-separated on the command line, a tuple in the library
    argument: bool = False  # positional


def opt(default: Any, help: str, **cli: Any) -> Any:
    """A field of ``ExpandOptions``: its default and how the command line takes it (see ``Cli``)."""
    return field(default=default, metadata={"cli": Cli(help, **cli)})


def cli_of(name: str) -> Cli:
    """The command-line declaration of option ``name``."""
    return _FIELDS[name].metadata["cli"]


def default_out(src: str | os.PathLike) -> Path | str:
    """``<SRC>_expanded`` beside the source folder (or prefix)."""
    if is_url(src):
        return f"{str(src).rstrip('/')}_expanded"
    src = local_path(src).resolve()
    return src.with_name(f"{src.name}_expanded")


def location(place: str | os.PathLike) -> Path | str:
    """A folder as a Path (``file://`` stripped), an object-store URL as it is."""
    return str(place).rstrip("/") if is_url(place) else local_path(place)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_size(size: str | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    """``"64x48"`` or ``(64, 48)`` -> (width, height)."""
    if size is None:
        return None
    try:
        width, height = (int(v) for v in (size.lower().split("x") if isinstance(size, str) else size))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        raise ExpanderError(f"--size must be WIDTHxHEIGHT with positive integers, e.g. 64x64; got {size!r}.")
    return width, height


def _resolved(place: Path | str) -> str:
    return place if isinstance(place, str) else str(place.resolve())


def _path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value)


@dataclass(frozen=True)
class ExpandOptions:
    """A run's options, checked and resolved: ``ExpandOptions(src, **options)`` takes what ``expand`` takes.

    Paths become ``Path`` (URLs stay strings), ``size`` becomes (width, height), ``workers`` defaults to
    the cores available; anything out of range raises ExpanderError naming the option, what it accepts
    and the value given.
    """

    src: Path | str = opt(
        None, "Source: `SRC/<class>/<image>` or `SRC/{train,val,test}/<class>/<image>`, or a labelled dataset (YOLO, "
        "COCO, Pascal VOC, masks); a folder or an object-store URL (s3://bucket/prefix).", argument=True,
        metavar="SRC",
    )  # fmt: skip
    out: Path | str = opt(
        None, "Output folder or object-store URL. [default: `<SRC>_expanded`]", flags=("--out", "-o"), metavar="DST"
    )
    per_image: int | None = opt(
        None, f"New images per selected source image. [default: {DEFAULT_PER_IMAGE} without a quota]", type=int
    )
    balance: bool = opt(False, "Bring every selected class up to the size of the largest.", type=bool)
    target_per_class: int | None = opt(None, "Bring every selected class up to K images.", type=int)
    classes: tuple[str, ...] | None = opt(
        None, "Comma-separated classes to augment; the others are copied. [default: all]", listed=True
    )
    preset: str | None = opt(
        None, f"Augmentation preset (listed below). [default: {DEFAULT_PRESET}]", choices=tuple(PRESETS)
    )
    pipeline: Path | None = opt(
        None, "albumentations pipeline file (JSON or YAML) instead of a preset.", type=Path, exists=True
    )
    style_refs: Path | None = opt(
        None, "Folder of reference images: move each new image toward the style of one (FDA or histogram "
        "matching); after --preset/--pipeline if given, else alone.", type=Path,
    )  # fmt: skip
    generator: Path | None = opt(
        None, "Keras image-to-image model (.keras) that makes the new images instead of a pipeline, e.g. from "
        "train augnet. Two-image models get a partner of the same class, drawn from each output's seed.", type=Path,
    )  # fmt: skip
    seed: int = opt(0, "Run seed: the same command writes byte-identical files.", type=int)
    workers: int = opt(None, "Worker processes. [default: all cores]", flags=("--workers", "-j"), type=int, min=1)
    backend: str = opt(
        "local", "Where jobs run: a local process pool, or Ray tasks (pip install 'dataset-expander[ray]').",
        choices=BACKENDS,
    )  # fmt: skip
    address: str | None = opt(
        None, "With --backend ray: a running cluster, 'auto' or HOST:PORT. [default: start Ray locally]"
    )
    originals: bool = opt(
        True, "Copy the source images into the output too.", flags=("--originals/--no-originals",), type=bool
    )
    format: str | None = opt(None, "Format of new images. [default: each source's format]", choices=OUTPUT_FORMATS)
    quality: int = opt(95, "JPEG/WebP quality.", type=int, min=1, max=100)
    size: tuple[int, int] | None = opt(None, "Resize every written image to WxH, e.g. 64x64.")
    resume: bool = opt(False, "Finish an interrupted run in --out (same arguments).", type=bool)
    overwrite: bool = opt(False, "Replace a previous expander output in --out.", type=bool)
    dry_run: bool = opt(False, "Show the plan and write nothing.", type=bool)
    max_pixels: int | None = opt(
        DEFAULT_MAX_PIXELS, "Fail any image whose header claims more pixels (decompression bombs).", type=int, min=1
    )
    max_outputs: int | None = opt(
        DEFAULT_MAX_OUTPUTS, "Refuse a plan of more output files than this (a mistyped quota).", type=int, min=1
    )
    space_check: bool = opt(
        True, "Refuse a plan whose estimated size exceeds the free disk space.",
        flags=("--space-check/--no-space-check",), type=bool,
    )  # fmt: skip
    labels: str = opt(
        "auto", "A labelled dataset's format: boxes, polygons, masks and keypoints move with the pixels and are "
        "written in the same format; --classes and quotas then count object classes. auto detects it; none reads "
        "class folders.", choices=LABEL_CHOICES,
    )  # fmt: skip
    to: str | None = opt(
        None, "Write the labels in this format instead of the source's (expand and convert in one pass); what "
        "it cannot hold (polygons in a boxes-only format, keypoints) is said before the run.", choices=LABEL_TARGETS,
    )  # fmt: skip
    skip_bad_labels: bool = opt(
        False, "Leave out label lines (and entries) that cannot be read, and images whose labels cannot be read at "
        "all, instead of stopping before anything is written; each is reported.", type=bool,
    )  # fmt: skip
    min_visibility: float = opt(
        0.1, "Drop a copied box whose area left inside the image is below this fraction.", type=float, min=0, max=1
    )
    keep_empty: bool = opt(
        False, "Write a copy whose objects all left the image (default: record it as empty, skip it).", type=bool
    )
    exclude: Path | None = opt(
        None, "Duplicates file from expander inspect --duplicates: leave out the files it drops (train copies of "
        "val/test images, all but one of each duplicate group). SRC is never changed.", type=Path, exists=True,
    )  # fmt: skip
    shards: str | None = opt(
        None, "Write the outputs into shards, one set per split, in a seeded order that mixes classes, instead of "
        "one file each: webdataset (tar), tfrecord (tf.train.Example) or parquet (a row per sample; pip install "
        "'dataset-expander[parquet]'). Labelled samples carry their label files. Byte-identical for any --workers.",
        choices=SHARD_CHOICES,
    )  # fmt: skip
    shard_size: str = opt("100MB", "When a shard is full: samples (1000) or bytes of images (100MB, 1GB).")

    def __post_init__(self) -> None:
        if self.src is None:
            raise ExpanderError("expand needs a source folder or URL (SRC).")
        resolved = {
            "src": location(self.src),
            "out": location(self.out) if self.out is not None else default_out(self.src),
            "per_image": self.per_image
            if self.per_image is not None or self.balance or self.target_per_class is not None
            else DEFAULT_PER_IMAGE,
            "classes": tuple(self.classes) if self.classes else None,
            "workers": default_workers() if self.workers is None else self.workers,
            "size": parse_size(self.size),
            **{name: _path(getattr(self, name)) for name in ("pipeline", "style_refs", "generator", "exclude")},
        }
        for name, value in resolved.items():
            object.__setattr__(self, name, value)
        self.check()

    @property
    def quota(self) -> Quota:
        return Quota(per_image=self.per_image, balance=self.balance, target_per_class=self.target_per_class)

    def check(self) -> None:
        self.quota  # noqa: B018 - Quota checks that exactly one is set and none is negative
        if self.generator is not None and (self.preset or self.pipeline or self.style_refs):
            raise PipelineError(
                "--generator makes the new images itself; leave out --preset, --pipeline and --style-refs."
            )
        if self.preset and self.pipeline:
            raise PipelineError("Give either --preset or --pipeline, not both.")
        for name in ("preset", "backend", "format", "labels", "to", "shards"):
            choices, value = cli_of(name).choices or (), getattr(self, name)
            if value is not None and value not in choices:
                raise ExpanderError(f"--{name} must be one of {', '.join(choices)}; got {value!r}.")
        for name in ("workers", "quality", "max_pixels", "max_outputs", "min_visibility"):
            declared, value = cli_of(name), getattr(self, name)
            low, high = declared.min, declared.max
            if value is not None and ((low is not None and value < low) or (high is not None and value > high)):
                bounds = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
                raise ExpanderError(f"--{name.replace('_', '-')} must be {bounds}; got {value}.")
        if self.address is not None and self.backend != "ray":
            raise ExpanderError("--address needs --backend ray.")
        if self.shards is not None:
            from expander.sinks.shards import ShardSize  # lazy: the shard writers (~60 ms) only when --shards is given

            ShardSize.parse(self.shard_size)
        if self.size and self.max_pixels is not None and self.size[0] * self.size[1] > self.max_pixels:
            width, height = self.size
            raise ExpanderError(
                f"--size {width}x{height} is {width * height:,} pixels per image, over --max-pixels "
                f"{self.max_pixels:,}. Choose a smaller --size, or raise --max-pixels if you mean it."
            )

    def arguments(self) -> dict[str, Any]:
        """The options as ``expander.json`` records them (what --resume compares)."""
        uses_preset = not (self.pipeline or self.generator or (self.style_refs and not self.preset))
        return {
            "source": _resolved(self.src),
            "out": _resolved(self.out),
            "per_image": self.per_image,
            "balance": self.balance,
            "target_per_class": self.target_per_class,
            "classes": list(self.classes) if self.classes else None,
            "preset": (self.preset or DEFAULT_PRESET) if uses_preset else None,
            "pipeline_file": str(self.pipeline) if self.pipeline else None,
            "style_refs": str(self.style_refs.resolve()) if self.style_refs else None,
            "generator": str(self.generator.resolve()) if self.generator else None,
            "seed": self.seed,
            "workers": self.workers,
            "backend": self.backend,
            "address": self.address,
            "originals": self.originals,
            "format": self.format,
            "quality": self.quality,
            "size": list(self.size) if self.size else None,
            "max_pixels": self.max_pixels,
            "labels": self.labels,
            "to": self.to,
            "skip_bad_labels": self.skip_bad_labels,
            "min_visibility": self.min_visibility,
            "keep_empty": self.keep_empty,
            "exclude": str(self.exclude.resolve()) if self.exclude else None,
            "shards": self.shards,
            "shard_size": self.shard_size if self.shards else None,
        }


_FIELDS = {f.name: f for f in dataclasses.fields(ExpandOptions)}
OPTION_NAMES = tuple(name for name in _FIELDS if name != "src")  # what expand() takes besides SRC
FIELD_DEFAULTS = {name: f.default for name, f in _FIELDS.items()}

# Arguments that change what is written; --resume refuses to mix runs that differ in any.
OUTPUT_ARGUMENTS = (
    "source", "per_image", "balance", "target_per_class", "classes", "seed",
    "originals", "format", "quality", "size", "max_pixels", "labels", "to", "skip_bad_labels", "min_visibility",
    "keep_empty",
    "exclude", "shards", "shard_size",
)  # fmt: skip
