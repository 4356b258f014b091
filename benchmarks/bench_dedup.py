"""Near-duplicates against a ground truth, beside the imagehash pHash baseline; and the search's scale curve.

    pip install imagehash                                   # the baseline (not an expander dependency)
    .venv/bin/python benchmarks/bench_dedup.py              # about 1 minute on 2 cores (the corpus built once)
    .venv/bin/python benchmarks/bench_dedup.py --holdout /tmp/dedup-holdout   # a corpus nothing was tuned on
    .venv/bin/python benchmarks/bench_dedup.py --scale      # both searches at 1k ... 1M images, about 6 minutes
    .venv/bin/python benchmarks/bench_dedup.py --hundred-k /tmp/dedup-100k   # inspect over 100,000 images

**Corpus** (built once under --corpus): untouched images (../shared/datasets: dogs-vs-cats, aquarium, Penn-Fudan,
320x240 tiles of the large photos with some picture in them, and the first 5,000 Fashion-MNIST test items when
Debian's ``dataset-fashion-mnist`` is installed), plus 100 copies of each kind below, each made from a different
untouched photo: the injected pairs. Untouched pairs either method finds are checked against
``dedup_confirmed.json``: the untouched duplicates confirmed by looking at them (``expander inspect
--duplicates-sheet`` draws them). ``--holdout`` builds the same kinds of copies from other pictures (Debian's
desktop wallpapers, Fashion-MNIST training items; see ``holdout``), judged in ``dedup_confirmed_holdout.json``.

**Report**: recall per kind (exact copies are found by their bytes), the pairs among untouched images and how
many are confirmed (precision), and time: ``expander.inspection.inspect_dataset`` with 2 workers, the way
``expander inspect`` runs, against imagehash's 64-bit pHash of every file in one process with a brute-force
Hamming search at 4 and 6 bits (what a notebook does).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DATASETS = HERE.parent.parent / "shared" / "datasets"
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
CONFIRMED = HERE / "dedup_confirmed.json"
HOLDOUT_CONFIRMED = HERE / "dedup_confirmed_holdout.json"
WALLPAPERS = [Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers")]  # Debian's *-backgrounds, *-wallpapers
PER_KIND = 100


def untouched():
    """(name, BGR or grey image) of every untouched image."""
    for sub in ("dogs_vs_cats/train", "dogs_vs_cats/test", "aquarium_yolo", "pennfudan/PNGImages"):
        for path in sorted((DATASETS / sub).rglob("*")):
            if path.suffix.lower() in (".jpg", ".png"):
                flat = path.relative_to(DATASETS).as_posix().split("/", 1)[1].replace("/", "__")
                yield f"{sub.split('/')[0]}/{flat}", cv2.imread(str(path))
    for path in sorted((DATASETS / "large_photos").glob("*.jpg")):
        image = cv2.imread(str(path))
        for y in range(0, image.shape[0] - 239, 240):
            for x in range(0, image.shape[1] - 319, 320):
                tile = image[y : y + 240, x : x + 320]
                if cv2.cvtColor(tile, cv2.COLOR_BGR2GRAY).std() >= 25:  # flat sky or space: no picture
                    yield f"large/{path.stem}_{y}_{x}.jpg", tile
    if FASHION.exists():
        with gzip.open(FASHION) as f:
            items = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
        for i in range(5000):
            yield f"fashion/{i:05d}.png", items[i]


def holdout():
    """(name, BGR or grey image) of the untouched images of a corpus nothing was calibrated on: 320x240 tiles of
    Debian's desktop wallpapers (``apt-get install mate-backgrounds ukui-wallpapers lomiri-wallpapers
    sway-backgrounds``; photos and paintings, each scaled to 1920 wide first) and Fashion-MNIST's first 5,000
    training items (the calibration corpus has test items)."""
    paths = sorted(
        {p.resolve() for root in WALLPAPERS for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png")}
    )
    for path in paths:
        image = cv2.imread(str(path))
        if image is None or image.shape[1] < 1280:  # the few small ones: not worth tiling
            continue
        image = cv2.resize(image, (1920, round(image.shape[0] * 1920 / image.shape[1])), interpolation=cv2.INTER_AREA)
        for y in range(0, image.shape[0] - 239, 240):
            for x in range(0, 1920 - 319, 320):
                tile = image[y : y + 240, x : x + 320]
                if cv2.cvtColor(tile, cv2.COLOR_BGR2GRAY).std() >= 25:
                    yield f"wallpaper/{path.stem}_{y}_{x}.jpg", tile
    if FASHION.with_name("train-images-idx3-ubyte.gz").exists():
        with gzip.open(FASHION.with_name("train-images-idx3-ubyte.gz")) as f:
            items = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
        for i in range(5000):
            yield f"fashion_train/{i:05d}.png", items[i]


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def _lut(image: np.ndarray, curve) -> np.ndarray:
    return np.clip(curve(np.arange(256, dtype=np.float32)), 0, 255).astype(np.uint8)[image]


def _colour(image: np.ndarray, r: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + r.integers(10, 30)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * r.uniform(0.6, 1.4), 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def _crop(image: np.ndarray, r: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    cy, cx = int(h * r.uniform(0.03, 0.10)), int(w * r.uniform(0.03, 0.10))
    y0, x0 = r.integers(0, cy + 1), r.integers(0, cx + 1)
    cut = image[y0 : h - (cy - y0), x0 : w - (cx - x0)]
    return cv2.resize(cut, (w, h), interpolation=cv2.INTER_AREA) if r.random() < 0.5 else cut


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def _watermark(image: np.ndarray, r: np.random.Generator) -> np.ndarray:
    out, (h, w) = image.copy(), image.shape[:2]
    text = str(r.choice(["(c) stock photo", "SAMPLE", "www.example.com", "@photographer"]))
    scale = max(0.4, w / 600)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    x, y = int(r.integers(0, max(1, w - tw))), int(r.integers(th, max(th + 1, h)))
    cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return cv2.addWeighted(out, 0.6, image, 0.4, 0)


def _resized(image: np.ndarray, r: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    f = r.uniform(0.4, 0.7)
    small = cv2.resize(image, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


KINDS = {  # kind -> (copy of a BGR image, random generator) -> the copy; None: a byte-for-byte copy
    "re-encoded q70": lambda im, r: _jpeg(im, 70),
    "resized": _resized,
    "exact": lambda im, r: None,
    "brightness": lambda im, r: _lut(im, lambda v: v * r.choice([0.8, 0.85, 0.9, 1.1, 1.15, 1.2])),
    "contrast": lambda im, r: _lut(im, lambda v, f=r.choice([0.7, 0.8, 1.25, 1.4]), m=im.mean(): (v - m) * f + m),
    "gamma": lambda im, r: _lut(im, lambda v, g=r.choice([0.7, 0.8, 1.25, 1.4]): (v / 255) ** g * 255),
    "colour": _colour,
    "crop 3-10%": _crop,
    "shift <=8%": lambda im, r: _warp(
        im, np.float32([[1, 0, im.shape[1] * r.uniform(-0.08, 0.08)], [0, 1, im.shape[0] * r.uniform(-0.08, 0.08)]])
    ),
    "rotation 2-5deg": lambda im, r: _warp(
        im, cv2.getRotationMatrix2D((im.shape[1] / 2, im.shape[0] / 2), r.uniform(2, 5) * r.choice([-1, 1]), 1.0)
    ),
    "flip": lambda im, r: np.ascontiguousarray(im[:, ::-1]),
    "watermark": _watermark,
}


def build(root: Path, images=untouched, seed: int = 7, per_kind: int = PER_KIND, salt: int = 0) -> list[dict]:
    """Write the corpus of ``images`` under ``root`` (once) and return the injected pairs: ``per_kind`` of each
    kind, of photos drawn with ``seed``, each copy's random draws seeded by its place plus ``salt``."""
    if (root / "pairs.json").exists():
        return json.loads((root / "pairs.json").read_text())
    names, photos = [], []
    for name, image in images():
        path = root / name  # a class folder per source: the search does not look at classes
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else [])
        names.append(path.relative_to(root).as_posix())
        if not name.startswith("fashion"):  # copies are made of photos
            photos.append(len(names) - 1)
    chosen = iter(np.random.default_rng(seed).permutation(photos).tolist())
    pairs = []
    for kind, make in KINDS.items():
        for j in range(per_kind):
            i = next(chosen)
            copy = make(cv2.imread(str(root / names[i])), np.random.default_rng(1000 * len(pairs) + j + salt))
            path = root / f"injected_{kind.split()[0]}" / f"{j:03d}_{Path(names[i]).stem}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            if copy is None:
                path.write_bytes((root / names[i]).read_bytes())
            else:
                cv2.imwrite(str(path), copy, [cv2.IMWRITE_JPEG_QUALITY, 92])
            pairs.append({"kind": kind, "a": names[i], "b": path.relative_to(root).as_posix()})
    (root / "pairs.json").write_text(json.dumps(pairs, indent=1))
    return pairs


