"""``ShardSink``: outputs packed into shard files (WebDataset, TFRecord or Parquet; ``expander.shards``), in an
order that does not depend on who finished first, so shards are byte-identical for any worker count or backend:

* each split gets its own shard set, ``<split>/shard-000000.tar`` (``.tfrecord``, ``.parquet``), in order;
* jobs (a source and its copies) are taken in a seeded shuffled order, so a shard mixes classes; a shard holds
  whole jobs, packed until it reaches ``--shard-size`` (samples, or bytes like ``100MB``);
* inside a shard the samples are in a seeded shuffled order again, so copies of one image do not sit together;
* a shard appears complete or not at all (written whole, then renamed or uploaded in one piece), in order, so
  after a crash the shards in the store are a complete prefix of each split's set: ``--resume`` keeps them
  and redoes the jobs of the rest.

Workers hand each output back (``ShardWriter``); the main process packs. ``shards.json`` (format, classes, and
per split its shards with samples, bytes and SHA-256) is written when the run ends; the manifest names each
output's shard and key (``train/shard-000000.tar#000000012``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from expander import images, shards
from expander.errors import ExpanderError
from expander.images import TEMP_SUFFIX, format_of
from expander.plan import Job, Plan, output_seed
from expander.sinks.base import LabelFiles, Sample, Stored
from expander.storage import Store, safe_relative

if TYPE_CHECKING:
    from expander.labels.base import Read

INDEX_NAME = "shards.json"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kb|mb|gb|k|m|g)?\s*$", re.IGNORECASE)


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
    samples: list[shards.ShardSample] = field(default_factory=list)
    stored: dict[str, Stored] = field(default_factory=dict)  # output -> what its worker reported
    size: int = 0
    results: list = field(default_factory=list)  # the JobResults whose samples it holds


class ShardWriter:
    """A ShardSink's part in a worker: each output goes back to the main process."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShardWriter)

    def put(self, sample: Sample) -> Sample:
        return sample


