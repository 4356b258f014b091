"""--backend ray: the same files and manifest as the local pool, on a local runtime and on a two-node cluster.

Skipped when Ray is not installed (``pip install -e '.[ray]'``); CI installs it.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import files, live_processes, make_tree, objects, tree_digest, write_image

from expander import expand
from expander.errors import ExpanderError
from expander.images import TEMP_SUFFIX
from expander.ray_executor import MAX_JOBS_PER_TASK, batches

ray = pytest.importorskip("ray")
BIN = Path(sys.executable).parent


def outputs(root: Path) -> dict[str, str]:
    """Every file's digest except expander.json, which records paths, backend and timings."""
    return {path: digest for path, digest in tree_digest(root).items() if path != "expander.json"}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("ray") / "src", {"train/cat": 6, "train/dog": 4, "test/cat": 2},
                     ext=".jpg", shape=(41, 57, 3))  # fmt: skip
    (root / "train" / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def local_run(source: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    expand(source, out, per_image=4, preset="strong", seed=3, workers=2)
    return out


def test_batches_cover_every_job_in_plan_order() -> None:
    jobs = list(range(1000))
    assert [len(b) for b in batches(jobs[:10], cpus=2)] == [2, 2, 2, 2, 2]
    split = batches(jobs, cpus=2)
    assert [j for b in split for j in b] == jobs and max(len(b) for b in split) == MAX_JOBS_PER_TASK
    assert batches(jobs[:3], cpus=16) == [[0], [1], [2]]


def test_local_ray_runtime_writes_the_same_files_as_the_local_pool(source: Path, local_run: Path, tmp_path) -> None:
    out = tmp_path / "ray"
    result = expand(source, out, per_image=4, preset="strong", seed=3, workers=2, backend="ray")
    assert not ray.is_initialized()  # the runtime it started is stopped again
    assert outputs(out) == outputs(local_run)
    assert (out / "manifest.csv").read_bytes() == (local_run / "manifest.csv").read_bytes()
    assert result.failures == [{"source": "train/dog/broken.jpg", "error": result.failures[0]["error"]}]
    assert result.to_dict()["totals"]["written"] == 12 + 10 * 4
    assert result.to_dict()["arguments"]["backend"] == "ray"

    # --resume after losing some files rewrites exactly those, identically.
    for path in sorted(out.rglob("*__aug*"))[::3]:
        path.unlink()
    again = expand(source, out, per_image=4, preset="strong", seed=3, workers=2, backend="ray", resume=True)
    assert again.to_dict()["totals"]["resumed"] == 52 - len(sorted(local_run.rglob("*__aug*"))[::3])
    assert outputs(out) == outputs(local_run)


def test_clear_errors_for_backend_arguments(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ExpanderError, match=r"^--address needs --backend ray\.$"):
        expand(source, tmp_path / "a", address="auto")
    with pytest.raises(ExpanderError, match=r"^--backend must be one of local, ray; got 'dask'\.$"):
        expand(source, tmp_path / "b", backend="dask")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(env: dict, *args: str) -> subprocess.Popen:
    """``ray start --block``: the node lives as long as this process; terminating it stops the node."""
    return subprocess.Popen([str(BIN / "ray"), "start", "--block", "--disable-usage-stats", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def _active_nodes(address: str, env: dict) -> int:
    probe = subprocess.run([str(BIN / "ray"), "status", f"--address={address}"], capture_output=True, text=True,
                           env=env)  # fmt: skip
    if probe.returncode != 0 or "Active:" not in probe.stdout:
        return 0
    active = probe.stdout.split("Active:")[1].split("Pending:")[0]
    return sum(1 for line in active.splitlines() if " node_" in line)


def _batch_workers() -> list[int]:
    """PIDs of Ray worker processes running a batch right now (Ray names them after the task)."""
    found = subprocess.run(["pgrep", "-f", "ray::_run_batch"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def test_two_node_cluster_survives_a_killed_worker(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for i in range(40):  # enough work (about 10 s on 2 CPUs) to kill a worker mid-job
        write_image(source / ("cat" if i % 2 else "dog") / f"img{i}.png", shape=(300, 400, 3), seed=i)
    reference = tmp_path / "local"
    expand(source, reference, per_image=12, preset="traditional", workers=2)

    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Every process of the cluster, and its clients, share one token (the documented cluster setup).
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    nodes = [_ray_start(env, "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false")]
    try:
        deadline = time.monotonic() + 120
        while (active := _active_nodes(address, env)) < 2:
            assert time.monotonic() < deadline, f"the Ray cluster did not come up: {active} node(s)"
            if active == len(nodes) == 1:
                nodes.append(_ray_start(env, f"--address={address}", "--num-cpus=1"))
            time.sleep(1)
        out = tmp_path / "cluster"
        job = subprocess.Popen(
            [str(BIN / "expander"), "expand", str(source), "-o", str(out), "--per-image", "12", "--preset",
             "traditional", "--backend", "ray", "--address", address, "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        killed = None
        while job.poll() is None and killed is None:
            running = _batch_workers()
            if running and len(list(out.rglob("*__aug*"))) > 20:
                killed = running[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        stdout, stderr = job.communicate(timeout=240)
        assert job.returncode == 0, stderr
        assert killed is not None, "the job ended before a worker could be killed; give it more work"
        assert "Wrote 520 of 520 files" in stdout
        rows = set((out / "manifest.csv").read_text().splitlines())
        expected = set((reference / "manifest.csv").read_text().splitlines())
        only = sorted(rows - expected)[:3], sorted(expected - rows)[:3]
        assert rows == expected, f"manifest rows only in the cluster run: {only[0]}; only in the local run: {only[1]}"
        assert outputs(out) == outputs(reference)
        assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    finally:
        for node in reversed(nodes):
            os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            node.wait(timeout=60)


def test_ray_writes_the_same_images_and_labels_as_the_local_pool(tmp_path: Path) -> None:
    from labelled_data import write_coco

    src = write_coco(tmp_path / "src")
    expand(src, tmp_path / "local", per_image=3, preset="strong", workers=2)
    expand(src, tmp_path / "ray", per_image=3, preset="strong", workers=2, backend="ray")
    local, remote = outputs(tmp_path / "local"), outputs(tmp_path / "ray")
    assert local == remote and "train/_annotations.coco.json" in local and len(local) == 2 * 16 + 2


def test_ray_writes_the_same_shards_as_the_local_pool(source: Path, tmp_path: Path) -> None:
    expand(source, tmp_path / "local", per_image=3, shards="tfrecord", shard_size="9", workers=2)
    expand(source, tmp_path / "ray", per_image=3, shards="tfrecord", shard_size="9", workers=2, backend="ray")
    local = outputs(tmp_path / "local")
    assert local == outputs(tmp_path / "ray") and "train/shard-000000.tfrecord" in local


def test_ray_writes_the_same_labelled_parquet_shards_as_the_local_pool(tmp_path: Path) -> None:
    from labelled_data import write_voc

    src = write_voc(tmp_path / "src")
    expand(src, tmp_path / "local", per_image=3, shards="parquet", shard_size="5", workers=2)
    expand(src, tmp_path / "ray", per_image=3, shards="parquet", shard_size="5", workers=2, backend="ray")
    local = outputs(tmp_path / "local")
    assert local == outputs(tmp_path / "ray") and "train/shard-000000.parquet" in local


def _ray_processes() -> set[tuple[int, str]]:
    """(pid, name) of the Ray runtime's processes on this machine: its daemons, agents and workers."""
    return {(pid, name) for pid, _, name in live_processes()
            if name in ("raylet", "gcs_server") or name.startswith("ray::")}  # fmt: skip


def test_no_ray_process_outlives_a_killed_driver_by_more_than_seconds(tmp_path: Path) -> None:
    before = _ray_processes()
    src = make_tree(tmp_path / "src", {"a": 40, "b": 40}, ext=".jpg", shape=(240, 320, 3))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "20",
               "--backend", "ray", "-j", "2", "-q"]  # fmt: skip
    driver = subprocess.Popen(command)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and driver.poll() is None and len(list(out.rglob("*.jpg"))) < 100:
        time.sleep(0.1)
    running = _ray_processes() - before
    assert driver.poll() is None and any(name == "raylet" for _, name in running), running
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    killed = time.monotonic()
    while _ray_processes() - before and time.monotonic() - killed < 30:
        time.sleep(0.25)
    assert _ray_processes() - before == set(), "Ray processes outlived the driver"
    assert time.monotonic() - killed < 20  # Ray's own agents would take 60 s (they wait on the dead GCS)


def test_ray_reads_and_writes_s3_itself(s3, tmp_path: Path) -> None:
    """Source and output in object storage, read and written by the Ray tasks themselves. (Here, not in
    test_object_storage: a module runs on one test worker, and the tests of this one count Ray's processes.)"""
    src = make_tree(tmp_path / "src", {"train/cat": 4, "train/dog": 3, "test/cat": 2}, ext=".jpg", shape=(33, 41, 3))
    s3.put(str(src) + "/", "data/ray-src/", recursive=True)
    reference = tmp_path / "reference"
    expand(src, reference, per_image=3, workers=2, preset="traditional")
    result = expand("s3://data/ray-src", "s3://data/ray", per_image=3, workers=2, preset="traditional", backend="ray")
    assert result.exit_code == 0
    assert objects(s3, "s3://data/ray") == files(reference)
