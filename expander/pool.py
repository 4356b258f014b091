"""Worker processes that start safely and fast, and a run that survives one of them dying.

``WorkerPool`` hands each worker its items itself (a pipe per worker, at most two chunks in flight), so it
knows what a worker held when it died: killed by the kernel's out-of-memory killer, a segfault in a codec,
``kill -9``. Those items are tried again one by one, once; an item that kills a worker twice is handed to the
caller's ``lost`` with the reason, and the run goes on and ends. ``multiprocessing.Pool`` cannot do this: it
replaces a dead worker but never learns which task went with it, and waits for that task forever.

Workers fork when this process runs no thread but its own (OpenBLAS's and fsspec's do not count: both make
forking safe), so they start at once with everything imported; otherwise they fork from a fork server that
imported the heavy modules once (``preload``). Ctrl-C is the main process's to handle; a worker dies with
its parent (Linux: PR_SET_PDEATHSIG), and stopping the pool stops its workers with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import wait
from typing import Any

from threadpoolctl import threadpool_info

PRELOAD = ["cv2", "numpy", "expander.execute"]
ALBUMENTATIONS = ["albumentations", "expander.augment"]
IN_FLIGHT = 2  # chunks a worker holds: one it runs, one waiting, so it never idles between them
_STARTS_WITHOUT_PROGRESS = 8  # workers that die before any result: something kills every worker at start


class WorkerDied(RuntimeError):
    """Workers keep dying before they can run anything (a broken install, a full /dev/shm)."""


@dataclass
class _Worker:
    process: Any
    conn: Any
    chunks: deque = field(default_factory=deque)  # (token, items, attempt) sent and not yet answered


class WorkerPool:
    """``with WorkerPool(n, ...) as pool: pool.imap_unordered(function, items)``.

    ``function`` and the items must pickle (a module-level function); ``initializer(*initargs)`` runs once in
    each worker before its first item.
    """

    def __init__(self, workers: int, initializer: Callable | None = None, initargs: tuple = (),
                 preload: list[str] = PRELOAD + ALBUMENTATIONS, fork: bool = True,
                 in_flight: int = IN_FLIGHT):  # fmt: skip
        """``fork=False``: never fork this process, even with no other thread running (TensorFlow, once
        imported, must not be forked). ``in_flight=1`` for items that take minutes (training runs): a chunk
        waiting behind a long one could have run on a worker that is idle meanwhile."""
        self.size = max(1, workers)
        self.in_flight = in_flight
        self.initializer, self.initargs = initializer, initargs
        self.context = _context(preload, fork)
        self.environ = dict(os.environ)
        self.workers: list[_Worker] = []
        self.deaths_without_progress = 0

    def __enter__(self) -> WorkerPool:
        for _ in range(self.size):
            self.workers.append(self._start())
        return self

    def __exit__(self, *exc) -> None:
        self.close(graceful=exc[0] is None)

    def imap_unordered(self, function: Callable, items: Iterable, chunksize: int = 1,
                       lost: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:  # fmt: skip
        """Each item's result, in completion order. An item whose worker died twice gives ``lost(item, reason)``
        (WorkerDied when there is no ``lost``)."""
        for _, result in self._run(function, list(items), chunksize, lost):
            yield result

    def imap(self, function: Callable, items: Iterable, chunksize: int = 1,
             lost: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:  # fmt: skip
        """Each item's result, in the items' order."""
        waiting: dict[int, Any] = {}
        following = 0
        for index, result in self._run(function, list(items), chunksize, lost):
            waiting[index] = result
            while following in waiting:
                yield waiting.pop(following)
                following += 1

    def map(self, function: Callable, items: Iterable, chunksize: int = 1,
            lost: Callable[[Any, str], Any] | None = None) -> list[Any]:  # fmt: skip
        return list(self.imap(function, items, chunksize, lost))

    def close(self, graceful: bool = True) -> None:
        """Stop the workers: asked to finish (graceful), else SIGTERM; whatever is left after 5 s, SIGKILL."""
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                if graceful:
                    worker.conn.send(None)
                else:
                    worker.process.terminate()
        for worker in self.workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self.workers = []

    # --- inside ------------------------------------------------------------------------------------------

    def _run(self, function: Callable, items: list, chunksize: int, lost) -> Iterator[tuple[int, Any]]:
        queue = deque((index, items[index : index + chunksize], 0) for index in range(0, len(items), chunksize))
        remaining = len(items)
        while remaining:
            for worker in self.workers:
                while queue and _takes(worker, queue[0], self.in_flight):
                    chunk = queue.popleft()
                    try:
                        worker.conn.send((function, chunk[1]))
                    except OSError:  # it died since the last wait: its sentinel says so below
                        queue.appendleft(chunk)
                        break
                    worker.chunks.append(chunk)
            ready = wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers])
            for worker in list(self.workers):
                if worker.conn in ready:
                    for start, results in self._answers(worker):
                        self.deaths_without_progress = 0
                        remaining -= len(results)
                        yield from enumerate(results, start)
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    for start, results in self._answers(worker):  # what it sent before it died
                        remaining -= len(results)
                        yield from enumerate(results, start)
                    for index, item, reason in self._replace(worker, queue):
                        remaining -= 1
                        if lost is None:
                            raise WorkerDied(f"a worker died running item {index}: {reason}")
                        yield index, lost(item, reason)

    def _answers(self, worker: _Worker) -> Iterator[tuple[int, list]]:
        """The results a worker has sent: (index of its chunk's first item, results)."""
        with contextlib.suppress(EOFError, OSError):
            while worker.chunks and worker.conn.poll():
                status, payload = worker.conn.recv()
                start, _, _ = worker.chunks.popleft()
                if status == "error":
                    raise payload
                yield start, payload

    def _replace(self, worker: _Worker, queue: deque) -> Iterator[tuple[int, Any, str]]:
        """A dead worker's items back in the queue one by one (tried once more), or lost; and a new worker."""
        self.workers.remove(worker)
        worker.process.join(1)
        reason = _death(worker.process.exitcode)
        worker.conn.close()
        for start, chunk, attempt in reversed(worker.chunks):
            for offset in reversed(range(len(chunk))):
                if attempt == 0:
                    queue.appendleft((start + offset, [chunk[offset]], 1))
                else:
                    yield start + offset, chunk[offset], reason
        if not worker.chunks:
            self.deaths_without_progress += 1
            if self.deaths_without_progress >= _STARTS_WITHOUT_PROGRESS:
                raise WorkerDied(f"{_STARTS_WITHOUT_PROGRESS} workers died before running anything: {reason}")
        self.workers.append(self._start())

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        with _detached_main():
            starter = None if self.context.get_start_method() == "forkserver" else os.getpid()
            arguments = (child, self.environ, self.initializer, self.initargs, starter)
            process = self.context.Process(target=_serve, args=arguments, daemon=True)
            process.start()
        child.close()
        return _Worker(process, parent)


def _takes(worker: _Worker, chunk: tuple, in_flight: int) -> bool:
    """Whether a worker may take a chunk now: up to ``in_flight`` of them, but an item tried again runs alone,
    so that if it kills its worker a second time, it is the only one lost."""
    if chunk[2] or any(attempt for _, _, attempt in worker.chunks):
        return not worker.chunks
    return len(worker.chunks) < in_flight


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (the out-of-memory killer, or kill -9)" if name == "SIGKILL" else ""
        return f"the worker process running it was killed by {name}{hint}"
    return f"the worker process running it exited with status {exitcode}"


def _serve(conn, environ: dict[str, str], initializer, initargs: tuple, parent: int | None) -> None:
    """A worker: the caller's environment and signals, its initializer, then chunks until told to stop."""
    if environ != os.environ:  # a fork server started earlier would hand over the environment of that moment
        os.environ.clear()
        os.environ.update(environ)
    init_child_process(parent)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, items = message
        answer: tuple[str, Any]
        try:
            answer = ("ok", [function(item) for item in items])
        except Exception as e:  # a bug, not a bad file (functions record those): raised in the main process
            answer = ("error", e)
        conn.send(answer)


def init_child_process(parent: int | None = None) -> None:
    """Signals for a worker process: it never outlives the process that started it.

    Ctrl-C is the main process's to handle (it stops the pool); SIGTERM, which the pool sends to stop
    workers, kills at once (a forked worker inherits the CLI's SIGTERM handler otherwise); and on Linux the
    kernel sends SIGKILL when the parent dies, so a main process killed with SIGKILL leaves no worker writing
    into the output folder. (With forkserver the parent is the fork server, which exits once no process holds
    its "alive" pipe: see ``_let_the_fork_server_go``.) ``parent`` is the pid of the process that started
    this one, None for a fork server (read here: it cannot exit before this process lets it go).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent is None:
        parent = os.getppid()
    _let_the_fork_server_go()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _let_the_fork_server_go() -> None:
    """Close this worker's copy of the fork server's "alive" pipe.

    The fork server exits when every write end of that pipe is closed, and multiprocessing hands one to each
    process it starts (so that a child could start processes of its own through the same server). A worker
    that keeps it keeps the fork server alive after the main process is killed, and the fork server, its
    parent, keeps the worker alive in turn: a ``kill -9``-ed ``train compare`` left its runs training on for
    minutes. Our workers start no processes, so they let it go.
    """
    server = forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]


@contextlib.contextmanager
def _detached_main():
    """Start workers without re-running the caller's main script.

    spawn and forkserver children import the parent's ``__main__`` to unpickle what it defines; ours
    need nothing from it (the job functions live in this package). Re-running it breaks real callers:
    a script that calls ``expand()`` without an ``if __name__ == "__main__":`` guard would start pools
    recursively, and ``python -`` (a script on stdin) cannot be re-run at all.
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


def start_fork_server_early(preload: list[str]) -> None:
    """Start the fork server now (if workers will need one), so its imports overlap the caller's own work."""
    if _context(preload).get_start_method() == "forkserver":
        forkserver.ensure_running()


def _context(preload: list[str], fork: bool = True):
    if fork and _foreign_threads() == 0:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(preload)
        return context
    return multiprocessing.get_context("spawn")


def _foreign_threads() -> int | None:
    """Threads besides the main one that could hold a lock across a fork; None where that cannot be known.

    OpenBLAS's own threads do not count: OpenBLAS stops them before a fork (pthread_atfork) and starts them
    again after; nor do fsspec's I/O threads (``_fsspec_threads``). So a library caller with numpy loaded and
    the CLI take the same path: fork when nothing else runs, the fork server as soon as anything does
    (OpenCV's or TensorFlow's thread pools, a caller's own threads).
    """
    try:
        threads = len(os.listdir("/proc/self/task"))  # noqa: PTH208 - a count, no Path per thread
    except OSError:
        return None
    return threads - 1 - _openblas_threads() - _fsspec_threads()


def _openblas_threads() -> int:
    """Worker threads of the OpenBLAS libraries loaded in this process (numpy's, scipy's)."""
    if "numpy" not in sys.modules:
        return 0  # nothing has loaded OpenBLAS

    return sum(max(0, pool["num_threads"] - 1) for pool in threadpool_info() if pool["internal_api"] == "openblas")


def _fsspec_threads() -> int:
    """fsspec's I/O loop thread and its executor's idle threads, which an object-store run starts in this process.

    fsspec makes a forked child drop that loop and start its own (``fsspec.asyn.reset_after_fork``, registered
    with ``os.register_at_fork``), and the run forks once its listing is done, with the loop waiting in epoll:
    so they do not force the fork server, whose start re-imports OpenCV and albumentations (1.08 s against
    0.81 s for 8 images from S3 with -j 2, in benchmarks/bench_sinks.py pool-start).
    """
    asyn = sys.modules.get("fsspec.asyn")
    iothread = getattr(asyn, "iothread", [None])[0] if asyn is not None else None
    if iothread is None or not iothread.is_alive():
        return 0

    return sum(1 for t in threading.enumerate() if t is iothread or t.name.startswith("asyncio_"))


def process_pool(workers: int, initializer=None, initargs=(), preload: list[str] = PRELOAD + ALBUMENTATIONS):
    """A WorkerPool (kept as the name callers use)."""
    return WorkerPool(workers, initializer, initargs, preload)
