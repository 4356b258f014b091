"""What a worker could do differently per output, side by side on the same photos, with what each costs in pixels.

    .venv/bin/python benchmarks/bench_worker.py --source ../shared/datasets/dogs_vs_cats/test
    .venv/bin/python benchmarks/bench_worker.py --large ../shared/datasets/large_photos

One process, OpenCV on one thread (as in a worker), every variant once per round in interleaved rounds,
median milliseconds per output. The augmentation is the benchmark's (methods.py): rotation +-15 degrees,
10% shift, horizontal flip with p=0.5, border replicate, JPEG quality 95.

Native size (--source, the first --photos JPEGs of its class folders, 10 copies each):
  flip      the warp, then cv2.flip when the flip fires (what expander and albumentations do)
  folded    the flip folded into the warp's matrix: one warpAffine, no flip
  planes    folded, warped as YCbCr 4:2:0 planes (chroma at half size) and encoded from the planes by
            simplejpeg: no colour conversion or chroma subsampling per output, half the chroma pixels
  Pixels: folded against flip (max difference, share of pixels that differ); planes against flip
  (PSNR of the decoded JPEGs, size of the files).

Large photos at 224x224 (--large):
  shrink    reduced-scale decode to at least twice the target, INTER_AREA to the target, then the warp
            (what expander --size does)
  one-warp  reduced-scale decode to at least the target, then one warp from it to the target
  Pixels: PSNR / SSIM of each against the full-resolution path (full decode, INTER_AREA, the same warp).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_expand import psnr, ssim
from methods import encode_planar, folded, warp

from expander import images
from expander.fastpath import ycbcr_planes

QUALITY, COPIES, SIZE = 95, 10, (224, 224)


def draws(width: int, height: int, rng: random.Random) -> tuple[np.ndarray, bool]:
    """One copy's 3x3 warp matrix and whether it is flipped."""
    matrix = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), rng.uniform(-15, 15), 1.0)
    matrix[0, 2] += rng.uniform(-0.1, 0.1) * width
    matrix[1, 2] += rng.uniform(-0.1, 0.1) * height
    return np.vstack([matrix, [0, 0, 1]]), rng.random() < 0.5


def native_outputs(variant: str, datas: list[bytes]) -> list[bytes]:
    outputs = []
    for number, data in enumerate(datas):
        image = simplejpeg.decode_jpeg(data, "BGR")
        height, width = image.shape[:2]
        rng = random.Random(number)
        yuv = ycbcr_planes(image) if variant == "planes" else None
        for _ in range(COPIES):
            matrix, flip = draws(width, height, rng)
            if yuv is not None:
                outputs.append(encode_planar(yuv, folded(matrix, flip, width)))
                continue
            if variant == "folded":
                result = warp(image, folded(matrix, flip, width), (width, height))
            else:
                result = warp(image, matrix, (width, height))
                result = cv2.flip(result, 1) if flip else result
            outputs.append(cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes())
    return outputs


def native(source: Path, photos: int, rounds: int) -> None:
    paths = sorted(source.glob("*/*.jpg"))[:photos]
    datas = [p.read_bytes() for p in paths]
    variants = ("flip", "folded", "planes")
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            start = time.perf_counter()
            native_outputs(variant, datas)
            times[variant].append((time.perf_counter() - start) / (len(datas) * COPIES) * 1e3)
    print(f"Native size: {len(datas)} photos of {source}, {COPIES} copies each, {rounds} interleaved rounds\n")
    print("| variant | ms per output (median) | rounds | vs flip (median of per-round ratios) |")
    print("|---|---|---|---|")
    for v in variants:
        ratios = [a / b for a, b in zip(times[v], times["flip"], strict=True)]
        print(f"| {v} | {statistics.median(times[v]):.3f} | {min(times[v]):.3f}-{max(times[v]):.3f} | "
              f"{statistics.median(ratios):.3f} |")  # fmt: skip
    flipped = native_outputs("flip", datas)
    reference = [cv2.imdecode(np.frombuffer(b, np.uint8), 1) for b in flipped]
    print()
    for variant in ("folded", "planes"):
        made = native_outputs(variant, datas)
        decoded = [cv2.imdecode(np.frombuffer(b, np.uint8), 1) for b in made]
        diff = [np.abs(a.astype(np.int16) - b) for a, b in zip(decoded, reference, strict=True)]
        psnrs = [psnr(a, b) for a, b in zip(decoded, reference, strict=True)]
        print(f"{variant} against flip, decoded: max difference {max(int(d.max()) for d in diff)}, pixels that "
              f"differ {np.mean([np.mean(d > 0) for d in diff]):.2%}, PSNR median {np.median(psnrs):.1f} dB "
              f"(worst {np.min(psnrs):.1f}); files {sum(map(len, made)) / sum(map(len, flipped)):.3f}x "
              "the size")  # fmt: skip


