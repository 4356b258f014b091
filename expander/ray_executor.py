"""Run a plan's jobs as Ray tasks: the local pool's worker code, on every node of a cluster.

A task is a batch of jobs; it runs them with the same :class:`~expander.execute.Worker` as the
local pool, so each output's bytes depend only on its planned seed, never on where it ran. Ray
retries a task whose worker process dies; files appear under their name only when complete
(images.write_atomic), so a retried batch simply writes the same bytes again and a killed write
leaves no partial file.

Inputs and outputs must be on storage every node sees at the same path (a shared filesystem), or in an
object store (URLs): each task reads its sources and writes its outputs itself.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

from expander.errors import ExpanderError, install_hint
from expander.execute import JobResult, Settings, Worker
from expander.plan import Job

INSTALL_HINT = install_hint("ray")
TASKS_PER_CPU = 4  # enough batches that no CPU idles while the last ones finish
MAX_JOBS_PER_TASK = 64  # bounds the work lost when a worker dies and its batch is retried
TASK_RETRIES = 3

_worker: tuple[Settings, Worker] | None = None  # one per Ray worker process, reused across tasks


def _run_batch(settings: Settings, jobs: list[Job]) -> list[JobResult]:
    global _worker
    if _worker is None or _worker[0] != settings:
        _worker = (settings, Worker(settings))
    worker = _worker[1]
    return [worker.run(job) for job in jobs]


def import_ray():
    try:
        import ray  # lazy: Ray is the ray extra and costs ~0.27 s to import
    except ImportError:
        raise ExpanderError(
            f"--backend ray needs Ray, which is not installed. Install it with: {INSTALL_HINT}"
        ) from None
    return ray


def batches(jobs: list[Job], cpus: int) -> list[list[Job]]:
    """Split jobs into about TASKS_PER_CPU batches per CPU, in plan order."""
    size = max(1, min(MAX_JOBS_PER_TASK, math.ceil(len(jobs) / (cpus * TASKS_PER_CPU))))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


class RaySession:
    """Ray for one run: ``with RaySession(...) as connect`` starts connecting (or starting a local runtime)
    in the background, so that Ray's start-up overlaps the run's scan, plan and probe; ``connect()`` waits
    for it and returns ``run_jobs``, which works like ``execute.execute``.

    Without ``address`` a local Ray runtime with ``workers`` CPUs is started and stopped again; with one
    (``auto`` or ``HOST:PORT``) the run joins that cluster and uses all its CPUs. A caller that has
    already called ``ray.init()`` keeps its own connection.
    """

    def __init__(self, address: str | None, workers: int):
        self.ray = import_ray()
        self.address, self.workers = address, workers
        self.reaper: subprocess.Popen | None = None
        self.starter: threading.Thread | None = None
        self.ready, self.stop = threading.Event(), threading.Event()
        self.failure: BaseException | None = None

    def __enter__(self) -> Callable[[], Callable[..., Iterator[JobResult]]]:
        if not self.ray.is_initialized():
            self.reaper = _start_reaper() if self.address is None else None
            self.starter = threading.Thread(target=self._start, name="ray-start", daemon=True)
            self.starter.start()
        else:
            self.ready.set()
        return self.connect

    def _start(self) -> None:
        try:
            _init(self.ray, self.workers, self.address)
        except BaseException as e:  # raised again in the caller's thread by connect()
            self.failure = e
        self.ready.set()
        # Ray's head processes die with the thread that started them (PR_SET_PDEATHSIG): it lives until the
        # session ends.
        self.stop.wait()

    def connect(self) -> Callable[..., Iterator[JobResult]]:
        """Wait until Ray is up; its start-up error, if any, is raised here."""
        self.ready.wait()
        if self.failure is not None:
            raise self.failure
        return self.run

    def __exit__(self, *exc) -> None:
        if self.starter is None:
            return
        self.ready.wait()  # an interrupt during start-up: let it finish, then stop it
        if self.failure is None:
            if self.address is None:  # the runtime is ours, not a cluster's
                _stop_monitor(self.ray)
            self.ray.shutdown()
        self.stop.set()
        self.starter.join()
        if self.reaper is not None and self.reaper.stdin is not None:
            self.reaper.stdin.write(b"shut down\n")  # the run ended cleanly: the reaper goes, killing nothing
            self.reaper.stdin.close()
            self.reaper.wait()

    def run(self, jobs: list[Job], settings: Settings, workers: int) -> Iterator[JobResult]:
        """Yield the result of each job, batch by batch as batches finish (completion order).

        Interrupting the iteration cancels the batches still queued or running.
        """
        if not jobs:
            return
        ray = self.ray
        cpus = max(1, int(ray.cluster_resources().get("CPU", workers)))
        task = ray.remote(max_retries=TASK_RETRIES)(_run_batch)
        settings_ref = ray.put(settings)
        pending = [task.remote(settings_ref, batch) for batch in batches(jobs, cpus)]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield from ray.get(done[0])
        except BaseException:
            for ref in pending:
                ray.cancel(ref)  # not forced: a running batch gets KeyboardInterrupt and cleans its temp file
            raise


# Ray's head processes die with the driver (prctl PR_SET_PDEATHSIG), but the raylet's agents, orphaned,
# spend 60 s trying to tell the dead GCS (a fixed timeout in ray._private.utils.publish_error_to_driver) before
# they exit. The reaper, a small process of its own, notes the driver's descendants as they start and kills
# those still running the moment the driver dies: its stdin, the driver's pipe, reads end-of-file without the
# word a clean shutdown sends first.
_REAPER = r"""
import os, select, signal, sys

