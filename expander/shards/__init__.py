"""Shard formats: WebDataset tars, TFRecord files and Parquet files, written and read back.

Each format is a module with ``EXTENSION``, ``write(samples, out)`` and ``read(data)``; this package names
them (``FORMATS``, light enough for ``--help``) and dispatches to them. ``expander.sinks.shards`` packs a
run's outputs into shards of any of them. A sample is the same in all three:

* ``key``: its number in the split's shard set (``000000012``), in shard order;
* the image's bytes and extension (``jpg``, ``png``, ``webp``: the output's own format);
* ``label``: its class index into ``shards.json``'s ``classes`` (class folders; -1 for a labelled dataset,
  whose classes are its objects');
* ``meta``: its manifest facts, ``output``, ``source``, ``class``, ``split``, ``copy`` (0 for the original,
  1.. for copies) and ``seed`` (-1 for the original);
* a labelled dataset's label files, by role (``labels``: YOLO's .txt, ``coco``: the image's COCO JSON,
  ``voc``: the XML, ``segclass``/``segobject``: VOC's PNGs, ``mask``: a mask PNG), with their paths in
  ``meta["labels"]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

FORMATS = {"webdataset": ".tar", "tfrecord": ".tfrecord", "parquet": ".parquet"}
_MODULES = {"webdataset": "expander.shards.webdataset", "tfrecord": "expander.shards.tfrecord",
            "parquet": "expander.shards.parquet"}  # fmt: skip


@dataclass(frozen=True)
class ShardSample:
    """One sample of a shard (see the module docstring)."""

    key: str
    image: bytes
    ext: str
    label: int
    meta: dict[str, Any]
    labels: tuple[tuple[str, bytes], ...] = field(default=())  # (role, bytes) of each label file


class Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


def write(format: str, samples: list[ShardSample], out: Writable, classes: list[str]) -> None:
    """Write a shard's samples to ``out``, in order (``classes``: the run's class names)."""
    importlib.import_module(_MODULES[format]).write(samples, out, classes)


def read(format: str, data: bytes) -> Iterator[ShardSample]:
    """A shard's samples, in order. ValueError (or KeyError) when it is not a readable shard of that format."""
    return importlib.import_module(_MODULES[format]).read(data)


def shard_file(format: str, split: str | None, number: int) -> str:
    name = f"shard-{number:06d}{FORMATS[format]}"
    return f"{split}/{name}" if split else name
