"""train compare / fit / evaluate on sample_data with the tiny model: seconds, not minutes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, descendants, still_running
from typer.testing import CliRunner

from expander import expand
from train.cli import app
from train.compare import compare, evaluate, fit_folder
from train.fit import FitConfig

TINY = FitConfig(model="tiny", image_size=28, epochs=2, batch_size=32)
runner = CliRunner()


@pytest.fixture(scope="module")
def expanded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fm") / "expanded"
    expand(SAMPLE, out, per_image=1, workers=1)
    return out


@pytest.fixture(scope="module")
def report(expanded: Path, tmp_path_factory) -> dict:
    return compare(SAMPLE, expanded, out=tmp_path_factory.mktemp("cmp") / "run", config=TINY, seeds=2)


def test_report_files_and_documented_fields(report: dict) -> None:
    out = Path(report["arguments"]["out"])
    assert sorted(p.name for p in out.iterdir()) == [
        "confusion.png", "curves.png", "metrics.png", "report.json", "report.md", "store",
    ]  # fmt: skip
    assert len(list((out / "store" / "runs").glob("*.json"))) == 4  # every finished run, for a rerun to reuse
    assert json.loads((out / "report.json").read_text()) == report
    assert set(report) == {"arguments", "versions", "data", "original", "expanded", "difference", "verdict", "runs"}
    assert report["arguments"]["seeds"] == [0, 1] and report["arguments"]["model"] == "tiny"
    assert {"tensorflow", "keras", "expander", "numpy", "python"} <= set(report["versions"])
    data = report["data"]
    assert data["test_source"] == "test/ split of ORIGINAL"
    assert data["counts"] == {"train_original": 84, "train_expanded": 168, "val": 21, "test": 60}
    assert data["left_out"] == {"test": 0, "val": 42}
    for arm in ("original", "expanded"):
        for metric in ("accuracy", "macro_f1", "balanced_accuracy", "loss", "best_epoch", "images_per_s"):
            assert set(report[arm][metric]) == {"mean", "std", "values"} and len(report[arm][metric]["values"]) == 2
    assert len(report["difference"]["accuracy"]["ci95"]) == 2
    assert [(r["arm"], r["seed"]) for r in report["runs"]] == [
        ("original", 0), ("expanded", 0), ("original", 1), ("expanded", 1),
    ]  # fmt: skip
    run = report["runs"][1]
    assert run["train_images"] == 168 and 1 <= run["best_epoch"] <= 2
    assert set(run["history"][0]) == {
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "val_ece", "gap", "seconds", "images_per_s",
    }  # fmt: skip
    assert set(run["test"]) == set(run["test_last"]) == {
        "accuracy", "loss", "ece", "macro_f1", "balanced_accuracy", "precision", "recall", "f1", "confusion",
    }  # fmt: skip
    assert sum(map(sum, run["test"]["confusion"])) == 60
    # The selected epoch's validation figures and the gap measured on unaugmented training images there.
    selected = run["history"][run["best_epoch"] - 1]
    assert run["val_accuracy"] == selected["val_accuracy"] and run["val_loss"] == selected["val_loss"]
    assert run["gap"] == pytest.approx(run["train_accuracy"] - selected["val_accuracy"])
    assert run["gap_last"] == pytest.approx(run["train_accuracy_last"] - run["history"][-1]["val_accuracy"])
    assert set(report["original"]["last"]) == {"accuracy", "macro_f1", "balanced_accuracy", "loss", "ece"}
    assert report["original"]["last"]["accuracy"]["values"] == [
        r["test_last"]["accuracy"] for r in report["runs"] if r["arm"] == "original"
    ]
    markdown = (out / "report.md").read_text()
    assert f"**Verdict.** {report['verdict']}" in markdown and "![training curves](curves.png)" in markdown


def test_the_same_command_gives_the_same_numbers(report: dict, expanded: Path, tmp_path: Path) -> None:
    again = compare(SAMPLE, expanded, out=tmp_path / "again", config=TINY, seeds=2)
    assert [r["test"] for r in again["runs"]] == [r["test"] for r in report["runs"]]
    assert [[e["loss"] for e in r["history"]] for r in again["runs"]] == [
        [e["loss"] for e in r["history"]] for r in report["runs"]
    ]


def test_planted_test_copies_are_excluded_and_counted(tmp_path: Path) -> None:
    original = tmp_path / "original"
    shutil.copytree(SAMPLE / "train", original)
    expanded = tmp_path / "expanded"
    expand(original, expanded, per_image=2, workers=1)
    one_epoch = FitConfig(model="tiny", image_size=28, epochs=1)
    result = compare(original, expanded, out=tmp_path / "run", config=one_epoch, seeds=1)
    data = result["data"]
    assert data["test_source"] == "held-out 20% of ORIGINAL"
    assert data["left_out"] == {"test": 3 * data["counts"]["test"], "val": 3 * data["counts"]["val"]}
    assert data["counts"]["train_expanded"] == 3 * data["counts"]["train_original"]
    assert "the interval" not in result["verdict"] and "single seed" in result["verdict"]


def test_a_training_image_that_is_a_test_image_mirrored_stops_the_run_unless_allowed(tmp_path: Path) -> None:
    import cv2

    original = tmp_path / "original"
    shutil.copytree(SAMPLE, original)
    leaked = sorted((original / "test").rglob("*.png"))[0]
    mirrored = original / "train" / leaked.parent.name / "mirrored.png"
    cv2.imwrite(str(mirrored), cv2.imread(str(leaked), cv2.IMREAD_UNCHANGED)[:, ::-1])
    expanded = tmp_path / "expanded"
    expand(original, expanded, per_image=1, workers=1)
    one_epoch = FitConfig(model="tiny", image_size=28, epochs=1)
    seen = (f"1 training image(s) of ORIGINAL show the same picture as a validation or test image (e.g. '{mirrored}' "
            f"and '{leaked}': flipped)")  # fmt: skip
    fix = (f"Drop them with: expander inspect {original} --duplicates dup.json, then expander expand {original} "
           "--exclude dup.json (it keeps the test copy), or move them with: expander split "
           f"{original} -o NEW_FOLDER")  # fmt: skip
    tiny = ["--model", "tiny", "--image-size", "28", "--epochs", "1", "--seeds", "1"]
    stopped = runner.invoke(app, ["compare", str(original), str(expanded), "--out", str(tmp_path / "stopped"), *tiny])
    assert stopped.exit_code == 2
    assert stopped.stderr == (f"Error: {seen}: every metric would be inflated. Nothing was trained. {fix}; or pass "
                              "--allow-leaks to train anyway (the report then says so).\n")  # fmt: skip
    assert not (tmp_path / "stopped").exists()
    result = compare(original, expanded, out=tmp_path / "run", config=one_epoch, seeds=1, allow_leaks=True)
    assert result["data"]["warnings"] == [
        f"{seen}, so every metric here is inflated (--allow-leaks). {fix}, and compare again."
    ]
    assert result["arguments"]["allow_leaks"] is True


def test_fit_then_evaluate_round_trip(tmp_path: Path) -> None:
    metrics = fit_folder(SAMPLE, out=tmp_path / "run", config=TINY, seed=3)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "history.csv", "metrics.json", "model.json", "model.keras",
    ]  # fmt: skip
    assert (tmp_path / "run" / "history.csv").read_text().splitlines()[0] == (
        "epoch,loss,accuracy,val_loss,val_accuracy,val_ece,gap,seconds,images_per_s"
    )
    again = evaluate(tmp_path / "run" / "model.keras", SAMPLE)
    assert again["images"] == 60 and again["classes"] == ["sneaker", "trouser", "tshirt"]
    assert again["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert again["confusion"] == metrics["test"]["confusion"]


def test_cli_models_json_and_errors(expanded: Path, tmp_path: Path) -> None:
    listing = runner.invoke(app, ["models"])
    assert [line.split(" ")[0] for line in listing.stdout.splitlines()] == ["smallnet", "cifar-cnn", "tiny", "resnet"]

    args = ["compare", str(SAMPLE), str(expanded), "--model", "tiny", "--image-size", "28", "--epochs", "1"]
    result = runner.invoke(app, [*args, "--seeds", "1", "--out", str(tmp_path / "r"), "--json", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["counts"]["test"] == 60

    bad = runner.invoke(app, ["compare", str(SAMPLE), str(tmp_path / "missing"), "-q"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith(f"Error: Source folder '{tmp_path / 'missing'}' does not exist.")


def test_online_arm_trains_on_the_originals_with_the_preset_applied_on_the_fly(tmp_path: Path) -> None:
    args = ["compare", str(SAMPLE), str(expanded_once(tmp_path)), "--model", "tiny", "--image-size", "28"]
    args += ["--epochs", "2", "--seeds", "2", "--online", "keras", "--out", str(tmp_path / "r"), "-q"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["arguments"]["online"] == "keras"
    assert [(r["arm"], r["seed"], r["train_images"]) for r in report["runs"]] == [
        ("original", 0, 84), ("expanded", 0, 168), ("online", 0, 84),
        ("original", 1, 84), ("expanded", 1, 168), ("online", 1, 84),
    ]  # fmt: skip
    # Same seeds, same images, same model: only the on-the-fly pipeline differs, so the training does.
    original, online = (next(r for r in report["runs"] if r["arm"] == arm) for arm in ("original", "online"))
    assert original["history"][0]["loss"] != online["history"][0]["loss"]
    assert len(report["online_difference"]["accuracy"]["ci95"]) == 2
    header = result.stdout.splitlines()[0].split()
    assert header == ["metric", "original", "expanded", "online", "expanded", "-", "original", "[95%", "CI]",
                      "online", "-", "original", "[95%", "CI]"]  # fmt: skip
    assert "for the on-the-fly arm" in report["verdict"] or "The on-the-fly arm" in report["verdict"]
    assert "accuracy at last epoch (%)" in result.stdout and "train - val gap (points)" in result.stdout

    bad = runner.invoke(app, [*args[:7], "--online", "sharpen", "--out", str(tmp_path / "bad"), "-q"])
    assert bad.exit_code == 2 and "Unknown preset(s): sharpen" in bad.stderr


def expanded_once(tmp_path: Path) -> Path:
    """An EXPANDED with one copy per original (as the online arm does not read it, its size does not matter)."""
    out = tmp_path / "expanded"
    expand(SAMPLE, out, per_image=1, workers=1)
    return out


def test_a_killed_compare_resumes_training_only_what_is_missing_and_logs_lines(
    report: dict, expanded: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-c", "from train.cli import main; main()", "compare", str(SAMPLE), str(expanded),
               "--out", str(out), "--seeds", "2", "--model", "tiny", "--image-size", "28", "--epochs", "2",
               "--batch-size", "32", "--json"]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list((out / "store" / "runs").glob("*.json"))) < 1:  # killed after its first finished run
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1]
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = len(list((out / "store" / "runs").glob("*.json")))
    assert 1 <= kept < 4 and not (out / "report.json").exists()

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)  # stderr is a pipe: lines
    assert again.returncode == 0, again.stderr
    lines = [line for line in again.stderr.splitlines() if not line.startswith(("W0000", "I0000", "WARNING"))]
    assert lines[0] == f"Reusing {kept} finished run(s) from {out / 'store'}; training {4 - kept}."
    finished = [line for line in lines if ": test accuracy " in line]
    assert len(finished) == 4 - kept and all(", best epoch " in line for line in finished)
    assert "\r" not in again.stderr  # no progress-bar frames in a log
    resumed = json.loads(again.stdout)
    assert [(r["arm"], r["seed"], r["test"]) for r in resumed["runs"]] == [
        (r["arm"], r["seed"], r["test"]) for r in report["runs"]
    ]  # the numbers an uninterrupted run (the module's report) gave
    assert json.loads((out / "report.json").read_text()) == resumed


@pytest.mark.parametrize(
    ("stop", "status", "said"),
    [
        ("SIGKILL", -9, ""),
        ("SIGINT", 130, "Interrupted. The finished runs are kept: the same command trains only the missing ones.\n"),
        ("SIGTERM", 143, "Terminated. The finished runs are kept: the same command trains only the missing ones.\n"),
    ],
)
def test_a_stopped_parallel_compare_leaves_no_worker_training_on(
    expanded: Path, tmp_path: Path, stop: str, status: int, said: str
) -> None:
    import signal
    import subprocess
    import sys

    out = tmp_path / "run"
    command = [sys.executable, "-c", "from train.cli import main; main()", "compare", str(SAMPLE), str(expanded),
               "--out", str(out), "--seeds", "2", "--model", "tiny", "--image-size", "28", "--epochs", "1000000",
               "--batch-size", "32", "--parallel", "2", "--progress"]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    # the runs whose 10th epoch is done: each worker writes a line every 10 epochs. A million epochs, not 5000:
    # under load one worker once started so late that the other finished its 5000 (a stored run) meanwhile.
    training: set[str] = set()
    while len(training) < 2:
        line = first.stderr.readline()
        assert first.poll() is None, line
        if ": epoch 10/1000000," in line:
            training.add(line.split(":")[0])
    below = descendants(first.pid)
    assert len(below) >= 3  # the two training processes, the fork server they came from (and a resource tracker)
    first.send_signal(getattr(signal, stop))  # to the command only, as kill does (Ctrl-C on a terminal: all)
    assert first.wait(timeout=10) == status
    assert still_running(below) == []  # within 5 s: a run of a million epochs would train on for hours
    # Only now read to the end: the workers share the pipe, so reading first would wait for them to finish.
    assert first.stderr.read().endswith(said)  # after the workers' last epoch lines
    kept = sorted(p.name for p in (out / "store" / "runs").glob("*"))
    assert not kept, kept  # nothing finished, nothing half-written
