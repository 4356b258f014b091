"""inspect --duplicates writes groups and leaks with a decision per file; expand --exclude acts on it."""

from __future__ import annotations

import json
import shutil
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import make_tree, tree_digest

from expander import expand
from expander.errors import ExpanderError
from expander.inspection import inspect_dataset


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    src = make_tree(tmp_path / "src", {"train/cat": 4, "train/dog": 3, "test/cat": 2, "test/dog": 1}, shape=(40, 48, 3))
    shutil.copy(src / "test/cat/img1.png", src / "train/cat/leak.png")  # a test image also in train
    shutil.copy(src / "train/dog/img1.png", src / "train/dog/twin.png")  # a duplicate inside train
    shutil.copy(src / "train/dog/img1.png", src / "train/cat/third.png")  # ... and a third copy, in another class
    return src


def test_duplicates_file_groups_and_decides(leaky: Path, tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    report = inspect_dataset(leaky, duplicates_file=path)
    assert report["duplicates_file"] == {"path": str(path), "groups": 2, "drop": 3}
    data = json.loads(path.read_text())
    assert data["schema"] == 1 and data["source"] == str(leaky.resolve())
    assert data["groups"] == [
        {"files": ["test/cat/img1.png", "train/cat/leak.png"], "kind": "exact", "cross_split": True,
         "keep": ["test/cat/img1.png"], "drop": ["train/cat/leak.png"], "reason": "leak: also in test",
         "differences": ["exact"]},
        {"files": ["train/cat/third.png", "train/dog/img1.png", "train/dog/twin.png"], "kind": "exact",
         "cross_split": False, "keep": ["train/cat/third.png"], "drop": ["train/dog/img1.png", "train/dog/twin.png"],
         "reason": "duplicate: one kept", "differences": ["exact"]},
    ]  # fmt: skip
    assert data["drop"] == ["train/cat/leak.png", "train/dog/img1.png", "train/dog/twin.png"]


def test_expand_exclude_leaves_the_dropped_files_out_and_never_touches_the_input(leaky: Path, tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    inspect_dataset(leaky, duplicates_file=path)
    before = tree_digest(leaky)
    out = tmp_path / "out"
    result = expand(leaky, out, per_image=1, exclude=path, workers=1)
    assert result.exit_code == 0 and tree_digest(leaky) == before
    sources = {r.source for r in result.records()}
    assert sources.isdisjoint({"train/cat/leak.png", "train/dog/img1.png", "train/dog/twin.png"})
    assert not (out / "train/cat/leak.png").exists() and (out / "test/cat/img1.png").is_file()
    summary = result.to_dict()
    assert summary["excluded"] == ["train/cat/leak.png", "train/dog/img1.png", "train/dog/twin.png"]
    assert summary["arguments"]["exclude"] == str(path.resolve())
    assert inspect_dataset(out)["leaks"] == []  # the expanded set no longer tests on what it trains on


def test_exclude_refuses_a_file_for_another_dataset(leaky: Path, tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    inspect_dataset(leaky, duplicates_file=path)
    other = make_tree(tmp_path / "other", {"train/cat": 2, "test/cat": 1})
    with pytest.raises(ExpanderError, match=r"drops 3 file\(s\) that .*other' does not have .*Run expander inspect"):
        expand(other, tmp_path / "out", exclude=path)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ExpanderError, match=r"Cannot use --exclude .*bad.json': 'drop'\. Write it with"):
        expand(leaky, tmp_path / "out2", exclude=tmp_path / "bad.json")


def test_a_chain_of_near_duplicates_is_one_group_that_keeps_every_file_no_kept_one_copies() -> None:
    """A ~ B ~ C ... one bit apart: one group of 100 (one line), the even links kept (none pairs with another kept
    one), the odd dropped (each pairs with a kept one); leaks come first."""
    from expander.duplicates import groups

    chain = [f"train/x/{i:03d}.png" for i in range(100)]  # each a near-duplicate of the next, one bit apart
    near = [{"files": list(pair), "kind": "near", "distance_bits": 1, "cross_split": False} for pair in pairwise(chain)]
    near.append({"files": ["train/y/a.png", "test/y/a.png"], "kind": "near", "distance_bits": 3, "cross_split": True})
    split_of = {f: f.split("/")[0] for f in [*chain, "train/y/a.png", "test/y/a.png"]}
    found = groups({"exact_duplicates": [], "near_duplicates": near}, split_of)
    assert found[0]["files"] == ["test/y/a.png", "train/y/a.png"] and found[0]["drop"] == ["train/y/a.png"]
    assert found[0]["reason"] == "leak: also in test"
    assert len(found) == 2 and found[1]["files"] == chain
    assert found[1]["keep"] == chain[::2] and found[1]["drop"] == chain[1::2]
    assert found[1]["reason"] == "duplicate: 50 kept, none a copy of another"


def test_an_output_file_inspect_cannot_write_is_exit_2_before_the_survey(leaky: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from expander.cli import app

    runner = CliRunner()
    folder = runner.invoke(app, ["inspect", str(leaky), "--duplicates-sheet", str(tmp_path)])
    assert folder.exit_code == 2 and folder.stdout == ""
    assert (
        folder.stderr
        == f"Error: Cannot write --duplicates-sheet '{tmp_path}': it is a folder. Give a file name in it instead.\n"
    )
    (tmp_path / "file").write_text("")
    below_a_file = runner.invoke(app, ["inspect", str(leaky), "--duplicates", str(tmp_path / "file" / "dup.json")])
    assert below_a_file.exit_code == 2 and below_a_file.stdout == ""
    assert below_a_file.stderr == (
        f"Error: Cannot write --duplicates '{tmp_path / 'file' / 'dup.json'}': '{tmp_path / 'file'}' is a file, not a "
        "folder. Choose another path.\n"
    )
    made = runner.invoke(app, ["inspect", str(leaky), "--duplicates", str(tmp_path / "new" / "dup.json")])
    assert made.exit_code == 0 and json.loads((tmp_path / "new" / "dup.json").read_text())["schema"] == 1