def expander_pairs(root: Path) -> tuple[set[tuple[str, str]], float]:
    from expander.inspection import inspect_dataset

    began = time.perf_counter()
    report = inspect_dataset(root, workers=2)
    took = time.perf_counter() - began
    found = {tuple(sorted(d["files"][:2])) for d in report["near_duplicates"]}
    for group in report["exact_duplicates"]:
        found |= {(a, b) for a in group["files"] for b in group["files"] if a < b}
    return found, took  # type: ignore[return-value]


def phash_pairs(root: Path, files: list[str], bits: int) -> tuple[set[tuple[str, str]], float]:
    import imagehash
    from PIL import Image

    began = time.perf_counter()
    hashes = np.array([int(str(imagehash.phash(Image.open(root / f))), 16) for f in files], np.uint64)
    found = set()
    for start in range(0, len(hashes), 512):
        distance = np.bitwise_count(hashes[start : start + 512, None] ^ hashes[None, :])
        for i, j in zip(*np.nonzero(distance <= bits), strict=True):
            if start + i < j:
                found.add((files[start + i], files[j]))
    return found, time.perf_counter() - began


def quality(root: Path, pairs: list[dict], judgements: Path) -> None:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in (".jpg", ".png"))
    judged = json.loads(judgements.read_text())
    confirmed = {tuple(sorted(p)) for p in judged["pairs"]}
    burst = {tuple(sorted(p)) for p in judged["burst"]}
    print(f"corpus: {len(files)} images, {len(pairs)} injected pairs, {len(confirmed)} confirmed untouched pairs")
    methods = {"expander": expander_pairs(root)}
    for bits in (4, 6):
        methods[f"pHash<={bits}"] = phash_pairs(root, files, bits)
    print(f"{'kind':18s}" + "".join(f"{m:>12s}" for m in methods))
    for kind in KINDS:
        wanted = [tuple(sorted((p["a"], p["b"]))) for p in pairs if p["kind"] == kind]
        print(
            f"{kind:18s}" + "".join(f"{sum(w in f for w in wanted) / len(wanted):12.2f}" for f, _ in methods.values())
        )
    injected = {tuple(sorted((p["a"], p["b"]))) for p in pairs}
    for name, (found, took) in methods.items():
        among = {p for p in found - injected if not p[0].startswith("injected") and not p[1].startswith("injected")}
        real, judged_out = among & confirmed, among & burst
        precision = len(real) / len(among - judged_out) if among - judged_out else 1.0
        wrong = sorted(among - confirmed - burst)
        print(f"{name}: {len(among)} untouched pairs: {len(real)} confirmed, {len(judged_out)} burst frames, "
              f"{len(wrong)} not duplicates (precision {precision:.2f}); {len(confirmed - among)} confirmed missed; "
              f"{took:.1f} s")  # fmt: skip
        for pair in wrong[:10]:
            print(f"   not a duplicate: {pair[0]} ~ {pair[1]}")
        if len(wrong) > 10:
            kinds = Counter(f"{a.split('/')[0]}~{b.split('/')[0]}" for a, b in wrong)
            print(f"   ... {len(wrong) - 10} more: {dict(kinds)}")


