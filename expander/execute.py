"""Run a plan's jobs in a process pool and stream back what happened to each job.

Workers are initialised once (OpenCV pinned to one thread, pipeline built once), read
their own source files (only small jobs and records cross process boundaries), and never
die on a bad file: every failure becomes a record. Only the main process writes the manifest.
"""

from __future__ import annotations

import errno
import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
from threadpoolctl import threadpool_limits

from expander import images
from expander.augment import Augmenter, LabelParams, fast_pipeline
from expander.errors import EmptyCopy
from expander.generator import Generator, GeneratorInfo
from expander.labels.labelled import LabelDigest, LabelledSource, Members
from expander.manifest import Record
from expander.plan import Job, Output
from expander.pool import ALBUMENTATIONS, PRELOAD, WorkerPool, start_fork_server_early
from expander.sinks.base import NO_SEED, ORIGINAL_COPY, Sample, Stored, Writer
from expander.storage import StoreError, StoreUnavailable, open_store

if TYPE_CHECKING:
    from expander.augment import Augmenter
    from expander.generator import Generator
    from expander.labels.base import LabelOptions

# Write errors that no other file would escape: the run stops (and can be resumed), rather than
# recording every remaining output as failed.
_RUN_STOPPING_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
DIGEST_SIZE = 40  # per output in JobResult.digests: 8-byte size, 32-byte SHA-256


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs besides its jobs; sent once per worker."""

    src_root: str
    pipeline: dict[str, Any]
    writer: Writer  # the run's sink, as each worker puts outputs into it
    quality: int = 95
    size: tuple[int, int] | None = None
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS
    labels: LabelOptions | None = None  # a labelled dataset's: labels move with the pixels

    @property
    def generator(self) -> bool:
        return "generator" in self.pipeline


def needs_albumentations(pipeline: dict[str, Any]) -> bool:
    """Whether workers will import albumentations (not for generators or fast-path pipelines)."""
    return "transform" in pipeline and fast_pipeline(pipeline) is None


@dataclass(frozen=True)
class JobResult:
    """What a worker sends back for one job: what it attempted, what failed, and what it wrote.

    Per pending output (``copies``: their copy indices, 0 for the original, when the job ran): 40 bytes of
    ``digests`` (size and SHA-256; zeros where it failed), its label digest (its label files' SHA-256 and the
    objects per class in them; None for class folders), and for a sink that packs in the main process the
    output itself (``samples``). The main process rebuilds manifest rows from the plan. ``stopped`` says why
    the job stopped early on an error no other output would escape (disk full, read-only or failing disk): its
    unwritten outputs are not failures, the run stops and ``--resume`` finishes it.
    """

    source: str
    attempted: int
    failed: tuple[Record, ...] = ()
    digests: bytes = b""
    stopped: str = ""
    copies: tuple[int, ...] = ()
    labels: tuple[LabelDigest | None, ...] = ()
    samples: tuple[Sample | None, ...] = ()
    stopped_by: str = ""  # "disk" or "store" when stopped: what the user fixes before --resume

    def stored_outputs(self) -> list[Stored | None]:
        """What each pending output is in the sink, as its worker made it (None where it was not written)."""
        found: list[Stored | None] = []
        for position in range(len(self.copies)):
            chunk = self.digests[position * DIGEST_SIZE : (position + 1) * DIGEST_SIZE]
            if len(chunk) < DIGEST_SIZE or not any(chunk):
                found.append(None)
                continue
            label = self.labels[position] if position < len(self.labels) else None
            files, objects = label if label is not None else ((), None)
            found.append(Stored(int.from_bytes(chunk[:8], "big"), chunk[8:].hex(), files, objects))
        return found

    def stored_by_copy(self) -> dict[int, Stored]:
        """Copy index (0: the original) -> what was written of it."""
        return {c: s for c, s in zip(self.copies, self.stored_outputs(), strict=True) if s is not None}


class Worker:
    """Source bytes -> outputs in the run's sink, for one process: settings, and an augmenter or generator built on
    first use.

    The local pool, Ray tasks and ``expander verify --replay`` all go through it, so a replay runs
    the same code as the run did.
    """

    def __init__(self, settings: Settings):

        cv2.setNumThreads(1)  # the pool is the parallelism
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.source = open_store(settings.src_root)  # a folder or an object store: what the worker reads
        self.writer = settings.writer
        self._augmenter: Augmenter | None = None
        self._generator: Generator | None = None
        self._open = self._labelled if settings.labels is not None else self._pixels  # the dataset's kind, once

    @property
    def generator(self):
        if self._generator is None:
            self._generator = Generator(GeneratorInfo.from_dict(self.settings.pipeline))
        return self._generator

    @property
    def augmenter(self):
        if self._augmenter is None:
            labels = self.settings.labels
            params = LabelParams(labels.min_visibility) if labels else None
            self._augmenter = Augmenter(self.settings.pipeline, params, self.settings.max_pixels)
        return self._augmenter

    @property
    def order(self) -> str:
        """The channel order pixels are kept in between decoding and encoding (see images)."""
        return "RGB" if self.settings.generator else self.augmenter.channel_order

    def pixels(self, data: bytes, name: str):
        """A source's pixels as ``render`` takes them: decoded in ``order``, resized if the run resizes."""
        return images.decode_resized(data, name, self.settings.size, self.order, self.settings.max_pixels)

    def render(self, out: Output, data: bytes, image) -> bytes:
        """The bytes of one planned output (not a generator's), from the source's bytes and ``pixels``."""
        if out.copy_index is None and self.settings.size is None:
            return data  # originals are copied byte for byte
        fmt = images.format_of(out.rel_path)
        if out.copy_index is None:
            return images.encode(image, fmt, self.settings.quality, self.order)
        made = self.augmenter.jpeg(image, out.seed, self.settings.quality) if fmt == "jpg" else None
        if made is not None:
            return made
        return images.encode(self.augmenter(image, out.seed), fmt, self.settings.quality, self.order)

    def run(self, job: Job) -> JobResult:
        """Put a job's pending outputs into the sink. Never raises for anything one file can cause: it is recorded."""
        try:
            data = self.source.read(job.source)
        except (StoreError, StoreUnavailable) as e:  # the store, not this file: nothing more can be read
            return JobResult(job.source, 0, (), b"", str(e).rstrip("."), stopped_by="store")
        except OSError as e:
            return _failed(job, job.pending, _reason(e))
        return self.run_outputs(job, data, job.pending)

    def run_outputs(self, job: Job, data: bytes, outputs: tuple[Output, ...] | list[Output]) -> JobResult:
        """Make ``outputs`` of a job from its source's bytes and put them into the sink (``verify --replay`` makes
        one this way, into a writer that keeps it)."""
        copies = tuple(o.copy_index or 0 for o in outputs)
        failure = functools.partial(_failure, job)
        try:
            source = self._open(job, data, outputs)
        except Exception as e:  # undecodable, MemoryError resizing: the file is at fault, not the run
            return _failed(job, outputs, _reason(e))
        failed: list[Record] = []
        digests = bytearray()
        labels: list[LabelDigest | None] = []
        kept: list[Sample | None] = []
        for out in outputs:
            try:
                sample, label = self._sample(job, out, source)
                back = self.writer.put(sample)
            except (OSError, StoreError, StoreUnavailable) as e:
                stopped, by = _stops_run(e, out.rel_path)
                if stopped:
                    done = len(labels)
                    return JobResult(job.source, done, tuple(failed), bytes(digests), stopped, copies[:done],
                                     tuple(labels), tuple(kept), by)  # fmt: skip
                failed.append(failure(out, f"cannot write it: {getattr(e, 'strerror', None) or e}"))
            except EmptyCopy as e:  # a labelled copy left without objects: recorded, not written
                failed.append(failure(out, str(e), "empty"))
            except Exception as e:  # one bad output never ends the run; it is reported
                failed.append(failure(out, f"{type(e).__name__}: {e}"))
            else:
                digests += len(sample.image).to_bytes(8, "big") + hashlib.sha256(sample.image).digest()
                labels.append(label)
                kept.append(back)
                continue
            digests += bytes(DIGEST_SIZE)
            labels.append(None)
            kept.append(None)
        samples = tuple(kept) if any(s is not None for s in kept) else ()
        return JobResult(job.source, len(outputs), tuple(failed), bytes(digests), copies=copies,
                         labels=tuple(labels), samples=samples)  # fmt: skip

    def _sample(self, job: Job, out: Output, source: _Labelled | _Pixels) -> tuple[Sample, LabelDigest | None]:
        """One output as a Sample for the sink, and its label digest (None for class folders)."""
        copy = out.copy_index if out.copy_index is not None else ORIGINAL_COPY
        seed = out.seed if out.seed is not None else NO_SEED
        picture, members, digest = source.sample(out)
        return Sample(out.rel_path, picture, members, job.source, job.class_name, job.split, copy, seed), digest

    def _labelled(self, job: Job, data: bytes, outputs) -> _Labelled:
        """A labelled job's source: pixels and labels, decoded once for all its outputs."""
        assert self.settings.labels is not None
        return _Labelled(self, LabelledSource(self.settings.labels, self.source.read, job, data, self.order,
                                              self.settings.size, self.settings.max_pixels))  # fmt: skip

    def _pixels(self, job: Job, data: bytes, outputs) -> _Pixels:
        """A class-folder job's source: its pixels, decoded once, and a generator's outputs made in one batch."""
        image = self.pixels(data, job.source)
        return _Pixels(self, data, image, self._generate(outputs, job.source, image) if self.settings.generator else {})

    def _generate(self, outputs: tuple[Output, ...] | list[Output], source_path: str, image) -> dict[str, Any]:
        """Run the generator once for all new outputs of a job (one batch); output path -> pixels or error."""
        new = [o for o in outputs if o.copy_index is not None]
        if not new:
            return {}
        try:
            source = self.generator.prepare(image)
            partners = None
            if self.generator.info.arity == 2:
                partners = [self.generator.prepare(self._partner(o.partner or source_path)) for o in new]
            results = self.generator([source] * len(new), partners)
            return {o.rel_path: r for o, r in zip(new, results, strict=True)}
        except Exception as e:  # a bad partner or model failure fails this job's new images, not the run
            return {o.rel_path: e for o in new}

    def _partner(self, rel_path: str):
        return images.decode(self.source.read(rel_path), rel_path, max_pixels=self.settings.max_pixels)


