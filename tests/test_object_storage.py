"""SRC and DST in object storage: a real S3 protocol server (moto's, on loopback) started by the fixture.

Skipped when s3fs or moto is not installed (``pip install -e '.[dev]'`` installs both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import files, make_tree, objects

from expander import expand
from expander.errors import OutputError
from expander.verify import verify


@pytest.fixture(scope="module")
def local_src(tmp_path_factory) -> Path:
    return make_tree(tmp_path_factory.mktemp("s3src") / "src", {"train/cat": 4, "train/dog": 3, "test/cat": 2},
                     ext=".jpg", shape=(33, 41, 3))  # fmt: skip


@pytest.fixture(scope="module")
def src_url(s3, local_src: Path) -> str:
    s3.put(str(local_src) + "/", "data/src/", recursive=True)
    return "s3://data/src"


def test_local_source_to_s3_writes_the_same_bytes_and_verifies(s3, local_src: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    expand(local_src, reference, per_image=3, workers=1, preset="strong")
    result = expand(local_src, "s3://data/out1", per_image=3, workers=2, preset="strong")
    assert result.exit_code == 0 and result.out == "s3://data/out1"
    assert objects(s3, "s3://data/out1") == files(reference)
    summary = json.loads(s3.cat_file("data/out1/expander.json"))
    assert summary["status"] == "complete" and summary["out"] == "s3://data/out1"
    check = verify("s3://data/out1", replay=6)
    assert check["ok"] and check["checked"] == 30 and len(check["replayed"]) == 6


def test_s3_source_to_s3_shards_equal_local_shards(s3, src_url: str, local_src: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    expand(local_src, reference, per_image=2, workers=1, shards="webdataset", shard_size="5")
    result = expand(src_url, "s3://data/shards", per_image=2, workers=2, shards="webdataset", shard_size="5")
    assert result.exit_code == 0 and result.source == "s3://data/src"
    assert objects(s3, "s3://data/shards") == files(reference)
    assert verify("s3://data/shards", replay=4)["ok"]


def test_s3_output_needs_resume_or_overwrite_and_overwrite_deletes_only_ours(s3, src_url: str) -> None:
    expand(src_url, "s3://data/over", per_image=2, workers=1)
    s3.pipe_file("data/over/notes.txt", b"mine")
    with pytest.raises(OutputError, match=r"Output folder 's3://data/over' is not empty"):
        expand(src_url, "s3://data/over", per_image=1, workers=1)
    expand(src_url, "s3://data/over", per_image=1, workers=1, overwrite=True)
    left = objects(s3, "s3://data/over")
    assert left["notes.txt"] == b"mine" and len([k for k in left if k.endswith(".jpg")]) == 16
    with pytest.raises(OutputError, match="is inside the source"):
        expand(src_url, "s3://data/src/out", per_image=1)


def test_a_killed_run_to_s3_resumes_to_the_uninterrupted_result(s3, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 25, "b": 25}, ext=".jpg", shape=(300, 400, 3))  # slow enough to kill
    s3.put(str(src) + "/", "data/bigsrc/", recursive=True)
    reference = tmp_path / "reference"
    expand(src, reference, per_image=6, workers=2)
    command = [sys.executable, "-m", "expander", "expand", "s3://data/bigsrc", "-o", "s3://data/killed",
               "--per-image", "6", "-j", "2", "-q"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, env=dict(os.environ))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        s3.invalidate_cache()
        if len(s3.find("data/killed")) > 60:
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = objects(s3, "s3://data/killed")
    assert 60 < len(written) < 350 and "manifest.csv" not in written
    summary = json.loads(s3.cat_file("data/killed/expander.json"))
    assert summary["status"] == "running"
    with pytest.raises(OutputError, match="Use --resume to finish an interrupted run"):
        expand("s3://data/bigsrc", "s3://data/killed", per_image=6, workers=2)
    result = expand("s3://data/bigsrc", "s3://data/killed", per_image=6, workers=2, resume=True)
    assert result.status == "complete" and result.resumed >= len(written) - 1
    assert objects(s3, "s3://data/killed") == files(reference)
    report = verify("s3://data/killed")
    assert report["ok"], {k: v for k, v in report.items() if v and k not in ("dst", "checked")}


def test_a_labelled_dataset_in_a_store_expands_into_a_store(s3, tmp_path: Path) -> None:
    from labelled_data import write_yolo

    src = write_yolo(tmp_path / "yolo")
    s3.put(str(src) + "/", "data/yolo/", recursive=True)
    reference = tmp_path / "reference"
    expand(src, reference, per_image=2, workers=1)
    result = expand("s3://data/yolo", "s3://data/yolo_out", per_image=2, workers=2)
    assert result.exit_code == 0 and result.to_dict()["labels"]["format"] == "yolo"
    stored = objects(s3, "s3://data/yolo_out")
    assert {k: v for k, v in stored.items() if k != "manifest.csv"} == {
        k: v for k, v in files(reference).items() if k != "manifest.csv"
    }
    assert verify("s3://data/yolo_out", replay=4)["ok"]


def test_the_cli_takes_urls_as_they_are(s3, src_url: str) -> None:
    from typer.testing import CliRunner

    from expander.cli import app

    result = CliRunner().invoke(app, ["expand", src_url, "-o", "s3://data/cli", "--per-image", "1", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert "Wrote 16 of 16 files to s3://data/cli" in result.stdout
    assert "Manifest: s3://data/cli/manifest.csv" in result.stdout
    checked = CliRunner().invoke(app, ["verify", "s3://data/cli", "--replay", "2"])
    assert checked.exit_code == 0 and checked.stdout.startswith("s3://data/cli: OK (16 files listed)")


def test_inspect_preview_and_verify_take_urls_as_expand_does(s3, src_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from expander.cli import app

    runner = CliRunner()
    duplicates = tmp_path / "duplicates.json"
    inspected = runner.invoke(app, ["inspect", src_url, "--json", "-j", "2", "--duplicates", str(duplicates)])
    assert inspected.exit_code == 0, inspected.output
    report = json.loads(inspected.stdout)
    assert report["source"] == src_url and report["images"] == 9 and report["unreadable"] == []
    assert report["suggestion"].startswith(f"expander expand {src_url} ")
    sheet = tmp_path / "sheet.png"
    shown = runner.invoke(app, ["preview", src_url, "-n", "2", "--per-class", "1", "--out", str(sheet)])
    assert shown.exit_code == 0, shown.output
    import cv2

    assert cv2.imread(str(sheet)).shape == (28 + 2 * (128 + 20), 3 * 128, 3)
    expanded = runner.invoke(app, ["expand", src_url, "-o", "s3://data/deduped", "--exclude", str(duplicates),
                                   "--per-image", "1", "-q"])  # fmt: skip
    assert expanded.exit_code == 0, expanded.output
    assert runner.invoke(app, ["verify", "s3://data/deduped"]).exit_code == 0


def test_verify_names_a_killed_store_run_for_what_it_is(s3, src_url: str) -> None:
    from expander.manifest import SUMMARY_NAME

    expand(src_url, "s3://data/unfinished", per_image=1, workers=1)
    s3.rm("data/unfinished/manifest.csv")  # as a run SIGKILLed before its manifest leaves it
    summary = json.loads(s3.cat_file(f"data/unfinished/{SUMMARY_NAME}"))
    summary["status"] = "running"
    s3.pipe_file(f"data/unfinished/{SUMMARY_NAME}", json.dumps(summary).encode())
    with pytest.raises(
        OutputError,
        match=r"has expander.json \(status 'running'\) but no manifest.csv: its run was "
        r"stopped before it finished\. Finish it with the same expander expand",
    ):
        verify("s3://data/unfinished")


def test_a_pool_reading_a_store_forks_instead_of_starting_a_fork_server(s3, src_url: str) -> None:
    # fsspec's I/O thread makes the process multi-threaded, but fsspec resets its loop in a forked child: the
    # pool may fork (0.81 s against 1.08 s for 8 images with -j 2, benchmarks/bench_sinks.py pool-start).
    code = (
        "from expander.scan import scan; from expander.pool import _context, _fsspec_threads, PRELOAD; "
        f"scan({src_url!r}); print(_fsspec_threads(), _context(PRELOAD).get_start_method())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    threads, method = result.stdout.split()
    assert int(threads) >= 1 and method == "fork"
