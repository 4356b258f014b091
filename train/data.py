"""Which files train, validate and test each arm, and the tf.data pipeline that reads them.

Rules that keep the comparison honest:

* Test images are never augmented and never trained on. They come from ``--test DIR``, else
  the ``test/`` split of ORIGINAL, else a stratified held-out split of ORIGINAL.
* Validation (model selection) uses ORIGINAL's own validation split (``val/``, ``valid/`` or
  ``validation/``) when it has one, else a stratified split of the *training originals*: the same
  images for both arms, never the test set.
* Every file in EXPANDED derived from a validation or test image is left out of its training
  set, found through expander's ``manifest.csv``; without one, by file stem and exact content.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import multiprocessing
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from expander import images
from expander.dataset import VAL_SPLITS, Dataset, Item
from expander.manifest import MANIFEST_NAME, read_manifest
from expander.options import default_workers
from expander.plan import output_seed
from expander.pool import process_pool
from expander.scan import scan
from expander.sinks.unpack import is_sharded, unpack
from train.errors import TrainError

FROM_TEST_DIR = "--test folder"


@dataclass(frozen=True)
class Sample:
    path: str  # absolute
    label: int
    key: str  # "<class>/<file name of the original it comes from>"


@dataclass(frozen=True)
class Split:
    """The files of one comparison. Both arms share ``val`` and ``test``."""

    classes: tuple[str, ...]
    train_original: tuple[Sample, ...]
    train_expanded: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]
    test_source: str
    val_source: str = ""
    left_out: dict[str, int] = field(default_factory=dict)  # "test"/"val" -> expanded files excluded
    leakage_check: str = "manifest"
    warnings: tuple[str, ...] = ()
    unreadable: tuple[
        tuple[str, str], ...
    ] = ()  # (path, reason): files left out of every set because they do not decode


def source_key(class_name: str, rel_path: str) -> str:
    return f"{class_name}/{posixpath.basename(rel_path)}"


def load_split(
    original: str | Path,
    expanded: str | Path | None = None,
    test_dir: str | Path | None = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """Resolve train/val/test files for ORIGINAL and (optionally) EXPANDED.

    Each folder may also be a sharded expander output (``expand --shards``), read from its shards.

    Raises:
        TrainError: class names differ between the folders, or a split would be empty.
    """
    original = _as_files(original)
    expanded, test_dir = (None if f is None else _as_files(f) for f in (expanded, test_dir))
    original_ds = scan(original)
    train_items, test_items, test_source = train_and_test(original_ds, test_dir, test_fraction, seed)
    classes = tuple(sorted({i.class_name for i in train_items}))
    if len(classes) < 2:
        raise TrainError(
            f"'{original_ds.root}' has {len(classes)} class ({', '.join(classes)}); a classifier needs at least two. "
            "Add a folder of images for each other class."
        )
    check_classes({"ORIGINAL": classes, "test set": {i.class_name for i in test_items[1]}})
    val_items, val_source = validation(original_ds, train_items, val_fraction, seed + 1)
    check_classes({"ORIGINAL": classes, "validation set": {i.class_name for i in val_items}})
    val_paths = {i.rel_path for i in val_items}
    train_original = [i for i in train_items if i.rel_path not in val_paths]

    def samples(root: Path, items) -> tuple[Sample, ...]:
        return tuple(
            Sample(str(root / i.rel_path), classes.index(i.class_name), source_key(i.class_name, i.rel_path))
            for i in items
        )

    test_root, test_list = test_items
    split = Split(
        classes=classes,
        train_original=samples(original_ds.root.resolve(), train_original),
        train_expanded=(),
        val=samples(original_ds.root.resolve(), val_items),
        test=samples(test_root.resolve(), test_list),
        test_source=test_source,
        val_source=val_source,
    )
    if expanded is not None:
        held_test = [] if test_source == FROM_TEST_DIR else test_list  # another folder: nothing in EXPANDED derives
        split = _with_expanded(split, original_ds.root, Path(expanded), val_items, held_test)
    return without_unreadable(split)


def _as_files(folder: str | Path) -> str | Path:
    """A folder of images as given, or a sharded output unpacked into a temporary one."""
    return unpack(folder) if is_sharded(folder) else folder


def undecodable(paths: list[Path]) -> dict[str, str]:
    """{path: why} for each file that does not decode under expander's rules (decoded in a pool when many)."""
    names = [str(p) for p in paths]
    return {p: e for p, e in zip(names, map_files(decode_error, names), strict=True) if e}


