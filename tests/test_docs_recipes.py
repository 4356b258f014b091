"""The reader recipes in docs/readers.md, run as written on a fresh output of each shard format, of class
folders and of a labelled (YOLO) dataset.

A block marked ``<!-- recipe: NAME -->`` runs with ``OUT`` set to the output folder; the torch recipe runs where
PyTorch is installed (the dev install leaves it out: its CPU wheel is not on PyPI: CI says so in the skip
reason), after the webdataset one.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, make_tree
from labelled_data import SCENES, write_yolo

from expander import expand

PAGE = REPO / "docs" / "readers.md"
SHAPES = {(h, w, 3) for w, h, _ in SCENES.values()}  # the labelled dataset's images


def recipes() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- recipe: (\w+) -->\n```python\n(.*?)```", text, re.S))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    src = make_tree(tmp_path_factory.mktemp("src") / "src", {"train/cat": 3, "train/dog": 2}, ext=".png",
                    shape=(21, 17, 3))  # fmt: skip
    labelled = write_yolo(tmp_path_factory.mktemp("yolo") / "src")
    found = {}
    for sink in ("webdataset", "tfrecord", "parquet"):
        out = tmp_path_factory.mktemp(sink) / "out"
        expand(src, out, per_image=2, shards=sink, shard_size="6", workers=1)
        found[sink] = out
        out = tmp_path_factory.mktemp(f"{sink}-labelled") / "out"
        expand(labelled, out, per_image=2, shards=sink, shard_size="6", workers=1)
        found[f"{sink}-labelled"] = out
    return found


def test_the_page_has_the_recipes() -> None:
    assert sorted(recipes()) == ["parquet", "parquet_labels", "tfrecord", "torch", "webdataset"]


@pytest.mark.parametrize("kind", ["", "-labelled"])
def test_the_webdataset_recipe_and_the_torch_loader(outputs: dict[str, Path], kind: str) -> None:
    pytest.importorskip("webdataset")
    namespace = {"OUT": str(outputs[f"webdataset{kind}"])}
    exec(recipes()["webdataset"], namespace)
    assert namespace["image"].shape in ({(21, 17, 3)} if not kind else SHAPES)
    assert namespace["label"] in ((0, 1) if not kind else (-1,))
    assert 0.0 <= float(namespace["image"].min()) <= float(namespace["image"].max()) <= 1.0
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the torch recipe needs PyTorch, which the dev install leaves out (its CPU wheel is not on PyPI)")
    exec(recipes()["torch"], namespace)
    assert len(namespace["images"]) == (15 if not kind else 12)


@pytest.mark.parametrize("kind", ["", "-labelled"])
def test_the_tfrecord_recipe(outputs: dict[str, Path], kind: str) -> None:
    pytest.importorskip("tensorflow")
    namespace = {"OUT": str(outputs[f"tfrecord{kind}"])}
    exec(recipes()["tfrecord"], namespace)
    assert tuple(namespace["image"].shape) in ({(21, 17, 3)} if not kind else SHAPES)
    assert int(namespace["label"]) in ((0, 1) if not kind else (-1,))


def test_the_parquet_recipe_on_labelled_rows(outputs: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # its cache, not the user's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"OUT": str(outputs["parquet-labelled"])}
    exec(recipes()["parquet_labels"], namespace)
    scene = SCENES[Path(namespace["row"]["source"]).stem]
    assert np.asarray(namespace["image"]).shape == (scene[1], scene[0], 3)
    assert [int(line.split()[0]) for line in namespace["lines"]] == [c for c, *_ in scene[2]]
    assert namespace["dataset"].num_rows == 12
    # -1 indexes no class name: declared a ClassLabel, the class-folder recipe's int2str(-1) raised ValueError
    label = namespace["dataset"].features["label"]
    assert (type(label).__name__, label.dtype) == ("Value", "int64")


def test_the_parquet_recipe_in_hugging_face_datasets(outputs: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # its cache, not the user's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"OUT": str(outputs["parquet"])}
    exec(recipes()["parquet"], namespace)
    assert np.asarray(namespace["image"]).shape == (21, 17, 3) and namespace["name"] in ("cat", "dog")
    assert namespace["dataset"].num_rows == 15
