from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_tree, write_image

from expander.dataset import natural_key
from expander.errors import LayoutError
from expander.scan import scan


def test_class_layout_lists_images_in_natural_order(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"dog": 0, "cat": 0})
    for name in ("img10.png", "img2.PNG", "img1.jpg", "x.JPEG", "y.bmp", "z.tif", "w.TIFF", "v.webp"):
        write_image(root / "cat" / name)
    write_image(root / "dog" / "a.png")

    ds = scan(root)

    assert ds.splits == (None,)
    assert ds.classes == ("cat", "dog")
    assert [i.rel_path for i in ds.items] == [
        "cat/img1.jpg", "cat/img2.PNG", "cat/img10.png", "cat/v.webp", "cat/w.TIFF",
        "cat/x.JPEG", "cat/y.bmp", "cat/z.tif", "dog/a.png",
    ]  # fmt: skip
    assert {i.class_name for i in ds.items if i.rel_path.startswith("cat/")} == {"cat"}


def test_hidden_and_non_image_files_are_ignored_and_counted(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"cat": 2})
    (root / "cat" / "notes.txt").write_text("hi")
    (root / "cat" / ".DS_Store").write_bytes(b"x")
    write_image(root / "cat" / ".hidden.png")
    (root / ".git").mkdir()
    (root / "README.md").write_text("readme")
    (root / "cat" / "nested").mkdir()
    write_image(root / "cat" / "nested" / "deep.png")

    ds = scan(root)

    assert len(ds.items) == 2
    assert ds.ignored == {"hidden": 3, "not_image": 2, "nested": 1}
    assert [(path, reason) for path, reason, _ in ds.inventory.ignored] == [
        (".git", "hidden"), ("cat/.DS_Store", "hidden"), ("cat/.hidden.png", "hidden"),
        ("cat/nested/deep.png", "nested"), ("cat/notes.txt", "not_image"), ("README.md", "not_image"),
    ]  # fmt: skip
    assert (ds.inventory.files, ds.inventory.images, ds.inventory.label_files) == (8, 2, 0)


def test_split_layout_keeps_split_order_and_union_of_classes(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"test/cat": 1, "train/cat": 2, "train/dog": 1, "val/dog": 1})

    ds = scan(root)

    assert ds.splits == ("train", "val", "test")
    assert ds.classes == ("cat", "dog")
    assert [(i.split, i.rel_path) for i in ds.items] == [
        ("train", "train/cat/img1.png"), ("train", "train/cat/img2.png"), ("train", "train/dog/img1.png"),
        ("val", "val/dog/img1.png"), ("test", "test/cat/img1.png"),
    ]  # fmt: skip
    assert ds.count("train", "cat") == 2


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"Source folder '.*nope' does not exist\. Expected class folders"):
        scan(tmp_path / "nope")


def test_empty_folder_names_layout_and_extensions(tmp_path: Path) -> None:
    (tmp_path / "src" / "cat").mkdir(parents=True)
    with pytest.raises(LayoutError) as e:
        scan(tmp_path / "src")
    message = str(e.value)
    assert message.startswith(f"No images found in '{tmp_path / 'src'}'.")
    assert "SRC/<class>/<image>" in message and "SRC/{train,val,test}/<class>/<image>" in message
    assert "Supported extensions (any case): .bmp .jpeg .jpg .png .tif .tiff .webp." in message


def test_images_directly_in_root_are_refused(tmp_path: Path) -> None:
    write_image(tmp_path / "src" / "a.png")
    with pytest.raises(LayoutError, match=r"Found 1 image\(s\) directly in .*'a.png'.*folder named after their class"):
        scan(tmp_path / "src")


def test_mixed_split_and_class_folders_are_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"train/cat": 1, "dog": 1})
    with pytest.raises(LayoutError, match=r"mixes split folders \(train\) with other folders \(dog\)"):
        scan(root)


def test_natural_key_orders_numbers_by_value() -> None:
    assert sorted(["a10", "a2", "A1", "b"], key=natural_key) == ["A1", "a2", "a10", "b"]