class _Pixels:
    """A class-folder source as ``Worker._sample`` takes it, like ``LabelledSource``: outputs without label files."""

    def __init__(self, worker: Worker, data: bytes, image, generated: dict[str, Any]):
        self.worker, self.data, self.image, self.generated = worker, data, image, generated

    def sample(self, out: Output) -> tuple[bytes, Members, None]:
        """(image bytes, label members: none, label digest: none) of one output."""
        made = self.generated.get(out.rel_path)
        if isinstance(made, Exception):
            raise made
        if made is not None:
            return images.encode(made, images.format_of(out.rel_path), self.worker.settings.quality,
                                 self.worker.order), (), None  # fmt: skip
        return self.worker.render(out, self.data, self.image), (), None


class _Labelled:
    """A labelled source as ``Worker._sample`` takes it: the worker's augmenter, quality and channel order."""

    def __init__(self, worker: Worker, source: LabelledSource):
        self.worker, self.source = worker, source

    def sample(self, out: Output) -> tuple[bytes, Members, LabelDigest]:
        worker = self.worker
        return self.source.sample(out, worker.augmenter, worker.settings.quality, worker.order)


def _failure(job: Job, out: Output, error: str, status: str = "failed") -> Record:
    return Record(out.rel_path, job.source, job.class_name, job.split, out.copy_index, out.seed, status, error,
                  out.partner or "")  # fmt: skip


