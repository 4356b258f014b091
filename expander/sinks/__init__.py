"""Where a run's outputs go: a ``Sink``, chosen once where the run starts (``open_sink``).

* ``files`` (``FileSink``): one file per output and per label file, the workers write them;
* ``webdataset``, ``tfrecord``, ``parquet`` (``ShardSink``): outputs packed into shard files by the main
  process, in a seeded order.

Each works over a ``Store`` (a local folder, or an object-store prefix through fsspec), for class folders
and labelled datasets alike. A new kind is a class with the ``base.Sink`` methods, and its line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from expander.shards import FORMATS

if TYPE_CHECKING:
    from expander.dataset import Dataset
    from expander.sinks.base import LabelFiles, Sink
    from expander.storage import Store

KINDS = ("files", *FORMATS)


def open_sink(
    kind: str, store: Store, dataset: Dataset, *, seed: int = 0, shard_size: str = "100MB",
    labels: LabelFiles | None = None,
) -> Sink:  # fmt: skip
    """The sink of a run: ``kind`` is "files" or a shard format."""
    if kind == "files":
        from expander.sinks.files import FileSink  # lazy: each sink's writers (~60 ms) only for the sink a run opens

        return FileSink(store, labels)
    # lazy: each sink's writers (~60 ms) only for the sink a run opens
    from expander.sinks.shards import ShardSink, ShardSize

    return ShardSink(store, kind, ShardSize.parse(shard_size), seed, dataset.classes, dataset.splits, labels,
                     dataset.labels is not None)  # fmt: skip


def kind_of(summary: dict[str, Any]) -> str:
    """The sink a run summary says its run wrote into."""
    shards = summary.get("shards")
    return str(shards.get("format")) if isinstance(shards, dict) and shards.get("format") in FORMATS else "files"


def sink_files(summary: dict[str, Any]) -> list[str]:
    """The files a run's sink wrote besides its outputs' own (its shards and their index)."""
    shards = summary.get("shards")
    if not isinstance(shards, dict):
        return []
    return [f for f in [*shards.get("files", []), shards.get("index", "")] if isinstance(f, str) and f]
