"""``ShardSink``: outputs in, shard files out, in an order that does not depend on who finished first."""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from expander.errors import ExpanderError
from expander.images import TEMP_SUFFIX, format_of
from expander.plan import Job, output_seed
from expander.shards.formats import FORMATS, SampleRecord, decode, write
from expander.storage import Store

INDEX_NAME = "shards.json"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kb|mb|gb|k|m|g)?\s*$", re.IGNORECASE)


class _Hashing:
    """A file being written, with its size and SHA-256 kept as it goes."""

    def __init__(self, f) -> None:
        self.f, self.size, self.sha = f, 0, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.sha.update(data)
        self.size += len(data)


@dataclass(frozen=True)
class ShardSize:
    """When a shard is full: at ``samples`` samples, or at ``bytes`` bytes of images (whichever is set)."""

    samples: int | None = None
    bytes: int | None = None

    @classmethod
    def parse(cls, text: str) -> ShardSize:
        """``"1000"`` (samples) or ``"100MB"`` / ``"1.5GB"`` (bytes)."""
        match = _SIZE.match(str(text))
        if not match or float(match[1]) <= 0:
            raise ExpanderError(
                f"--shard-size must be a number of samples (1000) or a size (100MB, 1GB); got {text!r}."
            )
        number, unit = float(match[1]), (match[2] or "").lower()
        if not unit:
            return cls(samples=int(number))
        return cls(bytes=int(number * {"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9}[unit]))

    def full(self, samples: int, size: int) -> bool:
        return (self.samples is not None and samples >= self.samples) or (self.bytes is not None and size >= self.bytes)


@dataclass
class Shard:
    """A shard as written: its file (relative to the output folder), samples, bytes and SHA-256."""

    file: str
    samples: int
    bytes: int
    sha256: str


@dataclass
class _Open:
    split: str | None
    number: int
    samples: list[SampleRecord] = field(default_factory=list)
    digests: dict[str, tuple[int, str]] = field(default_factory=dict)  # output -> (size, SHA-256)
    size: int = 0
    results: list = field(default_factory=list)  # the JobResults whose samples it holds


def shard_order(jobs: Iterable[Job], seed: int, splits: tuple[str | None, ...]) -> list[Job]:
    """Jobs split by split (in the dataset's split order), each split's in a seeded shuffled order."""
    jobs = list(jobs)
    order = {j.source: output_seed(seed, j.source, -2) for j in jobs}
    return [j for s in splits for j in sorted((j for j in jobs if j.split == s), key=lambda j: order[j.source])]


def shard_file(format: str, split: str | None, number: int) -> str:
    name = f"shard-{number:06d}{FORMATS[format]}"
    return f"{split}/{name}" if split else name


class ShardSink:
    """Takes each job's result with its outputs' bytes (any order) and writes shards in plan order.

    ``take_written`` returns the results whose samples are now in a shard on disk: only those count as
    written. It is separate from ``add`` because one ``add`` may complete several shards and then fail on the
    next (disk full): the shards already on disk must still be recorded.
    ``located`` maps each output written to (shard member, size, SHA-256), for the manifest.
    """

    INDEX_NAME = INDEX_NAME  # where ``index()`` is written

    def __init__(
        self, store: Store, format: str, size: ShardSize, seed: int, classes: tuple[str, ...], jobs: list[Job]
    ) -> None:
        self.store, self.format, self.size, self.seed = store, format, size, seed
        self.classes = {c: i for i, c in enumerate(classes)}
        self.order = [j for j in jobs if len(j.done) < j.size]  # what still runs, in shard order
        self.jobs = {j.source: j for j in self.order}
        self.position = 0
        self.waiting: dict[str, object] = {}
        self.open: _Open | None = None
        self.shards: dict[str | None, list[Shard]] = {}
        self.located: dict[str, tuple[str, int, str]] = {}
        self.keys: dict[str | None, int] = {}
        self.written: list = []  # results in complete shards, not yet taken

    def resume(self, completed: dict[str | None, list[Shard]], samples: dict[str, tuple[str, int, str]]) -> None:
        """Continue after the shards a previous run completed (see ``completed_shards``)."""
        self.shards = {split: list(found) for split, found in completed.items()}
        self.located.update(samples)
        for split, found in completed.items():
            self.keys[split] = sum(s.samples for s in found)

    def add(self, result) -> None:
        """Take one job's result; write every shard it completes (OSError: a shard could not be written)."""
        self.waiting[result.source] = result
        while self.position < len(self.order) and self.order[self.position].source in self.waiting:
            job = self.order[self.position]
            self.position += 1
            self._take(job, self.waiting.pop(job.source))

    def finish(self) -> None:
        """Write the last, partly filled shard of the split in progress."""
        if self.open is not None:
            self._flush()

    def take_written(self) -> list:
        """The results whose samples went into shards on disk since the last call."""
        written, self.written = self.written, []
        return written

    def _take(self, job: Job, result) -> None:
        if self.open is not None and self.open.split != job.split:
            self._flush()
        if self.open is None:
            self.open = _Open(job.split, len(self.shards.get(job.split, [])))
        shard = self.open
        payloads = result.payloads or (b"",) * len(job.pending)  # none: the source itself failed
        for position, (out, payload) in enumerate(zip(job.pending, payloads, strict=True)):
            if not payload:
                continue  # failed: recorded as such
            shard.digests[out.rel_path] = result.digest(position)  # the worker's: no need to hash it again
            key = f"{self.keys.get(job.split, 0):09d}"
            self.keys[job.split] = self.keys.get(job.split, 0) + 1
            meta = {"output": out.rel_path, "source": job.source, "class": job.class_name, "split": job.split,
                    "copy": out.copy_index, "seed": out.seed}  # fmt: skip
            shard.samples.append(
                SampleRecord(key, payload, format_of(out.rel_path), self.classes[job.class_name], meta)
            )
            shard.size += len(payload)
        shard.results.append(result)
        if self.size.full(len(shard.samples), shard.size):
            self._flush()

    def _flush(self) -> None:
        shard, self.open = self.open, None
        assert shard is not None
        samples = list(shard.samples)
        random.Random(output_seed(self.seed, f"{shard.split}/{shard.number}", -3)).shuffle(samples)  # mix copies
        name = shard_file(self.format, shard.split, shard.number)
        # Streamed to a temporary file, then renamed into place (or uploaded whole): complete or not at all.
        tmp = self.store.temp_dir() / f".{name.replace('/', '_')}.{os.getpid()}{TEMP_SUFFIX}"
        try:
            with open(tmp, "wb") as f:
                hashing = _Hashing(f)
                write(self.format, samples, hashing)
            self.store.put_file(tmp, name)
        finally:
            tmp.unlink(missing_ok=True)
        self.shards.setdefault(shard.split, []).append(Shard(name, len(samples), hashing.size, hashing.sha.hexdigest()))
        for s in samples:
            size, sha = shard.digests[s.meta["output"]]
            self.located[s.meta["output"]] = (f"{name}#{s.key}.{s.ext}", size, sha)
        self.written += shard.results

    def index(self) -> dict:
        """What ``shards.json`` holds."""
        return {
            "format": self.format,
            "classes": list(self.classes),
            "splits": {split or "all": [vars(s) for s in found] for split, found in self.shards.items()},
            "files": [s.file for found in self.shards.values() for s in found],
            "samples": sum(s.samples for found in self.shards.values() for s in found),
        }


def completed_shards(store: Store, format: str, splits: tuple[str | None, ...]):
    """The shards a previous run left complete (each split's unbroken prefix), and where each output is."""
    completed: dict[str | None, list[Shard]] = {}
    located: dict[str, tuple[str, int, str]] = {}
    present = set(store.files())
    for split in splits:
        number = 0
        while (name := shard_file(format, split, number)) in present:
            data = store.read(name)
            try:
                samples = list(decode(format, data))
            except (ValueError, KeyError, OSError):
                break  # not one of ours, or damaged: it and what follows are written again
            completed.setdefault(split, []).append(_shard(name, samples, data))
            located.update(_locations(name, samples))
            number += 1
    return completed, located


def _shard(name: str, samples: list[SampleRecord], data: bytes) -> Shard:
    return Shard(name, len(samples), len(data), hashlib.sha256(data).hexdigest())


def _locations(name: str, samples: list[SampleRecord]) -> dict[str, tuple[str, int, str]]:
    """Output path -> (shard member, size, SHA-256) of each sample of a shard."""
    return {s.meta["output"]: (f"{name}#{s.key}.{s.ext}", len(s.image), hashlib.sha256(s.image).hexdigest())
            for s in samples}  # fmt: skip


def shard_of(member: str) -> tuple[str, str]:
    """``train/shard-000000.tar#000000012.jpg`` -> (shard file, member key with extension)."""
    shard, _, key = member.partition("#")
    return shard, key
