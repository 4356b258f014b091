"""Tiny image trees built in tmp_path. Odd sizes (17x13) catch width/height mix-ups."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data" / "fashion_mnist"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def write_image(path: Path, shape=(13, 17, 3), seed: int = 0, dtype=np.uint8) -> Path:
    """Write a random image; the extension picks the format. Returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    high = 65535 if dtype == np.uint16 else 255
    pixels = np.random.default_rng(seed).integers(0, high, shape, dtype=dtype)
    ok, buf = cv2.imencode(path.suffix, pixels)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def make_tree(root: Path, counts: dict[str, int], ext: str = ".png", shape=(13, 17, 3)) -> Path:
    """``counts`` maps 'class' or 'split/class' to a number of images named img1, img2, ..."""
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            write_image(root / folder / f"img{i}{ext}", shape=shape, seed=hash_seed(f"{folder}/{i}"))
    return root


def live_processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, name) of every process on this machine that is not a zombie, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended while we looked
        name = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
        state, parent = stat[stat.rindex(b")") + 2 :].split()[:2]
        if state != b"Z":
            found.append((int(entry), int(parent), name))
    return found


def still_running(pids: list[int], within: float = 5.0) -> list[int]:
    """Those of ``pids`` still running (not zombies: PID 1 may reap late) after up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        live = {pid for pid, _, _ in live_processes()}
        running = [pid for pid in pids if pid in live]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``: its children, theirs (a fork server's workers), and so on."""
    children: dict[int, list[int]] = {}
    for child, parent, _ in live_processes():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def objects(fs, url: str) -> dict[str, bytes]:
    """Every object under a prefix of the S3 filesystem ``fs`` (the ``s3`` fixture's) but the run summary (it
    records paths and timings)."""
    prefix = url.split("://", 1)[1]
    fs.invalidate_cache()
    return {p[len(prefix) + 1 :]: fs.cat_file(p) for p in fs.find(prefix) if not p.endswith("expander.json")}


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the run summary and the run lock: what ``objects`` reads from a store."""
    return {p: (root / p).read_bytes() for p in tree_digest(root) if p not in ("expander.json", ".expander.lock")}


def hash_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", {"cat": 3, "dog": 2})


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """An S3 endpoint on 127.0.0.1 (moto's server, one for the session: fsspec keeps one S3 filesystem per
    configuration) and the environment that points boto and s3fs at it (credentials the usual way). Skipped when
    s3fs or moto is not installed (the dev extra installs both). Tests keep to prefixes of their own."""
    s3fs = pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    fs = s3fs.S3FileSystem()
    fs.mkdir("data")
    try:
        yield fs
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