def _stops_run(error: Exception, rel_path: str) -> tuple[str, str]:
    """Why an error writing ``rel_path`` stops the run (no other output would escape it) and what stopped it
    ("store" or "disk"), or ("", "") if it does not: a full, read-only or failing disk, or a store that refuses
    or cannot be reached."""
    if isinstance(error, (StoreError, StoreUnavailable)):
        return str(error).rstrip("."), "store"
    if isinstance(error, OSError) and error.errno in _RUN_STOPPING_ERRNOS:
        return f"{error.strerror} writing '{rel_path}'", "disk"
    return "", ""


def _failed(job: Job, outputs, reason: str) -> JobResult:
    copies = tuple(o.copy_index or 0 for o in outputs)
    return JobResult(job.source, len(outputs), tuple(_failure(job, out, reason) for out in outputs), copies=copies)


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot read it: {error.strerror or error}"
    if isinstance(error, images.DecodeError):
        return str(error)
    return f"{type(error).__name__}: {error}"


_worker: Worker | None = None


def _init_pool_worker(settings: Settings) -> None:
    global _worker
    _worker = Worker(settings)


def _run_in_pool(job: Job) -> JobResult:
    assert _worker is not None
    return _worker.run(job)


def execute(jobs: list[Job], settings: Settings, workers: int) -> Iterator[JobResult]:
    """Yield the result of each job as it finishes (in completion order).

    With one worker the jobs run in this process; otherwise in a pool of ``workers`` processes. A job whose
    worker process dies (the out-of-memory killer, a crash in a codec) is run again once on a new worker, then
    recorded as failed with the reason. Interrupting the iteration (Ctrl-C) stops the pool.
    """
    # Generators always run in worker processes, whose TensorFlow is single-threaded from the start;
    # this process's TensorFlow may already run multi-threaded, which could change the last bit.
    if (workers <= 1 or len(jobs) <= 1) and not settings.generator:
        worker = Worker(settings)
        for job in jobs:
            yield worker.run(job)
        return
    chunksize = max(1, min(8, len(jobs) // (workers * 64)))  # small chunks: no worker idles at the end
    with WorkerPool(workers, _init_pool_worker, (settings,), _preload(settings.pipeline)) as pool:
        yield from pool.imap_unordered(_run_in_pool, jobs, chunksize, lost=_lost)


def _lost(job: Job, reason: str) -> JobResult:
    """A job whose worker died twice: each of its pending outputs failed, with why."""
    return _failed(job, job.pending, f"{reason}, twice; the image may need more memory than a worker has")


def _preload(pipeline: dict[str, Any]) -> list[str]:
    return PRELOAD + (ALBUMENTATIONS if needs_albumentations(pipeline) else [])


def start_workers_early(pipeline: dict[str, Any]) -> None:
    """Start the fork server now (if workers will need one), so its imports overlap the caller's own work."""
    start_fork_server_early(_preload(pipeline))
