"""Run a plan's jobs in a process pool and stream back what happened to each job.

Workers are initialised once (OpenCV pinned to one thread, pipeline built once), read
their own source files (only small jobs and records cross process boundaries), and never
die on a bad file: every failure becomes a record. Only the main process writes the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import multiprocessing
import multiprocessing.pool
import os
import posixpath
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expander import images
from expander.manifest import Record
from expander.storage import open_store

if TYPE_CHECKING:
    from expander.augment import Augmenter
    from expander.generator import Generator
    from expander.labels.worker import LabelOptions
from expander.plan import Job, Output

# Write errors that no other file would escape: the run stops (and can be resumed), rather than
# recording every remaining output as failed.
_RUN_STOPPING_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
DIGEST_SIZE = 40  # per output in JobResult.digests: 8-byte size, 32-byte SHA-256
LABEL_DIGEST_SIZE = 36  # per output in JobResult.labels: label file SHA-256, 4-byte count of its objects


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs besides its jobs; sent once per worker."""

    src_root: str
    dst_root: str
    pipeline: dict[str, Any]
    quality: int = 95
    size: tuple[int, int] | None = None
    max_pixels: int | None = images.DEFAULT_MAX_PIXELS
    labels: LabelOptions | None = None  # a labelled dataset's: labels move with the pixels
    shards: bool = False  # return each output's bytes (JobResult.payloads) for the shard sink; write no file

    @property
    def generator(self) -> bool:
        return "generator" in self.pipeline


def needs_albumentations(pipeline: dict[str, Any]) -> bool:
    """Whether workers will import albumentations (not for generators or fast-path pipelines)."""
    from expander.augment import fast_pipeline

    return "transform" in pipeline and fast_pipeline(pipeline) is None


@dataclass(frozen=True)
class JobResult:
    """What a worker sends back for one job: what it attempted, what failed, and what it wrote.

    Written outputs cross process boundaries as 40 bytes each (``digests``: size and SHA-256 per
    pending output, in order; zeros where it failed), and the main process rebuilds their manifest
    rows from the plan. ``stopped`` says why the job stopped early on an error no other output
    would escape (disk full, read-only or failing disk): its unwritten outputs are not failures,
    the run stops and ``--resume`` finishes it.
    """

    source: str
    attempted: int
    failed: tuple[Record, ...] = ()
    digests: bytes = b""
    stopped: str = ""
    labels: bytes = b""  # labelled runs: LABEL_DIGEST_SIZE bytes per pending output, like digests
    payloads: tuple[bytes, ...] = ()  # sharded runs: each pending output's bytes (b"" where it failed)

    def label_digest(self, position: int) -> tuple[str, int] | None:
        """(label file SHA-256 hex or "" when it has none, objects in it) of an output."""
        chunk = self.labels[position * LABEL_DIGEST_SIZE : (position + 1) * LABEL_DIGEST_SIZE]
        if len(chunk) < LABEL_DIGEST_SIZE:
            return None
        sha = chunk[:32].hex() if any(chunk[:32]) else ""
        return sha, int.from_bytes(chunk[32:36], "big")

    def digest(self, position: int) -> tuple[int, str] | None:
        """(size, SHA-256 hex) of the job's ``position``-th pending output, or None if it was not written."""
        chunk = self.digests[position * DIGEST_SIZE : (position + 1) * DIGEST_SIZE]
        if len(chunk) < DIGEST_SIZE or not any(chunk):
            return None
        return int.from_bytes(chunk[:8], "big"), chunk[8:].hex()