def without_unreadable(split: Split) -> Split:
    """The split with every file that does not decode left out of its set, and listed in ``unreadable``.

    Decoding happens once more inside tf.data, where one bad file would end training with an error that
    does not name it; here it is named, counted in the report, and the run goes on.
    """
    sets = ("train_original", "train_expanded", "val", "test")
    bad = undecodable(sorted({Path(s.path) for name in sets for s in getattr(split, name)}))
    if not bad:
        return split
    kept = {name: tuple(s for s in getattr(split, name) if s.path not in bad) for name in sets}
    for name in ("train_original", "test"):
        if not kept[name]:
            raise TrainError(f"No readable images left in the {name.replace('_', ' ')} set: {_first(bad)}.")
    return dataclasses.replace(split, train_original=kept["train_original"], train_expanded=kept["train_expanded"],
                               val=kept["val"], test=kept["test"], unreadable=tuple(sorted(bad.items())))  # fmt: skip


def decode_error(path: str) -> str:
    """Why a file does not decode under expander's rules, or "" when it does."""
    try:
        images.decode(Path(path).read_bytes(), path)
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    except images.DecodeError as e:
        return str(e)
    return ""


def map_files(function, paths: list[str]) -> list:
    """``function`` over ``paths`` in a process pool when there are many, in order (in this process when it is
    a pool's worker, which may not start processes: a run training in a worker of train.runs)."""
    if len(paths) < 64 or multiprocessing.current_process().daemon:
        return [function(p) for p in paths]
    with process_pool(default_workers()) as pool:
        return pool.map(function, paths, chunksize=32)


def _first(bad: dict[str, str]) -> str:
    path, reason = next(iter(bad.items()))
    return f"e.g. '{path}': {reason}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")


def validation(ds: Dataset, train: list[Item], fraction: float, seed: int) -> tuple[list[Item], str]:
    """The validation images and where they came from: the dataset's own split, else ``fraction`` of ``train``."""
    own = next((s for s in VAL_SPLITS if s in ds.splits), None)
    if own is not None:
        return [i for i in ds.items if i.split == own], f"{own}/ split of ORIGINAL"
    return holdout(train, fraction, seed), f"held-out {fraction:.0%} of the training originals"


def train_and_test(ds: Dataset, test_dir, test_fraction: float, seed: int):
    """(train items, (test root, test items), where the test set came from)."""
    train = [i for i in ds.items if i.split in (None, "train")]
    if not train:
        raise TrainError(f"'{ds.root}' has no training images: expected {ds.root}/train/<class>/ or class folders.")
    if test_dir is not None:
        test_ds = scan(test_dir)
        named = ("test", *VAL_SPLITS)
        split = next((s for s in named if s in test_ds.splits), None)
        return train, (test_ds.root, [i for i in test_ds.items if i.split == split]), FROM_TEST_DIR
    if "test" in ds.splits:
        return train, (ds.root, [i for i in ds.items if i.split == "test"]), "test/ split of ORIGINAL"
    test = holdout(train, test_fraction, seed)
    test_keys = {i.rel_path for i in test}
    rest = [i for i in train if i.rel_path not in test_keys]
    return rest, (ds.root, test), f"held-out {test_fraction:.0%} of ORIGINAL"


def holdout(items: list[Item], fraction: float, seed: int) -> list[Item]:
    """A stratified, seeded selection of ``fraction`` of each class (at least one if it has two)."""
    chosen = []
    for class_name in sorted({i.class_name for i in items}):
        members = seeded_order([i for i in items if i.class_name == class_name], seed)
        n = round(fraction * len(members))
        n = max(n, 1) if len(members) >= 2 else 0
        if len(members) - n < 1:
            raise TrainError(f"Class '{class_name}' has too few images ({len(members)}) to hold some out.")
        chosen += members[:n]
    return chosen


def seeded_order(items: list[Item], seed: int) -> list[Item]:
    """A fixed shuffle: the same items and seed give the same order, so prefixes are nested subsets."""
    return sorted(items, key=lambda i: output_seed(seed, i.rel_path, 0))


