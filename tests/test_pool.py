"""expander.pool: workers that start safely, and a run that survives a worker dying (issue 30).

The functions run in real worker processes; a worker is killed with SIGKILL, as the kernel's out-of-memory
killer does it, from inside the item it runs (a file in tmp says whether this is the first try)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import still_running

from expander.pool import WorkerDied, WorkerPool, process_pool


def _square(x: int) -> int:
    return x * x


def _dies_the_first_time(args: tuple[str, int]) -> int:
    marker, x = args
    if x == 7 and not Path(marker).exists():
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def _always_dies(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def _fails(x: int) -> int:
    raise ValueError(f"bad item {x}")


def _sleeps(x: int) -> int:
    time.sleep(30)
    return x


def _environment_probe(_: int) -> str | None:
    return os.environ.get("EXPANDER_TEST_PROBE")


def test_every_result_comes_back_in_order_or_as_it_finishes() -> None:
    with WorkerPool(2, preload=[]) as pool:
        assert pool.map(_square, range(200), chunksize=3) == [x * x for x in range(200)]
        assert sorted(pool.imap_unordered(_square, range(50))) == sorted(x * x for x in range(50))


def test_a_worker_killed_once_costs_nothing_its_item_runs_again(tmp_path: Path) -> None:
    marker = str(tmp_path / "killed")
    with WorkerPool(2, preload=[]) as pool:
        results = pool.map(_dies_the_first_time, [(marker, x) for x in range(20)], chunksize=4)
    assert results == list(range(20)) and Path(marker).exists()


def test_an_item_that_kills_its_worker_twice_is_lost_with_the_reason_and_the_rest_finish() -> None:
    lost = []
    with WorkerPool(2, preload=[]) as pool:
        results = pool.map(_always_dies, range(10), chunksize=4, lost=lambda item, reason: lost.append((item, reason)))
    assert [r for r in results if r is not None] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert lost == [(3, "the worker process running it was killed by SIGKILL (the out-of-memory killer, or kill -9)")]
    with WorkerPool(2, preload=[]) as pool, pytest.raises(WorkerDied, match=r"running item 3: .* SIGKILL"):
        pool.map(_always_dies, range(10))  # without ``lost``: an error, never a hang


def test_an_exception_in_the_function_reaches_the_caller() -> None:
    with WorkerPool(2, preload=[]) as pool, pytest.raises(ValueError, match="bad item"):
        pool.map(_fails, range(4))


def test_stopping_mid_run_ends_the_workers_at_once() -> None:
    started = time.monotonic()
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))  # Ctrl-C
    with pytest.raises(KeyboardInterrupt), WorkerPool(2, preload=[]) as pool:
        workers = [w.process for w in pool.workers]
        timer.start()
        next(pool.imap_unordered(_sleeps, range(4)))
    # at once: well under the 30 s each item sleeps, with room for a loaded 2-core machine
    assert time.monotonic() - started < 10 and not any(p.is_alive() for p in workers)


def test_workers_see_the_environment_of_now_even_from_an_older_fork_server() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # a thread of ours: pools start from the fork server, not fork
    thread.start()
    try:
        with process_pool(1) as pool:  # the fork server starts now, without the variable
            assert pool.map(_environment_probe, [0]) == [None]
        os.environ["EXPANDER_TEST_PROBE"] = "set later"  # e.g. credentials for an object store
        with process_pool(1) as pool:
            assert pool.map(_environment_probe, [0]) == ["set later"]
    finally:
        stop.set()
        thread.join()
        os.environ.pop("EXPANDER_TEST_PROBE", None)


def _takes_its_time(x: int) -> int:
    time.sleep(3.0 if x == 0 else 0.05)  # far longer than a worker may start late on a loaded machine (0.9 s seen)
    return x


@pytest.mark.parametrize(("in_flight", "order"), [(2, [2, 3, 0, 1]), (1, [1, 2, 3, 0])])
def test_with_one_item_in_flight_none_waits_behind_a_long_one_while_a_worker_idles(in_flight, order) -> None:
    # Two workers, item 0 slow: with two in flight, item 1 waits behind it on its worker while the other
    # worker finishes 2 and 3 and idles; with one in flight (training runs), the idle worker takes it.
    with WorkerPool(2, in_flight=in_flight, fork=False) as pool:
        assert list(pool.imap_unordered(_takes_its_time, range(4))) == order


_KILLED_MAIN = """
import sys, time
from expander.pool import WorkerPool
with WorkerPool(2, preload=[], fork=sys.argv[1] == "fork") as pool:
    print(*[worker.process.pid for worker in pool.workers], flush=True)
    list(pool.imap_unordered(time.sleep, [600, 600]))
"""


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_no_worker_outlives_a_main_process_killed_with_sigkill(start: str, tmp_path: Path) -> None:
    # Workers forked from a fork server are its children, not the main process's: they die with it, and it
    # must exit when the main process does (it did not: each worker held the pipe it waits on, so a kill -9'd
    # train compare trained on for minutes).
    import subprocess
    import sys

    script = tmp_path / "main.py"
    script.write_text(_KILLED_MAIN)
    main = subprocess.Popen([sys.executable, str(script), start], stdout=subprocess.PIPE, text=True)
    assert main.stdout is not None
    workers = [int(pid) for pid in main.stdout.readline().split()]
    assert len(workers) == 2
    main.kill()
    assert main.wait(timeout=10) == -signal.SIGKILL
    assert still_running(workers) == []  # within 5 s; each sleeps 600 s
