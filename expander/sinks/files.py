"""``FileSink``: one file per output (and its label files), in a folder or an object store.

Workers write: a local file appears whole under its name or not at all (``images.write_atomic``), an object
is one PUT; label files are written before their image, so an image on disk implies its labels are too.
``--resume`` and a stopped run's manifest find outputs by their names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
from collections.abc import Callable, Container, Iterable
from typing import TYPE_CHECKING, Any

from expander import images
from expander.plan import Job, Plan
from expander.sinks.base import LabelFiles, Sample, Stored
from expander.storage import LocalStore, Store, open_store, safe_relative

if TYPE_CHECKING:
    from expander.labels.base import Read


class FileWriter:
    """A FileSink's part in a worker: label files, then the image."""

    def __init__(self, location: str):
        self.location = location
        self._store: Store | None = None
        self._folders: set[str] = set()  # folders known to exist: one mkdir per folder, not per output

    def __getstate__(self) -> dict[str, Any]:
        return {"location": self.location}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileWriter) and other.location == self.location

    def put(self, sample: Sample) -> None:
        for _role, path, data in sample.labels:
            self._write(path, data)
        self._write(sample.output, sample.image)

    def _write(self, rel: str, data: bytes) -> None:
        if not safe_relative(rel):  # the plan never makes one; a bug must not write outside the output
            raise ValueError(f"'{rel}' would be written outside the output folder: refused")
        if self._store is None:
            self._store = open_store(self.location)
        if self._store.remote:
            self._store.write(rel, data)  # one PUT: the object appears whole or not at all
            return
        folder = posixpath.dirname(rel)
        if folder not in self._folders:
            os.makedirs(os.path.join(self.location, folder), exist_ok=True)
            self._folders.add(folder)
        images.write_atomic(os.path.join(self.location, rel), data)


class FileSink:
    """Outputs as files: the workers write them, the main process only records them."""

    kind = "files"

    def __init__(self, store: Store, labels: LabelFiles | None = None):
        self.store, self.labels = store, labels
        self._written: list = []

    def writer(self) -> FileWriter:
        return FileWriter(self.store.location)

    def order(self, plan: Plan) -> Plan:
        return plan

    def resume(self, plan: Plan) -> Plan:
        return mark_done(plan, self.store)

    def add(self, result) -> None:
        self._written.append(result)  # the worker wrote its files already

    def finish(self) -> None:
        pass

    def take_written(self) -> list:
        written, self._written = self._written, []
        return written

    def stored(self, job: Job, output: str, fresh: Stored | None, labels: LabelFiles | None) -> Stored | None:
        """The worker's report, or for an output written before this run its file's size, SHA-256 and labels."""
        if fresh is not None:
            return fresh
        try:
            size, sha = file_digest(self.store, output)
            if labels is None:
                return Stored(size, sha)
            files = {path: self.store.read(path) for path in labels.paths(job, output)}
        except OSError:
            return None  # gone since it was found (someone deleted it): not listed, --resume rewrites it
        shas = tuple((path, hashlib.sha256(data).hexdigest()) for path, data in files.items())
        return Stored(size, sha, shas, tuple(sorted(labels.count(files).items())))

    def left_by_stop(self, plan: Plan, finished: Iterable[str]) -> Plan:
        return mark_done(plan, self.store, skip=set(finished))

    def index(self) -> None:
        return None

    def close_run(self) -> None:
        pass

    def put_dataset_files(self, make: Callable[[Read], dict[str, bytes]]) -> dict[str, str]:
        files = make(self.store.read)
        for name, data in files.items():
            self.store.write(name, data)
        return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def file_digest(store: Store, rel: str) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file in a store, a local one read in blocks."""
    if not isinstance(store, LocalStore):
        data = store.read(rel)
        return len(data), hashlib.sha256(data).hexdigest()
    digest, size = hashlib.sha256(), 0
    with open(store.join(rel), "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def mark_done(plan: Plan, store: Store, skip: Container[str] = ()) -> Plan:
    """The plan with each job's outputs that are in the store marked ``done`` (jobs in ``skip`` left as they are).

    Files only ever appear under their final name complete, so existing means finished.
    """
    if isinstance(store, LocalStore):
        root = store.root
        present = lambda rel: (root / rel).is_file()  # noqa: E731
    else:
        present = set(store.files()).__contains__  # one listing, not a request per output
    jobs = []
    for job in plan.jobs:
        if job.source in skip:
            jobs.append(job)
            continue
        done = job.done | frozenset(o.copy_index or 0 for o in job.pending if present(o.rel_path))
        jobs.append(dataclasses.replace(job, done=done) if done != job.done else job)
    return dataclasses.replace(plan, jobs=tuple(jobs))
