"""What a sink is: ``Sample`` (one output as a worker made it), ``Stored`` (where an output is, for its manifest
row), ``Writer`` (a sink's part in every worker) and ``Sink`` (its part in the main process).

A sink is chosen once, where a run starts (``expander.sinks.open_sink``); workers, the manifest, resume,
overwrite and verify ask it, and never which kind it is. Compare img2dataset's writers: one ``write(sample)``
and ``close()``, chosen from ``output_format``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from expander.execute import JobResult
    from expander.labels.base import Read
    from expander.plan import Job, Plan
    from expander.storage import Store

ORIGINAL_COPY = 0  # an original's copy index in every output kind (the manifest writes "original")
NO_SEED = -1  # an original's seed in every shard format


@dataclass(frozen=True)
class Sample:
    """One output as a worker made it: its path in the output, its image, its label files (role, path, bytes;
    written before the image), and what its shard record says of it."""

    output: str
    image: bytes
    labels: tuple[tuple[str, str, bytes], ...] = ()
    source: str = ""
    class_name: str = ""
    split: str | None = None
    copy: int = ORIGINAL_COPY
    seed: int = NO_SEED

    def meta(self) -> dict[str, Any]:
        return {"output": self.output, "source": self.source, "class": self.class_name, "split": self.split,
                "copy": self.copy, "seed": self.seed}  # fmt: skip


@dataclass(frozen=True)
class Stored:
    """An output that is in the sink: its image's size and SHA-256, its label files' paths and SHA-256s, the
    objects in them per class, and for a shard sink the member that holds it."""

    size: int | None  # None: there, but not looked at (counts only)
    sha256: str
    labels: tuple[tuple[str, str], ...] = ()
    objects: tuple[tuple[int, int], ...] | None = None  # (class index, objects) in its label files
    member: str = ""


class Writer(Protocol):
    """A sink's part in each worker (pickled to it): put one output."""

    def put(self, sample: Sample) -> Sample | None:
        """Store it (None), or hand it back for the main process to pack (a shard sink). OSError when it cannot
        be written (the worker records it, or stops the run on a full disk)."""
        ...


class Sink(Protocol):
    """A sink's part in the main process."""

    kind: str  # "files", "webdataset", "tfrecord", "parquet"
    store: Store

    def writer(self) -> Writer:
        """What the workers put outputs into."""
        ...

    def order(self, plan: Plan) -> Plan:
        """The plan in the order this sink wants its jobs (shards: a seeded order that mixes classes)."""
        ...

    def resume(self, plan: Plan) -> Plan:
        """The plan with each job's outputs already in the sink marked done (``--resume``)."""
        ...

    def add(self, result: JobResult) -> None:
        """Take a job's result (any order). OSError: the sink could not write (the run stops, resumable)."""
        ...

    def finish(self) -> None:
        """Write what is still held (a last, part-filled shard)."""
        ...

    def take_written(self) -> list[JobResult]:
        """The results whose outputs are now durably in the sink, since the last call."""
        ...

    def stored(self, job: Job, output: str, fresh: Stored | None, labels: LabelFiles | None) -> Stored | None:
        """What the manifest records of one output: ``fresh`` as its worker reported it, completed by the
        sink (a shard member), or for an output written before this run what the sink holds (None: not there).
        ``labels`` says where its label files are and counts their objects."""
        ...

    def left_by_stop(self, plan: Plan, finished: Iterable[str]) -> Plan:
        """After an interrupted or stopped run: the plan with what the unfinished jobs left in the sink done."""
        ...

    def index(self) -> dict[str, Any] | None:
        """What the run summary records of the sink (a shard index), or None."""
        ...

    def close_run(self) -> None:
        """Write the sink's own bookkeeping (``shards.json``) when the run ends, before the manifest."""
        ...

    def put_dataset_files(self, make: Callable[[Read], dict[str, bytes]]) -> dict[str, str]:
        """Write the dataset-level label files (data.yaml, the COCO JSON, VOC's lists; none for class folders)
        that ``make`` builds from the outputs, read back through the ``Read`` it is given; name -> SHA-256 of
        each written. They describe a tree of files: a shard sink carries each sample's labels as members and
        the class list in ``shards.json``, so it writes none."""
        ...


@dataclass(frozen=True)
class LabelFiles:
    """How a sink finds an output's label files and counts their objects (a labelled run's format)."""

    paths: Callable[[Job, str], tuple[str, ...]]
    count: Callable[[dict[str, bytes]], dict[int, int]]