class ShardSink:
    """Takes each job's result with its outputs (any order) and writes shards in plan order.

    ``take_written`` returns the results whose samples are now in a shard in the store: only those count as
    written. It is separate from ``add`` because one ``add`` may complete several shards and then fail on the
    next (disk full): the shards already written must still be recorded.
    """

    def __init__(self, store: Store, format: str, size: ShardSize, seed: int, classes: tuple[str, ...],
                 splits: tuple[str | None, ...], labels: LabelFiles | None = None, labelled: bool = False):  # fmt: skip
        self.store, self.format, self.size, self.seed, self.splits = store, format, size, seed, splits
        self.kind = format
        self.labels, self.labelled = labels, labelled
        self.classes = {c: i for i, c in enumerate(classes)}
        self.order_: list[Job] = []
        self.position = 0
        self.waiting: dict[str, object] = {}
        self.open: _Open | None = None
        self.shards: dict[str | None, list[Shard]] = {}
        self.located: dict[str, Stored] = {}
        self.keys: dict[str | None, int] = {}
        self.written: list = []

    def writer(self) -> ShardWriter:
        return ShardWriter()

    def order(self, plan: Plan) -> Plan:
        """Jobs split by split (in the dataset's split order), each split's in a seeded shuffled order."""
        jobs = list(plan.jobs)
        key = {j.source: output_seed(self.seed, j.source, -2) for j in jobs}
        ordered = [
            j for s in self.splits for j in sorted((j for j in jobs if j.split == s), key=lambda j: key[j.source])
        ]
        plan = dataclasses.replace(plan, jobs=tuple(ordered))
        self.order_ = [j for j in plan.jobs if len(j.done) < j.size]
        return plan

    def resume(self, plan: Plan) -> Plan:
        """The shards a previous run left complete (each split's unbroken prefix) are kept; their jobs are done."""
        present = set(self.store.files())
        for split in self.splits:
            number = 0
            while (name := shards.shard_file(self.format, split, number)) in present:
                data = self.store.read(name)
                try:
                    samples = list(shards.read(self.format, data))
                except Exception:  # not one of ours, or damaged: it and what follows are written again
                    break
                self.shards.setdefault(split, []).append(_shard(name, samples, data))
                self.located.update(self._locations(name, samples))
                self.keys[split] = self.keys.get(split, 0) + len(samples)
                number += 1
        jobs = [dataclasses.replace(j, done=frozenset(o.copy_index or 0 for o in j.outputs))
                if any(o.rel_path in self.located for o in j.outputs) else j for j in plan.jobs]  # fmt: skip
        return self.order(dataclasses.replace(plan, jobs=tuple(jobs)))

    def add(self, result) -> None:
        """Take one job's result; write every shard it completes (OSError: a shard could not be written)."""
        self.waiting[result.source] = result
        while self.position < len(self.order_) and self.order_[self.position].source in self.waiting:
            job = self.order_[self.position]
            self.position += 1
            self._take(job, self.waiting.pop(job.source))

    def finish(self) -> None:
        if self.open is not None:
            self._flush()

    def take_written(self) -> list:
        written, self.written = self.written, []
        return written

    def stored(self, job: Job, output: str, fresh: Stored | None, labels: LabelFiles | None) -> Stored | None:
        return self.located.get(output)  # in a shard exactly when a shard holds it

    def left_by_stop(self, plan: Plan, finished: Iterable[str]) -> Plan:
        return plan  # only complete shards are in the store, and they are in ``located``

    def index(self) -> dict[str, Any]:
        """What ``shards.json`` holds (and the run summary, less the per-shard list)."""
        return {
            "format": self.format,
            "classes": list(self.classes),
            "labelled": self.labelled,
            "splits": {split or "all": [vars(s) for s in found] for split, found in self.shards.items()},
            "files": [s.file for found in self.shards.values() for s in found],
            "samples": sum(s.samples for found in self.shards.values() for s in found),
        }

    def close_run(self) -> None:
        self.store.write(INDEX_NAME, (json.dumps(self.index(), indent=2) + "\n").encode())

    def put_dataset_files(self, make: Callable[[Read], dict[str, bytes]]) -> dict[str, str]:
        return {}  # each sample's labels are its members; the class list is in shards.json

    def _take(self, job: Job, result) -> None:
        if self.open is not None and self.open.split != job.split:
            self._flush()
        if self.open is None:
            self.open = _Open(job.split, len(self.shards.get(job.split, [])))
        shard = self.open
        samples = result.samples or (None,) * len(result.copies)  # none: the source itself failed
        for sample, stored in zip(samples, result.stored_outputs(), strict=True):
            if sample is None or stored is None:
                continue  # failed: recorded as such
            key = f"{self.keys.get(job.split, 0):09d}"
            self.keys[job.split] = self.keys.get(job.split, 0) + 1
            shard.stored[sample.output] = stored  # the worker's checksums: no need to hash again
            shard.samples.append(self._sample(key, sample))
            shard.size += len(sample.image)
        shard.results.append(result)
        if self.size.full(len(shard.samples), shard.size):
            self._flush()

    def _sample(self, key: str, sample: Sample) -> shards.ShardSample:
        meta = sample.meta()
        if sample.labels:
            meta["labels"] = {role: path for role, path, _ in sample.labels}
        label = -1 if self.labelled else self.classes[sample.class_name]
        return shards.ShardSample(key, sample.image, format_of(sample.output), label, meta,
                                  tuple((role, data) for role, _, data in sample.labels))  # fmt: skip

    def _flush(self) -> None:
        shard, self.open = self.open, None
        assert shard is not None
        samples = list(shard.samples)
        random.Random(output_seed(self.seed, f"{shard.split}/{shard.number}", -3)).shuffle(samples)  # mix copies
        name = shards.shard_file(self.format, shard.split, shard.number)
        # Streamed to a temporary file, then renamed into place (or uploaded whole): complete or not at all.
        tmp = self.store.temp_dir() / f".{name.replace('/', '_')}.{os.getpid()}{TEMP_SUFFIX}"
        try:
            with open(tmp, "wb") as f:
                hashing = _Hashing(f)
                shards.write(self.format, samples, hashing, list(self.classes))
            self.store.put_file(tmp, name)
        except OSError as e:  # named after the shard, not the temporary file
            raise OSError(e.errno, e.strerror or str(e), name) from e
        finally:
            tmp.unlink(missing_ok=True)
        self.shards.setdefault(shard.split, []).append(Shard(name, len(samples), hashing.size, hashing.sha.hexdigest()))
        for s in samples:
            self.located[s.meta["output"]] = dataclasses.replace(
                shard.stored[s.meta["output"]], member=f"{name}#{s.key}"
            )
        self.written += shard.results

    def _locations(self, name: str, samples: list[shards.ShardSample]) -> dict[str, Stored]:
        """Output path -> what a shard a previous run wrote holds of it."""
        found = {}
        for s in samples:
            paths = s.meta.get("labels") or {}
            files = {paths.get(role, role): data for role, data in s.labels}
            objects = tuple(sorted(self.labels.count(files).items())) if self.labels and files else None
            labels = tuple((path, hashlib.sha256(data).hexdigest()) for path, data in files.items())
            found[s.meta["output"]] = Stored(len(s.image), hashlib.sha256(s.image).hexdigest(), labels, objects,
                                             f"{name}#{s.key}")  # fmt: skip
        return found


