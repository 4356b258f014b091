"""Rebuild sample_data/fashion_mnist from Debian's dataset-fashion-mnist package, or write a larger subset.

    apt-get install dataset-fashion-mnist && python sample_data/make_fashion_mnist.py

Takes the first images of three classes in file order, deliberately imbalanced in train,
and writes them as 28x28 grayscale PNGs named after their index in the original file.

    python sample_data/make_fashion_mnist.py --out /tmp/fmnist50 --train 50 --test 100

writes the first 50 training and 100 test images of each of the ten classes instead (the second dataset of
docs/results.md's search; never committed: sample_data keeps the small subset only).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import cv2
import numpy as np

SOURCE = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parent / "fashion_mnist"
NAMES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker"}  # the sample's Fashion-MNIST labels -> folder names
COUNTS = {"train": {0: 60, 1: 30, 7: 15}, "test": {0: 20, 1: 20, 7: 20}}
FILES = {"train": "train", "test": "t10k"}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write(out: Path, classes: dict[int, str], counts: dict[str, dict[int, int]]) -> None:
    for split, prefix in FILES.items():
        pixels = read_idx(SOURCE / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(SOURCE / f"{prefix}-labels-idx1-ubyte.gz")
        for label, name in classes.items():
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in np.flatnonzero(labels == label)[: counts[split][label]]:
                cv2.imwrite(str(folder / f"{name}_{index:05d}.png"), pixels[index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write all ten classes here instead of rebuilding the sample")
    parser.add_argument("--train", type=int, default=50, help="training images per class (with --out)")
    parser.add_argument("--test", type=int, default=100, help="test images per class (with --out)")
    args = parser.parse_args()
    if args.out is None:
        write(OUT, CLASSES, COUNTS)
        return
    every = dict(enumerate(NAMES))
    write(args.out, every, {"train": dict.fromkeys(every, args.train), "test": dict.fromkeys(every, args.test)})


if __name__ == "__main__":
    main()