def check_classes(named: dict[str, set | tuple]) -> None:
    reference_name, reference = next(iter(named.items()))
    for name, classes in named.items():
        if set(classes) != set(reference):
            missing = sorted(set(reference) - set(classes))
            extra = sorted(set(classes) - set(reference))
            raise TrainError(
                f"Class names differ between {reference_name} and {name}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing from {name}: {', '.join(missing)}" if missing else "",
                        f"only in {name}: {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
                + ". Use the same class folder names in both."
            )


def _with_expanded(
    split: Split, original_root: Path, expanded: Path, val_items: list[Item], test_items: list[Item]
) -> Split:
    expanded_ds = scan(expanded)
    items = [i for i in expanded_ds.items if i.split in (None, "train")]
    check_classes({"ORIGINAL": split.classes, "EXPANDED": {i.class_name for i in items}})
    held = {i.rel_path: "val" for i in val_items} | {i.rel_path: "test" for i in test_items}
    warnings: list[str] = []

    if (expanded / MANIFEST_NAME).is_file():
        # An output derives from its source and, for two-image generators, its partner.
        sources = {r["output"]: (r["source"], r.get("partner") or "") for r in read_manifest(expanded)}
        index = _suffix_index(held)
        groups = []
        for item in items:
            source, partner = sources.get(item.rel_path, (item.rel_path, ""))
            groups.append(_held_group(source, held, index) or (partner and _held_group(partner, held, index)) or None)
        check = "manifest"
    else:
        # No record of what came from what: match "<stem>__augNNN" names and identical bytes.
        by_hash = {_sha256(original_root / path): group for path, group in held.items()}
        by_stem = {_stem_key(path): group for path, group in held.items()}
        groups = [
            by_hash.get(_sha256(expanded / i.rel_path)) or by_stem.get(_stem_key(_strip_copy_suffix(i.rel_path)))
            for i in items
        ]
        check = "names+hashes"
        warnings.append(
            f"No {MANIFEST_NAME} in '{expanded}': files derived from validation/test images were matched by file "
            "name and exact content only; augmented copies renamed by other tools cannot be detected, so leakage "
            "could not be fully ruled out."
        )

    left_out = {"test": 0, "val": 0}
    train = []
    for item, group in zip(items, groups, strict=True):
        if group:
            left_out[group] += 1
        else:
            key = source_key(item.class_name, item.rel_path)
            train.append(Sample(str(expanded.resolve() / item.rel_path), split.classes.index(item.class_name), key))
    return dataclasses.replace(
        split, train_expanded=tuple(train), left_out=left_out, leakage_check=check, warnings=tuple(warnings)
    )


def _tails(path: str) -> list[str]:
    """``a/b/c/d.jpg`` -> ``a/b/c/d.jpg``, ``b/c/d.jpg``, ``c/d.jpg`` (never the bare file name)."""
    parts = path.split("/")
    return ["/".join(parts[i:]) for i in range(len(parts) - 1)]


def _suffix_index(held: dict[str, str]) -> dict[str, str]:
    return {tail: group for path, group in held.items() for tail in _tails(path)}


def _held_group(source: str, held: dict[str, str], index: dict[str, str]) -> str | None:
    """The group ("val"/"test") of the held-out original that a manifest source names, if any.

    Manifest paths are relative to the folder that was expanded, which may be ORIGINAL, its train/
    split, or a parent of it; so two paths match when one ends with the other (class/file at least).
    """
    if source in index:  # the source is a tail of a held path (expanded ORIGINAL/train, or ORIGINAL)
        return index[source]
    return next((held[tail] for tail in _tails(source) if tail in held), None)  # expanded a parent


def _strip_copy_suffix(rel_path: str) -> str:
    """``cat/x__aug003.png`` -> ``cat/x.png``: the name of the original an expander copy came from."""
    folder, name = posixpath.split(rel_path)
    stem, ext = posixpath.splitext(name)
    return posixpath.join(folder, stem.split("__aug")[0] + ext)


def _stem_key(path: str) -> str:
    """``train/cat/x.jpg`` -> ``cat/x``: class and stem, the name a derived copy keeps."""
    parts = posixpath.splitext(path)[0].split("/")
    return "/".join(parts[-2:])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- tf.data ---------------------------------------------------------------------------------