def scale() -> None:
    """Both searches on synthetic signatures with planted near pairs, time and peak traced memory per size:
    candidates() on random hashes (copies 0-8 bits from their source) and the nearest-layout search on random
    layouts (copies at cosine 0.9, as alike as a shifted copy's layout typically is)."""
    import faiss  # noqa: F401  # lazy: the baseline's runs need no faiss; loaded here, outside the timings

    from expander import neardup

    print(f"{'images':>9s} {'hash s':>8s} {'hash MB':>8s} {'found':>6s} {'layout s':>9s} {'layout MB':>10s} "
          f"{'found':>6s}")  # fmt: skip
    for n in (1_000, 10_000, 30_000, 100_000, 1_000_000):
        rng = np.random.default_rng(n)
        hashes = rng.integers(0, 2**63, (n, 2), dtype=np.uint64) * 2 + 1
        planted = rng.choice(np.arange(n // 2, n), min(1000, n // 10), replace=False)
        for k, source in enumerate(planted.tolist()):  # image k (first half) copies ``source`` 0-8 bits apart
            mask = sum(1 << int(b) for b in rng.choice(64, k % 9, replace=False))
            hashes[k, 0] = np.uint64(int(hashes[source, 0]) ^ mask)
        want = {(k, s) for k, s in enumerate(planted.tolist())}
        found, took, peak = _traced(neardup.candidates, hashes)
        pairs = {(i, j) for i, j in found[:, :2].tolist()}
        layouts = rng.standard_normal((n, 64)).astype(np.float32)
        noise = rng.standard_normal((len(planted), 64)).astype(np.float32)
        layouts[: len(planted)] = layouts[planted] + noise * 0.48  # cosine about 0.9 with the source
        layouts /= np.linalg.norm(layouts, axis=1, keepdims=True)
        (_, nearest), took_layout, peak_layout = _traced(neardup._nearest, layouts, neardup.LAYOUT_NEIGHBOURS)
        near = {(k, s) for k in range(len(planted)) for s in nearest[k].tolist()}
        print(f"{n:9d} {took:8.2f} {peak:8.0f} {len(want & pairs) / len(want):6.3f} {took_layout:9.2f} "
              f"{peak_layout:10.0f} {len(want & near) / len(want):6.3f}")  # fmt: skip
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def _traced(work, *args):
    """work(*args)'s result, its seconds and its peak traced memory (MB: numpy's; faiss's own C++ memory is not
    traced, hence the process peak RSS printed at the end)."""
    tracemalloc.start()
    began = time.perf_counter()
    result = work(*args)
    took = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, took, peak


def hundred_thousand(root: Path) -> None:
    """``inspect`` (hashing and search) over 100,000 small images: Fashion-MNIST's 70,000 items and 30,000
    64x64 tiles of the large photos, as PNG files in class folders."""
    from expander.inspection import inspect_dataset

    if not root.exists():
        for part in ("train", "t10k"):
            with gzip.open(FASHION.with_name(f"{part}-images-idx3-ubyte.gz")) as f:
                raw = f.read()[16:]
            for i, item in enumerate(np.frombuffer(raw, np.uint8).reshape(-1, 28, 28)):
                folder = root / f"fashion_{part}_{i // 10000}"
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{i:05d}.png"), item)
        made, rng = 0, np.random.default_rng(5)
        photos = sorted((DATASETS / "large_photos").glob("*.jpg"))
        while made < 30_000:
            image = cv2.imread(str(photos[made % len(photos)]))
            for _ in range(500):
                y, x = rng.integers(0, image.shape[0] - 64), rng.integers(0, image.shape[1] - 64)
                folder = root / f"tiles_{made // 10000}"
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{made:05d}.png"), image[y : y + 64, x : x + 64])
                made += 1
    began = time.perf_counter()
    report = inspect_dataset(root, workers=2)
    took = time.perf_counter() - began
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"inspect over {report['images']} images, 2 workers: {took:.1f} s; {len(report['near_duplicates'])} "
          f"near-duplicate pairs, {len(report['exact_duplicates'])} exact groups; peak RSS {parent:.0f} MB "
          f"(parent), {children:.0f} MB (largest worker)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/expander-dedup-corpus"))
    parser.add_argument("--scale", action="store_true", help="only the search's scale curve")
    parser.add_argument("--holdout", type=Path, metavar="FOLDER",
                        help="the quality table on a corpus not calibrated on, built in FOLDER once")  # fmt: skip
    parser.add_argument("--hundred-k", type=Path, metavar="FOLDER",
                        help="only inspect over 100,000 small images, built in FOLDER once")  # fmt: skip
    args = parser.parse_args()
    if args.scale:
        scale()
    elif args.hundred_k:
        hundred_thousand(args.hundred_k)
    elif args.holdout and not any(root.exists() for root in WALLPAPERS):
        sys.exit(
            "No wallpapers here: apt-get install mate-backgrounds ukui-wallpapers lomiri-wallpapers sway-backgrounds"
        )
    elif args.holdout:
        quality(args.holdout, build(args.holdout, holdout, seed=11, per_kind=50, salt=10**7), HOLDOUT_CONFIRMED)
    elif not (DATASETS / "dogs_vs_cats").exists():
        sys.exit(f"{DATASETS} is not here: the corpus is built from it.")
    else:
        quality(args.corpus, build(args.corpus), CONFIRMED)


if __name__ == "__main__":
    main()
