"""What ``expand`` is asked to do, validated once: ``ExpandOptions``.

Every option is checked here (albumentations' per-transform ``InitSchema`` habit), so the stages
after it take a value they can trust, and ``expand`` reads as the pipeline it runs. Also the small
helpers both CLIs use to resolve options (``default_workers``, ``parse_size``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expander.errors import ExpanderError, PipelineError
from expander.limits import DEFAULT_MAX_OUTPUTS, DEFAULT_MAX_PIXELS
from expander.pipeline import DEFAULT_PRESET
from expander.plan import Quota
from expander.storage import is_url, local_path

OUTPUT_FORMATS = ("jpg", "png", "webp")  # what new images may be written as (--format)
BACKENDS = ("local", "ray")
DEFAULT_PER_IMAGE = 5
# Arguments that change what is written; --resume refuses to mix runs that differ in any.
OUTPUT_ARGUMENTS = (
    "source", "per_image", "balance", "target_per_class", "classes", "seed",
    "originals", "format", "quality", "size", "max_pixels", "labels", "min_visibility", "keep_empty", "exclude",
    "shards", "shard_size",
)  # fmt: skip
LABEL_CHOICES = ("auto", "none", "yolo", "coco", "voc", "masks")  # --labels


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


def parse_size(size: str | tuple[int, int] | None) -> tuple[int, int] | None:
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


@dataclass(frozen=True)
class ExpandOptions:
    """A run's options, checked and resolved (defaults filled in, paths made ``Path``, size parsed).

    Build it with ``ExpandOptions.create(...)``, which takes the arguments of ``expander.expand``.
    """

    src: Path | str  # a folder, or an object-store URL (s3://bucket/prefix)
    out: Path | str
    quota: Quota
    classes: tuple[str, ...] | None = None
    preset: str | None = None
    pipeline_file: Path | None = None
    style_refs: Path | None = None
    generator: Path | None = None
    seed: int = 0
    workers: int = 1
    backend: str = "local"
    address: str | None = None
    originals: bool = True
    format: str | None = None
    quality: int = 95
    size: tuple[int, int] | None = None
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_outputs: int | None = DEFAULT_MAX_OUTPUTS
    space_check: bool = True
    labels: str = "auto"  # a labelled dataset's format (see LABEL_CHOICES); "none": class folders
    min_visibility: float = 0.1
    keep_empty: bool = False
    exclude: Path | None = None  # a duplicates file from inspect --duplicates: its dropped files are left out
    shards: str | None = None  # "webdataset" or "tfrecord": write shards instead of files
    shard_size: str = "100MB"  # samples ("1000") or bytes ("100MB") per shard

    @property
    def scan_labels(self) -> str | None:
        """What ``scan`` is told: a format, "auto", or None for class folders."""
        return None if self.labels == "none" else self.labels

    @classmethod
    def create(
        cls,
        src: str | os.PathLike,
        out: str | os.PathLike | None = None,
        *,
        per_image: int | None = None,
        balance: bool = False,
        target_per_class: int | None = None,
        classes: list[str] | tuple[str, ...] | None = None,
        preset: str | None = None,
        pipeline: str | os.PathLike | None = None,
        style_refs: str | os.PathLike | None = None,
        generator: str | os.PathLike | None = None,
        workers: int | None = None,
        size: str | tuple[int, int] | None = None,
        exclude: str | os.PathLike | None = None,
        **rest: Any,
    ) -> ExpandOptions:
        """Check every option; raise ExpanderError naming the option, its allowed values and the value given."""
        if per_image is None and not balance and target_per_class is None:
            per_image = DEFAULT_PER_IMAGE
        if generator is not None and (preset or pipeline or style_refs):
            raise PipelineError(
                "--generator makes the new images itself; leave out --preset, --pipeline and --style-refs."
            )
        if preset and pipeline:
            raise PipelineError("Give either --preset or --pipeline, not both.")
        options = cls(
            src=location(src),
            out=location(out) if out is not None else default_out(src),
            quota=Quota(per_image=per_image, balance=balance, target_per_class=target_per_class),
            classes=tuple(classes) if classes else None,
            preset=preset,
            pipeline_file=Path(pipeline) if pipeline is not None else None,
            style_refs=Path(style_refs) if style_refs is not None else None,
            generator=Path(generator) if generator is not None else None,
            workers=default_workers() if workers is None else workers,
            size=parse_size(size),
            exclude=Path(exclude) if exclude is not None else None,
            **rest,
        )
        options.check()
        return options

    def check(self) -> None:
        if self.shards is not None:
            from expander.shards import FORMATS
            from expander.shards.sink import ShardSize

            if self.shards not in FORMATS:
                raise ExpanderError(f"--shards must be one of {', '.join(FORMATS)}; got {self.shards!r}.")
            ShardSize.parse(self.shard_size)
        if self.labels not in LABEL_CHOICES:
            raise ExpanderError(f"--labels must be one of {', '.join(LABEL_CHOICES)}; got {self.labels!r}.")
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ExpanderError(f"--min-visibility must be between 0 and 1; got {self.min_visibility}.")
        if self.workers < 1:
            raise ExpanderError(f"--workers must be 1 or more; got {self.workers}.")
        if self.backend not in BACKENDS:
            raise ExpanderError(f"--backend must be 'local' or 'ray'; got {self.backend!r}.")
        if self.address is not None and self.backend != "ray":
            raise ExpanderError("--address needs --backend ray.")
        if self.format is not None and self.format not in OUTPUT_FORMATS:
            raise ExpanderError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}; got {self.format!r}.")
        if not 1 <= self.quality <= 100:
            raise ExpanderError(f"--quality must be between 1 and 100; got {self.quality}.")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ExpanderError(f"--max-pixels must be 1 or more; got {self.max_pixels}.")
        if self.size and self.max_pixels is not None and self.size[0] * self.size[1] > self.max_pixels:
            width, height = self.size
            raise ExpanderError(
                f"--size {width}x{height} is {width * height:,} pixels per image, over --max-pixels "
                f"{self.max_pixels:,}. Choose a smaller --size, or raise --max-pixels if you mean it."
            )

    def arguments(self) -> dict[str, Any]:
        """The options as ``expander.json`` records them (what --resume compares)."""
        uses_preset = not (self.pipeline_file or self.generator or (self.style_refs and not self.preset))
        return {
            "source": _resolved(self.src),
            "out": _resolved(self.out),
            "per_image": self.quota.per_image,
            "balance": self.quota.balance,
            "target_per_class": self.quota.target_per_class,
            "classes": list(self.classes) if self.classes else None,
            "preset": (self.preset or DEFAULT_PRESET) if uses_preset else None,
            "pipeline_file": str(self.pipeline_file) if self.pipeline_file else None,
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
            "min_visibility": self.min_visibility,
            "keep_empty": self.keep_empty,
            "exclude": str(self.exclude.resolve()) if self.exclude else None,
            "shards": self.shards,
            "shard_size": self.shard_size if self.shards else None,
        }