def descendants(root):
    children, started = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                started[int(entry)] = fields[19]
            except (OSError, IndexError):
                continue
    found, stack = {}, [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found[child] = started[child]
            stack.append(child)
    return found, started

driver, seen = int(sys.argv[1]), {}
if driver <= 1 or driver == os.getpid():
    sys.exit(2)  # never the system's own processes
while True:
    ready, _, _ = select.select([sys.stdin], [], [], 0.25)
    if ready:
        if os.read(sys.stdin.fileno(), 64):
            sys.exit(0)  # the driver says it shut Ray down itself
        break  # end of file without a word: the driver died
    seen.update(descendants(driver)[0])
current = descendants(driver)[1]
for pid, started in seen.items():
    if pid != os.getpid() and current.get(pid) == started:  # still the same process, not a reused pid
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
"""


def _start_reaper() -> subprocess.Popen | None:
    """A process that kills the local Ray runtime's processes if this one dies without shutting it down."""
    if not sys.platform.startswith("linux"):
        return None  # not Linux: Ray's own fate-sharing is all there is
    return subprocess.Popen([sys.executable, "-c", _REAPER, str(os.getpid())], stdin=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip


def _stop_monitor(ray) -> None:
    """Kill the local runtime's autoscaler monitor, which has nothing to save: ``ray.shutdown`` otherwise
    waits a fixed second for it to ignore SIGTERM (measured with Ray 2.60: 1.0 s of its 1.3 s)."""
    node = getattr(getattr(ray, "_private", None), "worker", None)
    processes = getattr(getattr(node, "_global_node", None), "all_processes", None) or {}
    for info in processes.get("monitor", []):  # private to Ray: without it, shutdown only takes longer
        info.process.kill()


def _init(ray, workers: int, address: str | None) -> None:
    try:
        ray.init(
            address=address or "local",  # never silently join a cluster that happens to run on this machine
            num_cpus=None if address else workers,
            include_dashboard=False if not address else None,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except ConnectionError as e:
        raise ExpanderError(
            f"Cannot connect to the Ray cluster at --address {address}: {e}. Start it with 'ray start --head' "
            "(and 'ray start --address HOST:PORT' on the other nodes), or leave --address out to run Ray "
            "locally. A cluster with token authentication also needs RAY_AUTH_MODE=token and its token "
            "(RAY_AUTH_TOKEN, or the file ~/.ray/auth_token) in this shell."
        ) from None
