"""train augnet: one epoch on the sample, saved as a generator expander can use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE

from expander.generator import inspect_generator
from train.augnet import AugnetConfig, _triples, train_augnet
from train.errors import TrainError


@pytest.mark.parametrize("loss", ["content", "style"])
def test_one_epoch_trains_saves_and_reports(loss: str, tmp_path: Path) -> None:
    config = AugnetConfig(loss=loss, model="tiny", image_size=28, epochs=1, batch_size=32)
    report = train_augnet(SAMPLE, out=tmp_path / "run", config=config)
    out = tmp_path / "run"
    assert sorted(p.name for p in out.iterdir()) == [
        "augnet.keras", "history.png", "report.json", "report.md", "samples.png",
    ]  # fmt: skip
    assert json.loads((out / "report.json").read_text()) == report
    assert report["data"]["counts"] == {"train": 84, "val": 21, "test": 60}
    assert [h["epoch"] for h in report["history"]] == [1] and report["best_epoch"] == 1
    epoch = report["history"][0]
    assert set(epoch) == {
        "epoch", "loss", "classification_loss", "augmentation_loss", "val_accuracy", "val_loss", "seconds",
    }  # fmt: skip
    assert epoch["augmentation_loss"] > 0
    assert epoch["loss"] == pytest.approx(0.75 * epoch["classification_loss"] + 0.25 * epoch["augmentation_loss"])
    assert sum(map(sum, report["test_at_best"]["confusion"])) == 60
    assert len(report["samples"]["rows"]) == 9  # three pairs per class

    info = inspect_generator(out / "augnet.keras")  # usable by expander expand --generator as it is
    assert (info.arity, info.stacked, info.channels, info.input_size, info.output_channels) == (2, True, 1, (28, 28), 1)


def test_no_loss_and_control_have_no_augmentation_loss(tmp_path: Path) -> None:
    config = AugnetConfig(loss="control", model="tiny", image_size=28, epochs=1, batch_size=32)
    report = train_augnet(SAMPLE, out=tmp_path / "run", config=config)
    assert report["history"][0]["augmentation_loss"] == 0.0
    assert all(first == second for _, first, second in report["samples"]["rows"])  # the same image twice


def test_pairs_stay_within_a_class() -> None:
    y = np.array([0, 0, 0, 1, 1, 2])
    order = np.arange(6)
    partners, targets = _triples(y, order, np.random.default_rng(0), control=False)
    assert (y[partners] == y).all() and (y[targets] == y).all() and partners[5] == 5
    partners, _ = _triples(y, order, np.random.default_rng(0), control=True)
    assert (partners == order).all()


def test_unknown_loss_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match=r"^--loss must be one of content, style, none, control; got 'gan'\.$"):
        train_augnet(SAMPLE, out=tmp_path / "run", config=AugnetConfig(loss="gan"))
