"""The CLI through Typer's runner, and as a real process where signals and imports matter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import SAMPLE, make_tree
from typer.testing import CliRunner

from expander.cli import app
from expander.images import TEMP_SUFFIX

runner = CliRunner()


def test_expand_prints_plan_on_stderr_and_report_on_stdout(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(tree), "-o", str(out), "--per-image", "2", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:5] == [
        "class  originals  new  total",
        "cat            3    6      9",
        "dog            2    4      6",
        "total          5   10     15",
        "Files to write: 15 (5 originals, 10 new images).",
    ]
    assert result.stdout.startswith(f"Wrote 15 of 15 files to {out.resolve()} in ")
    assert result.stdout.rstrip().endswith(f"Manifest: {out.resolve() / 'manifest.csv'}")


def test_json_output_is_the_run_summary(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(tree), "-o", str(out), "--per-image", "1", "--json", "-q"])
    assert result.exit_code == 0
    assert result.stderr == ""
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "expander.json").read_text())
    assert summary["totals"]["written"] == 10


def test_dry_run_shows_plan_on_stdout_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["expand", str(SAMPLE), "-o", str(out), "--balance", "--dry-run"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "split  class             originals  new  total",
        "train  sneaker                  15   45     60",
        "train  trouser                  30   30     60",
        "train  tshirt                   60    0     60",
        "test   sneaker (copied)         20    0     20",
        "test   trouser (copied)         20    0     20",
        "test   tshirt (copied)          20    0     20",
        "       total                   165   75    240",
        "Files to write: 240 (165 originals, 75 new images).",
    ]
    assert not out.exists()


def test_unknown_class_is_a_usage_error_listing_real_classes(tree: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["expand", str(tree), "-o", str(tmp_path / "o"), "--classes", "dog,bird"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: Unknown class 'bird' in '{tree}'. Classes found: cat, dog."


def test_bad_layout_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["expand", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: No images found in '{tmp_path / 'empty'}'.")


def test_failed_inputs_give_exit_status_1_and_are_listed(tree: Path, tmp_path: Path) -> None:
    (tree / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = runner.invoke(app, ["expand", str(tree), "-o", str(tmp_path / "o"), "--per-image", "1", "-q"])
    assert result.exit_code == 1
    assert "1 input(s) failed and were skipped:\n  cat/broken.png: not a decodable image" in result.stdout


def test_presets_list_and_show_save_round_trip(tree: Path, tmp_path: Path) -> None:
    listing = runner.invoke(app, ["presets"])
    assert listing.exit_code == 0
    names = [line for line in listing.stdout.splitlines() if not line.startswith(" ")]
    assert names == ["keras (default)", "traditional", "noise", "orientation-safe", "light", "strong", "trivial"]

    saved = tmp_path / "mine.yaml"
    show = runner.invoke(app, ["presets", "show", "noise", "--save", str(saved)])
    assert show.exit_code == 0 and "GaussNoise" in saved.read_text()
    printed = runner.invoke(app, ["presets", "show", "noise"])
    assert json.loads(printed.stdout)["transform"]["transforms"][0]["__class_fullname__"] == "OneOf"

    out = tmp_path / "o"
    run = runner.invoke(app, ["expand", str(tree), "-o", str(out), "--pipeline", str(saved), "--json", "-q"])
    assert run.exit_code == 0
    assert json.loads(run.stdout)["pipeline"] == json.loads(printed.stdout)


def test_unknown_preset_is_rejected_with_the_choices(tree: Path) -> None:
    result = runner.invoke(app, ["expand", str(tree), "--preset", "wild"])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # unwrap the error box
    assert "Invalid value for '--preset': 'wild' is not one of 'keras', 'traditional'," in text
    assert "'light', 'strong', 'trivial'." in text


def test_help_imports_no_heavy_module() -> None:
    # pydantic: typer 0.29 validates every option through it, +150 ms per command (pyproject pins typer<0.29).
    code = (
        "import sys\n"
        "from expander.cli import app\n"
        "try:\n    app(['expand', '--help'], prog_name='expander')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('albumentations', 'tensorflow', 'cv2', 'pydantic') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Example: expander expand data/dogs_cats --per-image 20 --classes dog" in done.stdout
    assert done.stdout.splitlines()[-1] == "HEAVY []"


def test_albumentations_never_checks_for_updates_online() -> None:
    code = "import os, expander, expander.augment; print(os.environ['NO_ALBUMENTATIONS_UPDATE'])"
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.strip() == "1"


def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 40}, ext=".jpg", shape=(480, 640, 3))  # slow enough to interrupt
    out = tmp_path / "out"
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "10", "-j", "2"]
    # A shell starts background jobs with SIGINT ignored, and Python keeps an inherited SIG_IGN: restore the
    # default so the child gets its KeyboardInterrupt wherever this test runs (CI may run in the background).
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (out / "a").is_dir() or len(list((out / "a").iterdir())) < 30:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "Interrupted. Run the same command with --resume to finish the job." in stderr
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    assert json.loads((out / "expander.json").read_text())["status"] == "interrupted"

    resumed = subprocess.run([*command, "--resume", "--json", "-q"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    totals = json.loads(resumed.stdout)["totals"]
    assert totals["written"] == 440 and 30 <= totals["resumed"] < 440


def test_version_short_help_and_plain_usage_lines() -> None:
    from expander import __version__
    from train.cli import app as train_app

    assert runner.invoke(app, ["--version"], prog_name="expander").stdout == f"expander {__version__}\n"
    assert runner.invoke(train_app, ["--version"], prog_name="train").stdout == f"train {__version__}\n"
    for command, usage in (
        (["expand", "-h"], "Usage: expander expand [OPTIONS] SRC"),
        (["verify", "-h"], "Usage: expander verify [OPTIONS] DST"),
        (["-h"], "--install-completion"),
    ):
        result = runner.invoke(app, command, prog_name="expander")
        assert result.exit_code == 0 and usage in result.stdout
    result = runner.invoke(train_app, ["compare", "-h"], prog_name="train")
    assert "Usage: train compare [OPTIONS] ORIGINAL EXPANDED" in result.stdout


def test_progress_bar_only_on_a_terminal_or_when_asked(tree: Path, tmp_path: Path) -> None:
    def stderr_of(*extra: str) -> str:
        out = tmp_path / f"out{len(extra)}"
        command = [sys.executable, "-m", "expander", "expand", str(tree), "-o", str(out), "--per-image", "1", *extra]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stderr

    piped = stderr_of()
    assert "\r" not in piped and "expanding" not in piped and piped.startswith("class  originals")
    assert "expanding" in stderr_of("--progress")


def test_train_keeps_tensorflow_start_up_log_off_stderr() -> None:
    code = "from train.fit import quiet_tensorflow; quiet_tensorflow(); import tensorflow as tf; print(tf.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""


def test_a_missing_extra_is_named_with_the_command_that_installs_it() -> None:
    from expander.errors import MissingExtra, require

    require("expand", "train", "json")  # present: nothing happens
    try:
        require("train", "train", "json", "no_such_module_for_expander_tests")
    except MissingExtra as e:
        assert e.exit_code == 2
        assert str(e) == (
            "train needs no_such_module_for_expander_tests, which the core install leaves out. Install them with: "
            "pip install 'dataset-expander[train]' (in a checkout: pip install -e '.[train]')"
        )
    else:
        raise AssertionError("require did not raise")


def test_pools_of_every_command_close_without_worker_tracebacks(tmp_path: Path) -> None:
    # The CLI turns SIGTERM into an exception; a pool closes by sending its workers SIGTERM. Every worker
    # (expand's, verify's, inspect's) must take SIGTERM's default action instead of printing a traceback.
    src = make_tree(tmp_path / "src", {"a": 6, "b": 6})
    out = tmp_path / "out"
    for args in (["expand", str(src), "-o", str(out), "--per-image", "2", "-j", "2", "-q"],
                 ["verify", str(out), "-j", "2"], ["inspect", str(src), "-j", "2"]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "expander", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stderr == "", (args, done.stderr)