class Worker:
    """Source bytes -> output files, for one process: settings, and an augmenter or generator built on first use.

    The local pool, Ray tasks and ``expander verify --replay`` all go through it, so a replay runs
    the same code as the run did.
    """

    def __init__(self, settings: Settings):
        import cv2
        from threadpoolctl import threadpool_limits

        cv2.setNumThreads(1)  # the pool is the parallelism
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.src = Path(settings.src_root)  # local sources (labelled datasets read their label files here)
        self.dst = Path(settings.dst_root)
        self.source = open_store(settings.src_root)  # a folder or an object store: what the worker reads
        self.dest = open_store(settings.dst_root)  # ... and where it writes
        self._augmenter: Augmenter | None = None
        self._generator: Generator | None = None

    @property
    def generator(self):
        if self._generator is None:
            from expander.generator import Generator, GeneratorInfo

            self._generator = Generator(GeneratorInfo.from_dict(self.settings.pipeline))
        return self._generator

    @property
    def augmenter(self):
        if self._augmenter is None:
            from expander.augment import Augmenter, LabelParams

            labels = self.settings.labels
            params = LabelParams(labels.box_format, labels.min_visibility) if labels else None
            self._augmenter = Augmenter(self.settings.pipeline, params)
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
        """Write a job's pending outputs. Never raises for anything one file can cause: it is recorded."""
        outputs = job.pending

        def failure(out: Output, error: str, status: str = "failed") -> Record:
            return Record(out.rel_path, job.source, job.class_name, job.split, out.copy_index, out.seed, status,
                          error, out.partner or "")  # fmt: skip

        def failures(error: str) -> JobResult:
            return JobResult(job.source, len(outputs), tuple(failure(out, error) for out in outputs))

        try:
            data = self.source.read(job.source)
            image = self._labelled(job, data) if self.settings.labels else self.pixels(data, job.source)
        except OSError as e:
            return failures(f"cannot read it: {e.strerror or e}")
        except images.DecodeError as e:
            return failures(str(e))
        except Exception as e:  # e.g. MemoryError resizing: the file, not the run, is at fault
            return failures(f"{type(e).__name__}: {e}")
        try:
            folders = {posixpath.dirname(out.rel_path) for out in outputs}
            for folder in folders if not (self.settings.shards or self.dest.remote) else ():
                (self.dst / folder).mkdir(parents=True, exist_ok=True)  # once per job, not per output
        except OSError as e:
            if e.errno in _RUN_STOPPING_ERRNOS:
                return JobResult(job.source, 0, stopped=f"{e.strerror} creating a folder in '{self.dst}'")
            return failures(f"cannot create output folder: {e.strerror or e}")

        generated = self._generate(outputs, job.source, image) if self.settings.generator else {}
        failed: list[Record] = []
        digests, labels = bytearray(), bytearray()
        payloads: list[bytes] = []
        for out in outputs:
            payloads.append(b"")
            try:
                payload, label = self._write(job, out, data, image, generated)
            except OSError as e:
                if e.errno in _RUN_STOPPING_ERRNOS:
                    stopped = f"{e.strerror} writing '{out.rel_path}'"
                    return JobResult(job.source, len(digests) // DIGEST_SIZE, tuple(failed), bytes(digests), stopped,
                                     bytes(labels))  # fmt: skip
                failed.append(failure(out, f"cannot write it: {e.strerror or e}"))
            except Exception as e:  # one bad output never ends the run; it is reported
                empty = type(e).__name__ == "EmptyCopy"  # a labelled copy left without objects
                failed.append(failure(out, str(e), "empty") if empty else failure(out, f"{type(e).__name__}: {e}"))
            else:
                digests += len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest()
                labels += label
                payloads[-1] = payload if self.settings.shards else b""
                continue
            digests += bytes(DIGEST_SIZE)
            labels += bytes(LABEL_DIGEST_SIZE) if self.settings.labels else b""
        return JobResult(job.source, len(outputs), tuple(failed), bytes(digests), labels=bytes(labels),
                         payloads=tuple(payloads) if self.settings.shards else ())  # fmt: skip

    def _write(self, job: Job, out: Output, data: bytes, image, generated: dict[str, Any]) -> tuple[bytes, bytes]:
        """Write one output (a labelled one's label file first); (its bytes, its label digest or b"")."""
        if self.settings.labels is None:
            payload = self._payload(out, data, image, generated)
            if not self.settings.shards:  # a sharded run's bytes go to the shard sink instead
                self._put(out.rel_path, payload)
            return payload, b""
        from expander.labels.worker import label_path

        written = image.output(out, self.augmenter, self.settings.quality, self.order)  # image: a LabelledSource
        label_file = label_path(self.settings.labels.format, job, out.rel_path)
        sha = bytes(32)
        if label_file is not None and written.label is not None:
            target = os.path.join(self.settings.dst_root, label_file)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            images.write_atomic(target, written.label)
            sha = hashlib.sha256(written.label).digest()
        images.write_atomic(os.path.join(self.settings.dst_root, out.rel_path), written.image)
        return written.image, sha + written.objects.to_bytes(4, "big")

    def _put(self, rel_path: str, payload: bytes) -> None:
        if self.dest.remote:
            self.dest.write(rel_path, payload)  # one PUT: the object appears whole or not at all
        else:  # the job's folders exist already: no mkdir per output
            images.write_atomic(os.path.join(self.settings.dst_root, rel_path), payload)

    def _labelled(self, job: Job, data: bytes):
        """A labelled job's source: pixels and labels, decoded once for all its outputs."""
        from expander.labels.worker import LabelledSource

        assert self.settings.labels is not None
        return LabelledSource(self.settings.labels, self.src, job, data, self.order, self.settings.size,
                              self.settings.max_pixels)  # fmt: skip

    def _payload(self, out: Output, data: bytes, image, generated: dict[str, Any]) -> bytes:
        made = generated.get(out.rel_path)
        if isinstance(made, Exception):
            raise made
        if made is not None:
            return images.encode(made, images.format_of(out.rel_path), self.settings.quality, self.order)
        return self.render(out, data, image)

    def _generate(self, outputs: tuple[Output, ...], source_path: str, image) -> dict[str, Any]:
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


