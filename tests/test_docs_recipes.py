"""The reader recipes in docs/readers.md, run as written on a fresh output of each shard format.

A block marked ``<!-- recipe: NAME -->`` runs with ``OUT`` set to the output folder; the torch recipe runs where
PyTorch is installed (the dev install leaves it out: its CPU wheel is not on PyPI), after the webdataset one.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, make_tree

from expander import expand

PAGE = REPO / "docs" / "readers.md"


def recipes() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- recipe: (\w+) -->\n```python\n(.*?)```", text, re.S))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    src = make_tree(tmp_path_factory.mktemp("src") / "src", {"train/cat": 3, "train/dog": 2}, ext=".png",
                    shape=(21, 17, 3))  # fmt: skip
    found = {}
    for sink in ("webdataset", "tfrecord", "parquet"):
        out = tmp_path_factory.mktemp(sink) / "out"
        expand(src, out, per_image=2, shards=sink, shard_size="6", workers=1)
        found[sink] = out
    return found


def test_the_page_has_the_recipes() -> None:
    assert sorted(recipes()) == ["parquet", "tfrecord", "torch", "webdataset"]


def test_the_webdataset_recipe_and_the_torch_loader(outputs: dict[str, Path]) -> None:
    pytest.importorskip("webdataset")
    namespace = {"OUT": str(outputs["webdataset"])}
    exec(recipes()["webdataset"], namespace)
    assert namespace["image"].shape == (21, 17, 3) and namespace["label"] in (0, 1)
    assert 0.0 <= float(namespace["image"].min()) <= float(namespace["image"].max()) <= 1.0
    if importlib.util.find_spec("torch") is not None:
        exec(recipes()["torch"], namespace)
        assert tuple(namespace["images"].shape) == (15, 21, 17, 3)


def test_the_tfrecord_recipe(outputs: dict[str, Path]) -> None:
    pytest.importorskip("tensorflow")
    namespace = {"OUT": str(outputs["tfrecord"])}
    exec(recipes()["tfrecord"], namespace)
    assert tuple(namespace["image"].shape) == (21, 17, 3) and int(namespace["label"]) in (0, 1)


def test_the_parquet_recipe_in_hugging_face_datasets(outputs: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # its cache, not the user's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace = {"OUT": str(outputs["parquet"])}
    exec(recipes()["parquet"], namespace)
    assert np.asarray(namespace["image"]).shape == (21, 17, 3) and namespace["name"] in ("cat", "dog")
    assert namespace["dataset"].num_rows == 15