class _Hashing:
    """A file being written, with its size and SHA-256 kept as it goes."""

    def __init__(self, f) -> None:
        self.f, self.size, self.sha = f, 0, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.sha.update(data)
        self.size += len(data)


def _shard(name: str, samples: list, data: bytes) -> Shard:
    return Shard(name, len(samples), len(data), hashlib.sha256(data).hexdigest())


def shard_of(member: str) -> tuple[str, str]:
    """``train/shard-000000.tar#000000012`` -> (shard file, sample key)."""
    shard, _, key = member.partition("#")
    return shard, key


def verify_shards(store: Store, rows: list[dict], max_pixels: int | None) -> dict:
    """{"missing", "extra", "undecodable", "changed", "samples"}: shards against ``shards.json`` (present,
    SHA-256, sample count; no stray shard beside them), samples against the manifest (listed, size and SHA-256,
    label files' SHA-256, decode)."""
    found: dict = {"missing": [], "extra": [], "undecodable": [], "changed": [], "samples": {}}
    try:
        index = json.loads(store.read(INDEX_NAME).decode("utf-8"))
        entries = [s for listed in index["splits"].values() for s in listed]
        format = index["format"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        found["missing" if isinstance(e, OSError) else "undecodable"].append(
            INDEX_NAME if isinstance(e, OSError) else {"file": INDEX_NAME, "error": f"not a shard index: {e}"}
        )
        return found
    by_member = {r.get("shard") or "": r for r in rows}
    present = set(store.files())
    indexed = {s.get("file") for s in entries if isinstance(s, dict)}
    extension = shards.FORMATS.get(format, "")
    found["extra"] += sorted(f for f in present if f.endswith(extension) and "/shard-" in f"/{f}" and f not in indexed)
    for shard in entries:
        _check_shard(store, shard, format, present, by_member, found, max_pixels, images)
    found["missing"] += sorted(r["output"] for member, r in by_member.items() if member not in found["samples"])
    return found


def _check_shard(
    store, shard: dict, format: str, present: set, by_member: dict, found: dict, max_pixels, images
) -> None:
    name = shard.get("file", "")
    if not safe_relative(name) or name not in present:
        found["missing"].append(name)
        return
    data = store.read(name)
    if hashlib.sha256(data).hexdigest() != shard.get("sha256"):
        found["changed"].append({"file": name, "reason": "SHA-256 differs from shards.json"})
    try:
        samples = list(shards.read(format, data))
    except Exception as e:  # a damaged shard of any format: reported, never a traceback
        found["undecodable"].append({"file": name, "error": f"not a readable {format} shard: {type(e).__name__}: {e}"})
        return
    if len(samples) != shard.get("samples"):
        found["changed"].append(
            {"file": name, "reason": f"{len(samples)} samples; shards.json says {shard.get('samples')}"}
        )
    for sample in samples:
        member = f"{name}#{sample.key}"
        row = by_member.get(member)
        if row is None:
            found["extra"].append(member)
            continue
        found["samples"][member] = sample
        if hashlib.sha256(sample.image).hexdigest() != row.get("sha256") or str(len(sample.image)) != row.get("bytes"):
            found["changed"].append(
                {"file": row["output"], "reason": f"{member} differs from the manifest's size and SHA-256"}
            )
        labels = ";".join(hashlib.sha256(d).hexdigest() for _, d in sample.labels)
        if labels != (row.get("labels_sha256") or ""):
            found["changed"].append(
                {"file": row["output"], "reason": f"{member}'s label files differ from the manifest"}
            )
        try:
            images.decode(sample.image, row["output"], max_pixels=max_pixels)
        except images.DecodeError as e:
            found["undecodable"].append({"file": row["output"], "error": str(e)})