def read_pixels(path: str, size: tuple[int, int], channels: int) -> np.ndarray:
    """Decode with expander's rules, convert to ``channels``, resize to (W, H); uint8 (H, W, C)."""

    image = images.resize(images.to_8bit(images.decode(Path(path).read_bytes(), path), channels), size)
    return image.reshape(size[1], size[0], channels)


def detect_channels(samples: tuple[Sample, ...]) -> int:
    """1 when the first training image is grayscale, else 3."""
    first = images.decode(Path(samples[0].path).read_bytes(), samples[0].path)
    return 1 if first.ndim == 2 else 3


_PIXELS: dict[tuple, np.ndarray] = {}  # (paths, size, channels) -> pixels: the runs of one study share files


def load_pixels(samples: tuple[Sample, ...], size: tuple[int, int], channels: int) -> np.ndarray:
    """Every sample decoded and resized once per process, (N, H, W, C) uint8, in ``samples``' order."""
    key = (tuple(s.path for s in samples), size, channels)
    if key not in _PIXELS:
        if len(_PIXELS) > 8:  # a study's arms and sets; more would only hold memory
            _PIXELS.clear()
        arrays = map_files(functools.partial(read_pixels, size=size, channels=channels), list(key[0]))
        _PIXELS[key] = np.stack(arrays) if arrays else np.zeros((0, size[1], size[0], channels), np.uint8)
    return _PIXELS[key]


def make_dataset(samples, size: tuple[int, int], channels: int, batch_size: int, shuffle_seed: int | None = None):
    """tf.data over file paths: decode + resize once (cached as uint8), then shuffle, batch, prefetch."""
    import tensorflow as tf  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    def load(path):
        pixels = tf.numpy_function(lambda p: read_pixels(p.decode(), size, channels), [path], tf.uint8, stateful=False)
        pixels.set_shape((size[1], size[0], channels))
        return pixels

    paths = tf.constant([s.path for s in samples])
    labels = tf.constant([s.label for s in samples], dtype=tf.int32)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (load(p), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
    if shuffle_seed is not None:
        ds = ds.shuffle(len(samples), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def checked_for_leaks(split: Split, original: str | Path, workers: int = 1, allow: bool = False) -> Split:
    """``split`` if no training image of ORIGINAL shows the same picture as a validation or test image;
    with ``allow``, with the leak in its warnings.

    Raises:
        TrainError: such a leak (``leak_warning``), unless ``allow``.
    """
    held = [s.path for s in (*split.val, *split.test)]
    warning = leak_warning([s.path for s in split.train_original], held, original, workers, allow)
    return split if warning is None else dataclasses.replace(split, warnings=(*split.warnings, warning))


def leak_warning(train: list[str], held: list[str], original: str | Path, workers: int = 1,
                 allow: bool = False) -> str | None:  # fmt: skip
    """None when no image of ``train`` shows the same picture as one of ``held`` (validation and test images;
    exact, re-encoded, resized, toned or mirrored: expander.inspection.same_pictures); else every metric
    would be inflated: with ``allow`` (--allow-leaks) the warning the report carries.

    Raises:
        TrainError: a leak, naming one pair and the commands that fix it, unless ``allow``.
    """
    # lazy: the near-duplicate search (~16 ms) only when a command checks for leaks
    from expander.inspection import same_pictures

    found = same_pictures(train, held, workers)
    if not found:
        return None
    a, b = found[0]["files"]
    root = Path(original)
    seen = (
        f"{len(found)} training image(s) of ORIGINAL show the same picture as a validation or test image (e.g. "
        f"'{a}' and '{b}': {found[0]['difference']})"
    )
    fix = (
        f"Drop them with: expander inspect {root} --duplicates dup.json, then expander expand {root} --exclude "
        "dup.json (it keeps the test copy), or move them with: expander split"
    )
    if not allow:
        raise TrainError(f"{seen}: every metric would be inflated. Nothing was trained. {fix} {root} -o NEW_FOLDER; "
                         "or pass --allow-leaks to train anyway (the report then says so).")  # fmt: skip
    return f"{seen}, so every metric here is inflated (--allow-leaks). {fix} {root} -o NEW_FOLDER, and compare again."