_worker: Worker | None = None


def _init_pool_worker(settings: Settings) -> None:
    global _worker
    _worker = Worker(settings)


def _init_child(environ: dict[str, str], initializer, initargs: tuple) -> None:
    """Every pool worker's start: the caller's environment as it is now, its signals (``init_child_process``),
    then the caller's initializer.

    A fork server started earlier in the process would otherwise hand workers the environment of that
    moment: credentials for an object store set since (``AWS_PROFILE``, ...) would be missing.
    """
    if environ != os.environ:
        os.environ.clear()
        os.environ.update(environ)
    init_child_process()
    if initializer is not None:
        initializer(*initargs)


def init_child_process() -> None:
    """Signals for a worker process: it never outlives the process that started it.

    Ctrl-C is the main process's to handle (it stops the pool); SIGTERM, which the pool itself sends
    to stop workers, kills at once (a forked worker inherits the CLI's SIGTERM handler otherwise);
    and on Linux the kernel sends SIGKILL when the parent dies, so a main process killed with
    SIGKILL leaves no worker writing into the output folder. (With forkserver the parent is the fork
    server, which exits when the main process does.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run_in_pool(job: Job) -> JobResult:
    assert _worker is not None
    return _worker.run(job)


def execute(jobs: list[Job], settings: Settings, workers: int) -> Iterator[JobResult]:
    """Yield the result of each job as it finishes (in completion order).

    With one worker the jobs run in this process; otherwise in a pool of ``workers`` processes.
    Interrupting the iteration (Ctrl-C) terminates the pool.
    """
    # Generators always run in worker processes, whose TensorFlow is single-threaded from the start;
    # this process's TensorFlow may already run multi-threaded, which could change the last bit.
    if (workers <= 1 or len(jobs) <= 1) and not settings.generator:
        worker = Worker(settings)
        for job in jobs:
            yield worker.run(job)
        return
    chunksize = max(1, min(8, len(jobs) // (workers * 64)))  # small chunks: no worker idles at the end
    preload = _preload(settings.pipeline)
    with process_pool(max(1, workers), initializer=_init_pool_worker, initargs=(settings,), preload=preload) as pool:
        yield from pool.imap_unordered(_run_in_pool, jobs, chunksize=chunksize)


_PRELOAD = ["cv2", "numpy", "expander.execute"]
_ALBUMENTATIONS = ["albumentations", "expander.augment"]


def _preload(pipeline: dict[str, Any]) -> list[str]:
    return _PRELOAD + (_ALBUMENTATIONS if needs_albumentations(pipeline) else [])


def process_pool(workers: int, initializer=None, initargs=(), preload: list[str] = _PRELOAD + _ALBUMENTATIONS):
    """A multiprocessing pool whose workers start safely, and as fast as that allows.

    fork when this process runs no thread but its own and OpenBLAS's (see ``_foreign_threads``): the
    workers start at once with everything already imported, and with no other thread there is no
    lock a child could inherit held. Otherwise (a library caller whose process runs threads, such as
    OpenCV's thread pool, which can deadlock a forked child) forkserver: workers fork from a clean
    process that imported the heavy modules (``preload``) once, so later pools in the same process
    start fast. The first pool's preload list is the one the server keeps; a module it lacks is
    imported by each worker.
    """
    with _detached_main():
        environ = dict(os.environ)
        return _Pool(workers, initializer=_init_child, initargs=(environ, initializer, initargs),
                     context=_context(preload))  # fmt: skip


class _Pool(multiprocessing.pool.Pool):
    """multiprocessing's Pool, without its worker handler waking up for every result.

    That thread also waits on the result pipe, so each result wakes it, and it spins until the result
    thread has read the result: 5,715 wake-ups for 200 results measured in the CLI, CPU taken from the
    workers. It only needs to wake when a worker exits (its own sentinels) or the pool changes state
    (the notifier, which also fires when the last task is done).
    """

    def _get_sentinels(self):
        return [self._change_notifier._reader]  # type: ignore[attr-defined]


@contextlib.contextmanager
def _detached_main():
    """Start workers without re-running the caller's main script.

    spawn and forkserver children import the parent's ``__main__`` to unpickle what it defines; ours
    need nothing from it (the job functions live in this package). Re-running it breaks real callers:
    a script that calls ``expand()`` without an ``if __name__ == "__main__":`` guard would start pools
    recursively, and ``python -`` (a script on stdin) cannot be re-run at all, so workers died and the
    pool respawned them forever.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {name: vars(main)[name] for name in ("__file__", "__spec__") if name in vars(main)}
    try:
        if "__file__" in saved:
            del main.__file__
        if "__spec__" in saved:
            main.__spec__ = None
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def start_workers_early(pipeline: dict[str, Any]) -> None:
    """Start the fork server now (if workers will need one), so its imports overlap the caller's own work."""
    if _context(_preload(pipeline)).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _context(preload: list[str]):
    if _foreign_threads() == 0:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(preload)
        return context
    return multiprocessing.get_context("spawn")


def _foreign_threads() -> int | None:
    """Threads besides the main one that could hold a lock across a fork; None where that cannot be known.

    OpenBLAS's own threads do not count: OpenBLAS stops them before a fork (pthread_atfork) and
    starts them again after. So a library caller with numpy loaded and the CLI take the same path:
    fork when nothing else runs, the fork server as soon as anything does (OpenCV's or TensorFlow's
    thread pools, a caller's own threads).
    """
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return None
    return threads - 1 - _openblas_threads()


def _openblas_threads() -> int:
    """Worker threads of the OpenBLAS libraries loaded in this process (numpy's, scipy's)."""
    if "numpy" not in sys.modules:
        return 0  # nothing has loaded OpenBLAS
    from threadpoolctl import threadpool_info

    return sum(max(0, pool["num_threads"] - 1) for pool in threadpool_info() if pool["internal_api"] == "openblas")
