"""Which files train, validate and test each arm. No TensorFlow needed."""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, make_tree

from expander import expand
from train.data import load_split
from train.errors import TrainError


def stem_of(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0].split("__aug")[0]


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """ORIGINAL without a test split (so test images are held out of it), and EXPANDED made from
    all of ORIGINAL, so EXPANDED holds augmented copies of the future test images."""
    original = tmp_path / "original"
    shutil.copytree(SAMPLE / "train", original)
    expanded = tmp_path / "expanded"
    expand(original, expanded, per_image=2, workers=1)
    return original, expanded


def test_copies_of_test_and_validation_images_are_left_out_and_counted(planted) -> None:
    original, expanded = planted
    split = load_split(original, expanded, test_fraction=0.2, val_fraction=0.2)

    assert split.test_source == "held-out 20% of ORIGINAL"
    assert split.classes == ("sneaker", "trouser", "tshirt")
    assert len(split.test) == 3 + 6 + 12 and len(split.val) == 2 + 5 + 10
    assert split.left_out == {"test": 3 * len(split.test), "val": 3 * len(split.val)}
    assert split.leakage_check == "manifest" and split.warnings == ()
    held_stems = {stem_of(s.path) for s in (*split.test, *split.val)}
    assert not held_stems & {stem_of(s.path) for s in split.train_expanded}
    assert not held_stems & {stem_of(s.path) for s in split.train_original}
    assert len(split.train_expanded) == 3 * len(split.train_original)


def test_without_a_manifest_names_and_hashes_are_used_with_a_warning(planted) -> None:
    original, expanded = planted
    (expanded / "manifest.csv").unlink()
    split = load_split(original, expanded)
    assert split.leakage_check == "names+hashes"
    assert split.left_out == {"test": 3 * len(split.test), "val": 3 * len(split.val)}
    assert "leakage could not be fully ruled out" in split.warnings[0]


def test_a_test_split_inside_original_is_used_and_same_names_in_train_are_kept(tmp_path: Path) -> None:
    # Fashion-MNIST's train and test files share names (tshirt_00001.png is in both): not a leak.
    expanded = tmp_path / "expanded"
    expand(SAMPLE, expanded, per_image=1, workers=1)
    split = load_split(SAMPLE, expanded)
    assert split.test_source == "test/ split of ORIGINAL"
    assert len(split.test) == 60
    assert split.left_out == {"test": 0, "val": 2 * len(split.val)}


def test_mismatched_classes_are_a_clear_error(tmp_path: Path) -> None:
    original = make_tree(tmp_path / "o", {"cat": 5, "dog": 5})
    expanded = make_tree(tmp_path / "e", {"cat": 5, "bird": 5})
    with pytest.raises(TrainError) as e:
        load_split(original, expanded)
    assert str(e.value) == (
        "Class names differ between ORIGINAL and EXPANDED: missing from EXPANDED: dog; only in EXPANDED: bird. "
        "Use the same class folder names in both."
    )


def test_generator_outputs_whose_partner_is_held_out_are_left_out(planted) -> None:
    # A two-image generator's output derives from its source and its partner: rewrite the manifest so
    # every new image of a training original names a future validation image as its partner.
    import csv

    original, expanded = planted
    split = load_split(original, expanded)
    val_name = posixpath.basename(split.val[0].path)
    with open(expanded / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["copy"] != "original":
            row["partner"] = f"{split.classes[split.val[0].label]}/{val_name}"
    with open(expanded / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    again = load_split(original, expanded)
    new_images = sum(1 for row in rows if row["copy"] != "original")
    originals_held = len(split.test) + len(split.val)
    assert again.left_out["test"] + again.left_out["val"] == new_images + originals_held
    assert len(again.train_expanded) == len(split.train_original)  # only the originals are left


@pytest.mark.parametrize("name", ["val", "valid", "validation"])
def test_a_datasets_own_validation_split_is_used_and_val_fraction_is_not(tmp_path: Path, name: str) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 10, "train/b": 10, f"{name}/a": 3, f"{name}/b": 2,
                                       "test/a": 4, "test/b": 4})  # fmt: skip
    split = load_split(src, val_fraction=0.5)
    assert split.val_source == f"{name}/ split of ORIGINAL"
    assert sorted(Path(s.path).relative_to(src.resolve()).as_posix() for s in split.val) == [
        f"{name}/a/img1.png", f"{name}/a/img2.png", f"{name}/a/img3.png", f"{name}/b/img1.png", f"{name}/b/img2.png",
    ]  # fmt: skip
    assert len(split.train_original) == 20  # every training original trains: none held out for validation
    assert split.test_source == "test/ split of ORIGINAL" and len(split.test) == 8


def test_without_a_validation_split_val_fraction_of_the_training_originals_validates(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 10, "train/b": 10, "test/a": 4, "test/b": 4})
    split = load_split(src, val_fraction=0.3)
    assert split.val_source == "held-out 30% of the training originals"
    assert len(split.val) == 6 and len(split.train_original) == 14


def test_a_validation_split_without_a_test_split_validates_and_the_test_set_is_held_out(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 10, "train/b": 10, "val/a": 2, "val/b": 2})
    split = load_split(src, test_fraction=0.2)
    assert split.val_source == "val/ split of ORIGINAL" and len(split.val) == 4
    assert split.test_source == "held-out 20% of ORIGINAL" and len(split.test) == 4
    assert len(split.train_original) == 16


@pytest.mark.parametrize("shards", ["webdataset", "tfrecord"])
def test_a_sharded_expanded_folder_gives_the_same_split_as_files(tmp_path: Path, shards: str) -> None:
    original = tmp_path / "original"
    shutil.copytree(SAMPLE / "train", original)
    files, sharded = tmp_path / "files", tmp_path / "sharded"
    expand(original, files, per_image=2, workers=1)
    expand(original, sharded, per_image=2, workers=1, shards=shards, shard_size="16")
    from_files = load_split(original, files)
    from_shards = load_split(original, sharded)
    assert from_shards.left_out == from_files.left_out and from_shards.leakage_check == "manifest"

    def contents(samples) -> list[tuple[str, int, bytes]]:
        return sorted((s.key, s.label, Path(s.path).read_bytes()) for s in samples)

    assert contents(from_shards.train_expanded) == contents(from_files.train_expanded)
