"""Rebuild sample_data/fashion_mnist from Debian's dataset-fashion-mnist package.

    apt-get install dataset-fashion-mnist && python sample_data/make_fashion_mnist.py

Takes the first images of three classes in file order, deliberately imbalanced in train,
and writes them as 28x28 grayscale PNGs named after their index in the original file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np

SOURCE = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parent / "fashion_mnist"
CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker"}  # Fashion-MNIST label -> folder name
COUNTS = {"train": {0: 60, 1: 30, 7: 15}, "test": {0: 20, 1: 20, 7: 20}}
FILES = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main() -> None:
    for split, prefix in FILES.items():
        pixels = read_idx(SOURCE / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(SOURCE / f"{prefix}-labels-idx1-ubyte.gz")
        for label, name in CLASSES.items():
            folder = OUT / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in np.flatnonzero(labels == label)[: COUNTS[split][label]]:
                cv2.imwrite(str(folder / f"{name}_{index:05d}.png"), pixels[index])


if __name__ == "__main__":
    main()
