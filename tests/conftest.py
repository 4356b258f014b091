"""Tiny image trees built in tmp_path. Odd sizes (17x13) catch width/height mix-ups."""

from __future__ import annotations

import hashlib
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