def to_target(width: int, height: int) -> np.ndarray:
    """Pixel centres of a (width, height) image -> those of the same image resized to SIZE (cv2.resize's mapping)."""
    a, b = SIZE[0] / width, SIZE[1] / height
    return np.array([[a, 0, 0.5 * a - 0.5], [0, b, 0.5 * b - 0.5], [0, 0, 1.0]])


def large_outputs(variant: str, data: bytes, seed: int) -> list[np.ndarray]:
    rng = random.Random(seed)
    if variant == "one-warp":
        image = images.decode(data, "", "BGR", min_size=SIZE)
        shrink = to_target(image.shape[1], image.shape[0])
    else:
        full = variant == "full"
        image = images.decode(data, "", "BGR", min_size=None if full else (2 * SIZE[0], 2 * SIZE[1]))
        image, shrink = images.resize(image, SIZE), np.eye(3)
    outputs = []
    for _ in range(COPIES):
        matrix, flip = draws(*SIZE, rng)
        outputs.append(warp(image, folded(matrix, flip, SIZE[0]) @ shrink, SIZE))
    return outputs


def large(folder: Path, rounds: int) -> None:
    datas = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]
    variants = ("shrink", "one-warp")
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            start = time.perf_counter()
            for number, data in enumerate(datas):
                large_outputs(variant, data, number)
            times[variant].append((time.perf_counter() - start) / len(datas) * 1e3)
    print(f"\nLarge photos: {len(datas)} photos of {folder}, {COPIES} copies each at {SIZE[0]}x{SIZE[1]} "
          f"(decode, shrink, warp; no encode), {rounds} interleaved rounds\n")  # fmt: skip
    print("| variant | ms per photo (median) | rounds | vs shrink | PSNR dB median (worst) | SSIM median (worst) |")
    print("|---|---|---|---|---|---|")
    for variant in variants:
        psnrs, ssims = [], []
        for number, data in enumerate(datas):
            for a, b in zip(large_outputs(variant, data, number), large_outputs("full", data, number), strict=True):
                psnrs.append(psnr(a, b))
                ssims.append(ssim(a.astype(np.float64), b.astype(np.float64)))
        ratios = [a / b for a, b in zip(times[variant], times["shrink"], strict=True)]
        print(f"| {variant} | {statistics.median(times[variant]):.1f} | {min(times[variant]):.1f}-"
              f"{max(times[variant]):.1f} | {statistics.median(ratios):.3f} | {np.median(psnrs):.1f} "
              f"({np.min(psnrs):.1f}) | {np.median(ssims):.4f} ({np.min(ssims):.4f}) |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="a folder of class folders of JPEGs (native size rows)")
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--large", type=Path, help="a folder of large JPEGs (--size rows)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.source is None and args.large is None:
        sys.exit("Pass --source DIR (class folders of JPEGs), --large DIR (large JPEGs), or both.")
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}, simplejpeg {simplejpeg.__version__}, one thread\n")
    if args.source is not None:
        native(args.source, args.photos, args.rounds)
    if args.large is not None:
        large(args.large, args.rounds)


if __name__ == "__main__":
    main()
