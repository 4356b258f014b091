"""train paper: every row of the Stanford paper's table under one protocol, reused when run again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE
from typer.testing import CliRunner

from train.augnet import AugnetConfig, _TraditionalCopies, train_augnet
from train.cli import app
from train.errors import TrainError
from train.paper import ROWS, paper_table

TINY = AugnetConfig(model="tiny", image_size=28, epochs=1, batch_size=32)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("paper")
    return out, paper_table(SAMPLE, out=out, seeds=1, config=TINY)


def test_every_row_runs_once_per_seed_under_one_protocol(table) -> None:
    out, report = table
    assert [r["name"] for r in report["rows"]] == [
        "None", "Traditional", "Neural + no loss", "Neural + content loss", "Neural + style loss", "Control",
    ]  # fmt: skip
    assert [r["paper_val_accuracy"] for r in report["rows"]] == [0.705, 0.775, 0.765, 0.770, 0.740, 0.710]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{row.key}-s0" for row in ROWS] + ["report.json", "report.md"]
    )
    assert json.loads((out / "report.json").read_text()) == report
    for run in report["runs"]:
        run_report = json.loads((out / run["dir"] / "report.json").read_text())
        args = run_report["arguments"]
        assert (args["model"], args["image_size"], args["epochs"], args["batch_size"], args["lr"]) == (
            "tiny", 28, 1, 32, 1e-4,
        )  # fmt: skip
        assert run_report["data"]["counts"] == {"train": 84, "val": 21, "test": 60}
        assert run["val_accuracy"] == run_report["best_val_accuracy"] and run["reused"] is False
    # Only the neural rows have a net (and a sample sheet); the others train the classifier alone.
    assert sorted(p.name for p in (out / "off-s0").iterdir()) == ["history.png", "report.json", "report.md"]
    assert sorted(p.name for p in (out / "traditional-s0").iterdir()) == ["history.png", "report.json", "report.md"]
    assert (out / "content-s0" / "augnet.keras").is_file() and (out / "content-s0" / "samples.png").is_file()
    samples = {r["row"]: r["samples"] for r in report["runs"]}
    assert samples == {"off": None, "traditional": None, "none": "none-s0/samples.png",
                       "content": "content-s0/samples.png", "style": "style-s0/samples.png",
                       "control": "control-s0/samples.png"}  # fmt: skip
    off, traditional = report["rows"][0], report["rows"][1]
    assert off["test_vs_none"] is None
    assert traditional["test_vs_none"]["mean"] == pytest.approx(
        traditional["test_accuracy"]["mean"] - off["test_accuracy"]["mean"]
    )
    assert report["not_run"]["name"] == "GAN styles"
    markdown = (out / "report.md").read_text()
    assert "| Neural + content loss | 77.0 |" in markdown and "GAN styles: not run." in markdown
    assert "![content samples](content-s0/samples.png)" in markdown


def test_running_again_reuses_every_finished_run(table) -> None:
    out, first = table
    calls = []
    again = paper_table(SAMPLE, out=out, seeds=1, config=TINY, train=lambda *a, **k: calls.append(a))
    assert calls == [] and all(r["reused"] for r in again["runs"])
    assert again["rows"] == first["rows"]


def test_a_run_with_other_arguments_is_not_reused(table, tmp_path: Path) -> None:
    out, _ = table
    trained = []

    def train(src, *, out, config, **kwargs):
        trained.append((out.name, config.epochs))
        return json.loads((Path(table[0]) / out.name / "report.json").read_text())

    paper_table(SAMPLE, out=out, seeds=1, config=AugnetConfig(model="tiny", image_size=28, epochs=2, batch_size=32),
                train=train)  # fmt: skip
    assert trained == [(f"{row.key}-s0", 2) for row in ROWS]


def test_cli_prints_the_table(table) -> None:
    out, _ = table
    result = CliRunner().invoke(app, ["paper", str(SAMPLE), "--out", str(out), "--seeds", "1", "--model", "tiny",
                                      "--image-size", "28", "--epochs", "1", "--batch-size", "32", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["row", "paper", "val", "(%)"]
    assert lines[-1] == f"Runs: 6 (6 reused). Report: {out / 'report.md'}"


def test_traditional_copies_are_seeded_and_keep_the_layout() -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(3, 28, 28, 1)).astype(np.float32) / 255.0
    copies = _TraditionalCopies(gray)
    first = copies(np.array([0, 1, 2]), np.array([5, 6, 7]))
    assert first.shape == (3, 28, 28, 1) and first.dtype == np.float32
    assert np.array_equal(first, copies(np.array([0, 1, 2]), np.array([5, 6, 7])))
    assert not np.array_equal(first, copies(np.array([0, 1, 2]), np.array([8, 9, 10])))
    assert not np.array_equal(first, gray)
    colour = rng.integers(0, 256, size=(2, 16, 16, 3)).astype(np.float32) / 255.0
    assert _TraditionalCopies(colour)(np.array([1, 0]), np.array([1, 2])).shape == (2, 16, 16, 3)


def test_unknown_augment_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match=r"^augment must be one of neural, traditional, off; got 'gan'\.$"):
        train_augnet(SAMPLE, out=tmp_path / "run", config=AugnetConfig(augment="gan"))
