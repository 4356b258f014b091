"""Hostile input and a failing machine: each promise of docs/guarantees.md, tried the way it breaks.

Every test makes its damaged files itself (patched JPEG headers, a corrupt scan, a non-UTF-8 name, a
symlink loop, a PNG bomb...), runs the real command (as a process where signals, locks, users or
mounts are involved), and checks the exit status, the message, the files on disk, the manifest rows,
and that the source is byte-identical afterwards. Case numbers are those of issue 14.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import live_processes, make_tree, tree_digest, write_image
from typer.testing import CliRunner

from expander.cli import app
from expander.verify import verify

runner = CliRunner()
EXPANDER = [sys.executable, "-m", "expander"]


# --- damaged files, made here ---------------------------------------------------------------------


def photo_jpeg(shape=(48, 64), seed=0) -> bytes:
    """A smooth colour JPEG, like a photo: its scan data is long enough to damage."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    pixels = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[sof + 9 :]


def with_corrupt_scan(jpeg: bytes, seed: int = 1) -> bytes:
    """Valid headers, random bytes in the middle of the entropy-coded scan (no 0xFF, so no fake markers)."""
    start = jpeg.index(b"\xff\xda") + 20
    length = (len(jpeg) - start) // 2
    noise = np.random.default_rng(seed).integers(0, 254, length, dtype=np.uint8).tobytes()
    return jpeg[:start] + noise + jpeg[start + length :]


def png_bomb(width: int, height: int) -> bytes:
    """A real, complete grey PNG of width x height zeros: a few hundred KB that decode to width*height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    compressor, row = zlib.compressobj(9), bytes(width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def good_tree(root: Path, n: int = 3) -> Path:
    return make_tree(root, {"cat": n, "dog": n}, ext=".png")


def rows_of(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def summary_of(out: Path) -> dict:
    return json.loads((out / "expander.json").read_text(encoding="utf-8"))


def expand_cli(*args: str):
    return runner.invoke(app, ["expand", *args])


def failed_sources(out: Path) -> dict[str, str]:
    return {f["source"]: f["error"] for f in summary_of(out)["failures"]}


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition, timeout: float = 60, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert process is None or process.poll() is None, process.communicate()
        time.sleep(0.02)


def without_root_privileges():
    """For a child process: as root, give up the capabilities that bypass file permissions, so chmod holds."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop


# --- 1. one file never ends the run -----------------------------------------------------------------


def test_1a_jpeg_header_claiming_65500x65500_fails_alone(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    (src / "cat" / "huge.jpg").write_bytes(with_sof_size(photo_jpeg(), 65500, 65500))
    before = tree_digest(src)
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "2", "-j", "2", "-q")

    assert result.exit_code == 1, result.output
    assert failed_sources(out) == {
        "cat/huge.jpg": "65500x65500 is 4,290,250,000 pixels, over the limit of 178,956,970 (a decompression bomb, "
        "or a photo larger than expected); raise --max-pixels if it is real"
    }
    rows = rows_of(out)
    assert [r["status"] for r in rows if r["source"] == "cat/huge.jpg"] == ["failed"] * 3
    assert sum(r["status"] == "ok" for r in rows) == 18 and summary_of(out)["status"] == "complete"
    assert not any(p.name.startswith("huge") for p in out.rglob("*"))
    assert tree_digest(src) == before


def test_1b_a_name_that_is_not_utf8_is_failed_and_the_manifest_stays_valid(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    with open(os.fsencode(src / "cat") + b"/bad\xff.png", "wb") as f:
        f.write((src / "cat" / "img1.png").read_bytes())
    write_image(src / "dog" / 'new,line\n"quoted".png')  # valid UTF-8 that CSV must quote
    before = tree_digest(src)
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "-j", "2", "-q")

    assert result.exit_code == 1, result.output
    assert failed_sources(out) == {
        "cat/bad\\xff.png": "name is not valid UTF-8 (bytes shown as \\xNN); rename the file"
    }
    assert "  cat/bad\\xff.png: name is not valid UTF-8" in result.stdout
    (out / "manifest.csv").read_bytes().decode("utf-8")  # valid UTF-8 throughout
    rows = rows_of(out)
    assert len(rows) == 14 and {r["status"] for r in rows} == {"ok"}
    assert 'dog/new,line\n"quoted"__aug001.png' in {r["output"] for r in rows}  # round-trips through CSV
    assert (out / 'dog/new,line\n"quoted"__aug001.png').is_file()
    assert tree_digest(src) == before


def test_1c_symlink_loops_and_broken_links_are_ignored_and_counted(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    os.symlink("loop.jpg", src / "cat" / "loop.jpg")
    os.symlink("nowhere.jpg", src / "dog" / "broken.jpg")
    os.symlink(src / "cat" / "img1.png", src / "dog" / "linked.png")  # a link to a file is followed
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "--json", "-q")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ignored"] == {"link_loops": 1, "broken_links": 1}
    assert summary["totals"]["written"] == 14
    assert (out / "dog" / "linked.png").read_bytes() == (src / "cat" / "img1.png").read_bytes()
    assert not (out / "dog" / "linked.png").is_symlink()


def test_1d_an_absurd_size_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--size", "100000x100000")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --size 100000x100000 is 10,000,000,000 pixels per image, over --max-pixels 178,956,970. "
        "Choose a smaller --size, or raise --max-pixels if you mean it.\n"
    )
    assert not out.exists()


# --- 2. a pixel limit from the header ---------------------------------------------------------------


def test_2_a_png_bomb_costs_a_failure_line_not_gigabytes(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src", n=1)
    bomb = png_bomb(20000, 20000)  # 400 megapixels, 400 MB decoded; about 400 KB on disk
    (src / "cat" / "bomb.png").write_bytes(bomb)
    out = tmp_path / "out"
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and would include this (pytest) process's size.
    code = (
        "import re; from expander import expand\n"
        f"r = expand({str(src)!r}, {str(out)!r}, per_image=2, workers=1)\n"
        "print(r.failures[0]['error'])\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    error, peak_mb = done.stdout.splitlines()
    assert error.startswith("20000x20000 is 400,000,000 pixels, over the limit of 178,956,970")
    assert int(peak_mb) < 300  # decoding it would take 400 MB more
    assert [r["status"] for r in rows_of(out) if r["source"] == "cat/bomb.png"] == ["failed"] * 3

    for command in (["inspect", str(src), "--json"], ["preview", str(src), "-o", str(tmp_path / "p.png")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    report = json.loads(runner.invoke(app, ["inspect", str(src), "--json", "--max-pixels", "1000"]).stdout)
    assert [u["file"] for u in report["unreadable"]] == ["cat/bomb.png"]
    report = json.loads(runner.invoke(app, ["inspect", str(src), "--json"]).stdout)
    assert report["unreadable"][0]["error"].startswith("20000x20000 is 400,000,000 pixels")


# --- 3. one writer per output folder ----------------------------------------------------------------


def slow_run(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [*EXPANDER, "expand", str(src), "-o", str(out), "--per-image", "40", "-j", "1", "-q", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_3_a_second_run_is_refused_naming_the_holder_and_a_killed_runs_lock_is_taken_over(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30}, ext=".jpg", shape=(240, 320, 3))
    out = tmp_path / "out"
    first = slow_run(src, out)
    wait_for(lambda: (out / ".expander.lock").is_file() and (out / "a").is_dir(), process=first)

    for extra in ([], ["--resume"], ["--overwrite"]):
        result = expand_cli(str(src), "-o", str(out), "--per-image", "40", *extra)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"Error: Another expander run (pid {first.pid} on ")
        assert f"is writing to '{out}'. Wait for it to finish (or stop it), or choose another --out." in result.stderr
        holder = json.loads((out / ".expander.lock").read_text())  # a refused run leaves the holder's lock as it was
        assert holder["pid"] == first.pid

    first.kill()
    first.wait()
    assert (out / ".expander.lock").is_file()  # stale: its holder is dead
    result = expand_cli(str(src), "-o", str(out), "--per-image", "40", "-j", "1", "--resume", "--json", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["took_over_lock"]["pid"] == first.pid
    assert summary["totals"]["written"] == 30 * 41 and summary["totals"]["resumed"] > 0
    assert not (out / ".expander.lock").exists()
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0


# --- 4. strict decoding -----------------------------------------------------------------------------


def test_4_a_jpeg_with_corrupt_scan_data_is_failed_not_copied(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    good = photo_jpeg()
    (src / "cat" / "noise.jpg").write_bytes(with_corrupt_scan(good))
    assert cv2.imdecode(np.frombuffer(with_corrupt_scan(good), np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "2", "-q")

    assert result.exit_code == 1
    error = failed_sources(out)["cat/noise.jpg"]
    assert error.startswith("corrupt JPEG data (libjpeg: ") and error.endswith(
        "the file is damaged: re-export or remove it"
    )
    assert not any(p.name.startswith("noise") for p in out.rglob("*"))
    report = json.loads(runner.invoke(app, ["inspect", str(src), "--json"]).stdout)
    assert report["unreadable"] == [{"file": "cat/noise.jpg", "error": error}]

    # verify sees the same damage in an output.
    (src / "cat" / "noise.jpg").unlink()
    (src / "cat" / "ok.jpg").write_bytes(good)
    out2 = tmp_path / "out2"
    assert expand_cli(str(src), "-o", str(out2), "--per-image", "1", "-q").exit_code == 0
    (out2 / "cat" / "ok.jpg").write_bytes(with_corrupt_scan(good))
    result = runner.invoke(app, ["verify", str(out2), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and [u["file"] for u in report["undecodable"]] == ["cat/ok.jpg"]
    assert report["undecodable"][0]["error"].startswith("corrupt JPEG data")


# --- 5. disk full -----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 1 MB tmpfs (root only: mounting needs it)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_5_a_write_that_fails_half_way_leaves_the_old_file_or_nothing(small_disk: Path, monkeypatch) -> None:
    """A real ENOSPC part-way through a 2 MB write on a 1 MB disk, both ways images.write_atomic writes: an unnamed
    file (nothing appears) and, where a filesystem has no O_TMPFILE, a temporary name then a rename (the half
    written temporary file is removed, the file it was to replace is untouched)."""
    from expander import images

    data = os.urandom(2 << 20)
    with pytest.raises(OSError) as caught:
        images.write_atomic(small_disk / "new.png", data)
    assert caught.value.errno == errno.ENOSPC and list(small_disk.iterdir()) == []
    old = small_disk / "old.png"
    old.write_bytes(b"the file before")
    monkeypatch.setattr(images, "_unnamed_files", False)  # as on a filesystem without O_TMPFILE
    with pytest.raises(OSError) as caught:
        images.write_atomic(old, data)
    assert caught.value.errno == errno.ENOSPC
    assert [p.name for p in small_disk.iterdir()] == ["old.png"] and old.read_bytes() == b"the file before"


def test_5_disk_full_stops_cleanly_writes_the_manifest_and_resume_finishes(tmp_path: Path, small_disk: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 12, "b": 12}, ext=".png", shape=(40, 50, 3))  # ~6 KB each
    before = tree_digest(src)
    out = small_disk / "out"
    ballast = small_disk / "ballast"
    ballast.write_bytes(bytes(500_000))

    result = expand_cli(str(src), "-o", str(out), "--per-image", "6", "-j", "2", "--no-space-check")

    assert result.exit_code == 1, result.output
    summary = summary_of(out)
    written, planned = summary["totals"]["written"], summary["totals"]["planned"]
    assert summary["status"] == "stopped" and summary["stopped"].startswith("No space left on device writing '")
    assert 0 < written < planned == 24 * 7 and summary["failures"] == []
    assert (
        f"{written} written, {planned - written} not. Free space (or fix the disk) and run the same command with "
        "--resume." in result.stdout
    )
    rows = rows_of(out)
    assert len(rows) == written and all((out / r["output"]).is_file() for r in rows)  # the manifest lists what is there
    assert not [p for p in out.rglob("*") if p.name.endswith(".expander-tmp")]
    checked = runner_invoke("verify", str(out))
    assert checked.exit_code == 1 and checked.stdout.splitlines()[1:] == [
        "  run: the run did not finish (status 'stopped'): run the same command with --resume"
    ]

    ballast.unlink()
    small = tmp_path / "elsewhere"  # the rest would not fit in 1 MB either: move the folder, then resume
    shutil.copytree(out, small, symlinks=True)
    result = expand_cli(str(src), "-o", str(small), "--per-image", "6", "-j", "2", "--resume", "-q")
    assert result.exit_code == 0, result.output
    assert summary_of(small)["totals"] == {
        "planned": 168, "written": 168, "resumed": written, "failed_outputs": 0, "failed_sources": 0,
        "empty_copies": 0,
    }  # fmt: skip
    assert runner.invoke(app, ["verify", str(small)]).exit_code == 0
    assert tree_digest(src) == before


@pytest.fixture
def few_inodes(tmp_path: Path):
    """A real tmpfs with room for 60 files and folders, and plenty of bytes (root only)."""
    mount = tmp_path / "few"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m,nr_inodes=60", "tmpfs", str(mount)])
    if os.geteuid() != 0 or mounted.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_5_running_out_of_inodes_stops_cleanly_and_records_the_run(tmp_path: Path, few_inodes: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 12, "b": 12}, ext=".png", shape=(40, 50, 3))
    out = few_inodes / "out"
    result = expand_cli(str(src), "-o", str(out), "--per-image", "6", "-j", "2", "-q")
    assert result.exit_code == 1, result.output
    summary = summary_of(out)
    assert summary["status"] == "stopped" and summary["manifest_error"] is None  # was: 'running', no summary
    assert summary["stopped"].startswith("No space left on device writing '")
    rows = rows_of(out)
    assert 0 < len(rows) == summary["totals"]["written"] < 168
    assert sorted(p.name for p in out.iterdir()) == ["a", "expander.json", "manifest.csv"]  # the reserve is gone
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    assert expand_cli(str(src), "-o", str(moved), "--per-image", "6", "-j", "2", "--resume", "-q").exit_code == 0
    assert runner.invoke(app, ["verify", str(moved)]).exit_code == 0


def test_5_disk_full_while_writing_shards_stops_cleanly_and_resume_gives_the_same_shards(
    tmp_path: Path, small_disk: Path
) -> None:
    src = make_tree(tmp_path / "src", {"a": 12, "b": 12}, ext=".png", shape=(40, 50, 3))
    shards = ("--shards", "webdataset", "--shard-size", "20")
    reference = tmp_path / "reference"
    assert expand_cli(str(src), "-o", str(reference), "--per-image", "6", "-j", "1", *shards, "-q").exit_code == 0
    out = small_disk / "out"
    (small_disk / "ballast").write_bytes(bytes(500_000))

    result = expand_cli(str(src), "-o", str(out), "--per-image", "6", "-j", "2", "--no-space-check", *shards)

    assert result.exit_code == 1, result.output
    summary = summary_of(out)
    assert summary["status"] == "stopped"
    assert re.fullmatch(r"No space left on device writing 'shard-\d{6}\.tar'", summary["stopped"]), summary["stopped"]
    written = summary["totals"]["written"]
    assert 0 < written < 168 and f"{written} written, {168 - written} not." in result.stdout
    assert written == summary["shards"]["samples"] == len(rows_of(out))  # what is in shards is in the manifest
    assert sorted(p.name for p in out.iterdir()) == ["expander.json", "manifest.csv", *sorted(
        p.name for p in out.glob("shard-*.tar")), "shards.json"]  # fmt: skip
    (small_disk / "ballast").unlink()
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)
    assert (
        expand_cli(str(src), "-o", str(moved), "--per-image", "6", "-j", "2", *shards, "--resume", "-q").exit_code == 0
    )
    tars = sorted(p.name for p in reference.glob("*.tar"))
    assert [(moved / t).read_bytes() for t in tars] == [(reference / t).read_bytes() for t in tars]


def test_5_shards_completed_before_the_disk_filled_are_recorded_even_when_one_result_completes_them_all(
    small_disk: Path,
) -> None:
    """Results arrive in any order: the last to arrive may complete every shard at once, and the disk may fill
    on the third. The two shards on disk are still handed back as written (a -j 2 run found this)."""
    from expander.execute import JobResult
    from expander.plan import Job, Plan
    from expander.sinks.base import Sample
    from expander.sinks.shards import ShardSink, ShardSize
    from expander.storage import LocalStore

    jobs = [Job(f"a/{i}.png", None, "a", copies=1) for i in range(6)]  # 2 outputs each, 2 jobs per shard
    payload = bytes(100_000)  # 4 per shard: ~400 KB a shard; 1 MB holds two
    digest = (len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest()) * 2
    sink = ShardSink(LocalStore(small_disk / "out"), "webdataset", ShardSize(samples=4), 0, ("a",), (None,))
    order = list(sink.order(Plan(tuple(jobs), ())).jobs)
    for job in reversed(order):  # nothing is written until the first job in shard order arrives
        samples = tuple(Sample(o.rel_path, payload, (), job.source, "a") for o in job.outputs)
        with pytest.raises(OSError) if job is order[0] else contextlib.nullcontext():
            sink.add(JobResult(job.source, 2, digests=digest, copies=(0, 1), samples=samples))
    written = sink.take_written()
    assert [r.source for r in written] == [j.source for j in order[:4]]
    assert sorted(p.name for p in (small_disk / "out").iterdir()) == ["shard-000000.tar", "shard-000001.tar"]
    assert len(sink.located) == 8 and sink.take_written() == []


def test_5_a_plan_that_clearly_does_not_fit_is_refused_with_figures(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src", n=1)
    source_bytes = sum(p.stat().st_size for p in src.rglob("*.png"))
    # three times the free space: other processes freeing disk meanwhile must not make it fit (a plan that fits
    # would run, filling the disk: it once did, when the margin was ten images' worth)
    per_image = 3 * (shutil.disk_usage(tmp_path).free // source_bytes)
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--per-image", str(per_image), "--max-outputs", str(10**15))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: The plan needs about ")
    assert "free. Free some space, choose another --out, or reduce the quota; --no-space-check skips this" in (
        result.stderr.replace("\n", " ")
    )
    assert not out.exists()


# --- 6. signals -------------------------------------------------------------------------------------


def test_6_sigterm_stops_like_ctrl_c_and_resume_finishes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30}, ext=".jpg", shape=(240, 320, 3))
    before = tree_digest(src)
    out = tmp_path / "out"
    process = slow_run(src, out, "-j", "2")
    wait_for(lambda: (out / "a").is_dir() and len(os.listdir(out / "a")) > 50, process=process)
    process.terminate()
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 143
    assert "Terminated. Run the same command with --resume to finish the job." in stderr
    summary = summary_of(out)
    assert summary["status"] == "interrupted"
    rows = rows_of(out)
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "a").iterdir())
    assert sorted(r["output"] for r in rows) == on_disk  # every file there is listed, with its checksum
    assert all(r["sha256"] for r in rows)

    result = expand_cli(str(src), "-o", str(out), "--per-image", "40", "-j", "2", "--resume", "-q")
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference"
    expand_cli(str(src), "-o", str(reference), "--per-image", "40", "-j", "1", "-q")
    assert tree_digest(out) == {**tree_digest(reference), "expander.json": tree_digest(out)["expander.json"]}
    assert tree_digest(src) == before


def test_6_sigkill_of_the_main_process_leaves_no_worker_writing(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30}, ext=".jpg", shape=(240, 320, 3))
    out = tmp_path / "out"
    process = slow_run(src, out, "-j", "2")
    wait_for(lambda: (out / "a").is_dir() and len(os.listdir(out / "a")) > 20, process=process)
    workers = children_of(process.pid)
    assert len(workers) >= 2
    process.kill()
    process.wait()

    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)
    count = len(os.listdir(out / "a"))
    time.sleep(1.0)
    assert len(os.listdir(out / "a")) == count  # nothing keeps writing
    assert summary_of(out)["status"] == "running"
    checked = runner_invoke("verify", str(out))
    assert checked.exit_code == 2 and checked.stderr == (
        f"Error: '{out}' has expander.json (status 'running') but no manifest.csv: its run was stopped before it "
        "finished. Finish it with the same expander expand command and --resume.\n"
    )
    result = expand_cli(str(src), "-o", str(out), "--overwrite")
    assert result.exit_code == 2
    assert "its last run was killed before it wrote manifest.csv" in result.stderr


# --- 7. absurd quotas -------------------------------------------------------------------------------


def test_7_an_absurd_quota_is_refused_with_the_figures(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--per-image", "1000000000")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: The plan has 6,000,000,006 outputs, over the limit of 10,000,000. Check the quota (--per-image, "
        "--target-per-class), or raise the limit with --max-outputs if you mean it.\n"
    )
    assert not out.exists()


# --- 8. checksums and verify ------------------------------------------------------------------------


def test_8_verify_names_a_changed_byte_unsafe_paths_and_odd_rows(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    out = tmp_path / "out"
    assert expand_cli(str(src), "-o", str(out), "--per-image", "1", "-q").exit_code == 0
    rows = rows_of(out)
    assert all(r["sha256"] == hashlib.sha256((out / r["output"]).read_bytes()).hexdigest() for r in rows)
    assert all(int(r["bytes"]) == (out / r["output"]).stat().st_size for r in rows)

    target = out / "dog" / "img2__aug001.png"
    data = bytearray(target.read_bytes())
    data[-20] ^= 0x01  # one bit, same size
    target.write_bytes(bytes(data))
    outside = tmp_path / "secret.png"
    shutil.copy(src / "cat" / "img1.png", outside)
    extra_rows = [
        {**rows[0], "output": "../secret.png"},
        {**rows[0], "output": "/etc/passwd"},
        {**rows[1], "output": "cat/noextension", "sha256": "", "bytes": ""},
    ]
    shutil.copy(out / rows[1]["output"], out / "cat" / "noextension")
    with open(out / "manifest.csv", "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writerows(extra_rows)

    result = runner.invoke(app, ["verify", str(out), "--replay", "100", "--json", "-j", "2"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["unsafe"] == ["../secret.png", "/etc/passwd"]
    changed: dict[str, list[str]] = {}
    for c in report["changed"]:
        changed.setdefault(c["file"], []).append(c["reason"])
    size = (out / "dog" / "img2__aug001.png").stat().st_size
    assert changed["dog/img2__aug001.png"][0] == f"SHA-256 differs from the manifest (same size, {size} bytes)"
    assert changed["cat/noextension"] == [
        "cannot replay: DecodeError: 'cat/noextension' has no image extension (.bmp, .jpeg, .jpg, .png, .tif, "
        ".tiff, .webp)"
    ]
    assert set(changed) == {"dog/img2__aug001.png", "cat/noextension"}
    assert report["checksums"] is False  # one row has none


# --- 9. --overwrite deletes only what is ours ------------------------------------------------------------


def test_9_overwrite_refuses_a_fake_summary_and_keeps_user_files(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "expander.json").write_text("{}")
    (fake / "thesis.docx").write_text("mine")
    result = expand_cli(str(src), "-o", str(fake), "--overwrite")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: Refusing to overwrite '{fake}': its expander.json was not written by expander"
    )
    assert sorted(os.listdir(fake)) == ["expander.json", "thesis.docx"]

    out = tmp_path / "out"
    assert expand_cli(str(src), "-o", str(out), "--per-image", "2", "-q").exit_code == 0
    (out / "cat" / "notes.txt").write_text("mine too")
    (out / "mine").mkdir()
    (out / "mine" / "keep.png").write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(out, target_is_directory=True)
    result = expand_cli(str(src), "-o", str(link), "--per-image", "1", "--overwrite", "-q")
    assert result.exit_code == 0, result.output
    assert (out / "cat" / "notes.txt").read_text() == "mine too" and (out / "mine" / "keep.png").exists()
    assert not (out / "cat" / "img1__aug002.png").exists()  # the previous run's copy 2 is gone
    assert len(rows_of(out)) == 12


def test_9_an_output_folder_reaching_the_source_through_a_link_is_refused(tmp_path: Path) -> None:
    photos = make_tree(tmp_path / "photos", {"cats": 2})
    src = tmp_path / "src"
    src.mkdir()
    (src / "cat").symlink_to(photos / "cats", target_is_directory=True)
    make_tree(src, {"dog": 2})
    before = tree_digest(photos)
    for out in (photos / "cats" / "out", photos):
        result = expand_cli(str(src), "-o", str(out))
        assert result.exit_code == 2
        assert "through a link to" in result.stderr or "contains the source folder" in result.stderr
    assert tree_digest(photos) == before


# --- 10. pipelines that cannot make images ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "normalize.json",
            '[{"__class_fullname__": "HorizontalFlip", "p": 1}, {"__class_fullname__": "Normalize", "p": 1}]',
            "into 3-channel float32 (values ",
        ),
        (
            "typo.json",
            '[{"__class_fullname__": "Affine", "rotatee": [-90, 90], "p": 1}]',
            "pipeline.transforms[0] (Affine) has unknown argument rotatee (did you mean rotate?). Valid arguments "
            "of Affine: scale, translate_percent, translate_px, rotate,",
        ),
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
            "is not valid .yaml: aliases (*a) are not allowed (line 2, column 8)",
        ),
        ("latin1.yaml", b"- __class_fullname__: HorizontalFlip  # caf\xe9\n", "is not UTF-8 text (byte 43 is 0xe9)"),
        (
            "boxes.json",
            '{"__class_fullname__": "Compose", "transforms": [{"__class_fullname__": "HorizontalFlip"}], '
            '"bbox_params": {"format": "yolo"}}',
            "sets bbox_params, for pipelines that move boxes or keypoints with the pixels",
        ),
    ],
)
def test_10_pipelines_that_cannot_make_images_are_refused_before_writing(
    tmp_path: Path, name: str, text, message: str
) -> None:
    src = good_tree(tmp_path / "src")
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    started = time.monotonic()
    result = expand_cli(str(src), "-o", str(out), "--pipeline", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.stderr.replace("\n", " ")
    assert not out.exists()
    assert time.monotonic() - started < 30  # the alias bomb is refused, not expanded


def test_10_an_oversized_pipeline_file_is_refused(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    path = tmp_path / "big.json"
    path.write_text("[" + " " * 1_000_001 + "]")
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--pipeline", str(path))
    assert result.exit_code == 2
    assert "is over 1,000,000 bytes; a pipeline is a few kilobytes" in result.stderr


def test_10_a_pipeline_that_never_ends_is_refused_at_the_limit(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")  # /dev/zero has no size to check: it must be read only up to the limit
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--pipeline", "/dev/zero")
    assert result.exit_code == 2
    assert "Pipeline file '/dev/zero' is over 1,000,000 bytes" in result.stderr


# --- 11. train on what expander handles -------------------------------------------------------------


def test_11_train_names_and_leaves_out_an_undecodable_image(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 6, "train/b": 6, "test/a": 3, "test/b": 3}, shape=(16, 16, 3))
    (src / "train" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (src / "test" / "b" / "broken.jpg").write_bytes(with_corrupt_scan(photo_jpeg()))
    from train.cli import app as train_app

    out = tmp_path / "report"
    args = ["compare", str(src), str(src), "--model", "tiny", "--epochs", "1", "--seeds", "1", "--image-size", "16"]
    result = runner.invoke(train_app, [*args, "--out", str(out), "-q", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())["data"]
    assert sorted(u["file"] for u in data["unreadable"]) == [
        str((src / "test/b/broken.jpg").resolve()),
        str((src / "train/a/broken.png").resolve()),
    ]
    assert data["counts"]["test"] == 6
    assert data["val_source"] == "held-out 20% of the training originals"
    assert "Left out because they do not decode: 2 file(s)" in (out / "report.md").read_text()
    said = runner.invoke(train_app, [*args, "--out", str(out), "-q"])  # every run kept: reported, not retrained
    assert said.exit_code == 0, said.output
    assert said.stderr.endswith(  # after the warning that src has no manifest
        "Left out 2 image(s) that do not decode:\n"
        f"  {(src / 'test/b/broken.jpg').resolve()}: corrupt JPEG data (libjpeg: Corrupt JPEG data: 312 extraneous "
        "bytes before marker 0xd9); the file is damaged: re-export or remove it\n"
        f"  {(src / 'train/a/broken.png').resolve()}: not a decodable image (corrupt, truncated, or not the format "
        "its extension says)\n"
    )


def test_11_train_refuses_a_single_class(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"only": 6})
    from train.cli import app as train_app

    result = runner.invoke(
        train_app, ["fit", str(src), "--model", "tiny", "--epochs", "1", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "has 1 class (only); a classifier needs at least two. Add a folder of images for each other class." in (
        result.stderr.replace("\n", " ")
    )


# --- 12. clean exit-2 messages ----------------------------------------------------------------------


@pytest.fixture
def shared_tmp():
    """A folder a process without root's file privileges can still enter (tmp_path is 0700 under root)."""
    folder = Path(tempfile.mkdtemp(prefix="expander-hostile-"))
    folder.chmod(0o777)
    yield folder
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def run_unprivileged(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EXPANDER, *args], capture_output=True, text=True, timeout=120, preexec_fn=without_root_privileges()
    )


def test_12_an_unreadable_class_folder_is_a_clean_exit_2(shared_tmp: Path) -> None:
    src = good_tree(shared_tmp / "src")
    (src / "dog").chmod(0o000)
    done = run_unprivileged("expand", str(src), "-o", str(shared_tmp / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"Error: Cannot read folder '{src / 'dog'}': Permission denied. Give your user ")
    assert "Traceback" not in done.stderr and not (shared_tmp / "out").exists()


def test_12_a_read_only_output_folder_is_a_clean_exit_2(shared_tmp: Path) -> None:
    src = good_tree(shared_tmp / "src")
    out = shared_tmp / "out"
    out.mkdir()
    out.chmod(0o555)
    done = run_unprivileged("expand", str(src), "-o", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"Error: Cannot write in output folder '{out}': Permission denied. Make it writable or choose another --out.\n"
    )
    assert os.listdir(out) == []


def test_a_style_reference_that_does_not_decode_is_named_before_writing(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    refs = make_tree(tmp_path / "refs", {"r": 1})
    (refs / "r" / "bad.jpg").write_bytes(with_corrupt_scan(photo_jpeg()))
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--style-refs", str(refs))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: Style reference '{(refs / 'r' / 'bad.jpg').resolve()}' cannot be used: ")
    assert "Remove it from --style-refs." in result.stderr and not out.exists()


def test_overwrite_refuses_a_damaged_manifest_and_deletes_nothing(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    out = tmp_path / "out"
    assert expand_cli(str(src), "-o", str(out), "--per-image", "1", "-q").exit_code == 0
    (out / "manifest.csv").write_bytes(b"output,source\n\xff\xfe,bad\n")
    before = tree_digest(out)
    result = expand_cli(str(src), "-o", str(out), "--overwrite")
    assert result.exit_code == 2
    assert "its manifest.csv cannot be read" in result.stderr.replace("\n", " ")
    assert tree_digest(out) == before


def test_5_the_space_estimate_with_size_and_format_uses_the_new_images_format(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src", n=1)  # two sources
    per_image = shutil.disk_usage(tmp_path).free // (2 * 100 * 100 * 3) + 10  # PNG: 3 bytes per pixel
    out = tmp_path / "out"
    args = ["--per-image", str(per_image), "--size", "100x100", "--format", "png", "--max-outputs", str(10**15)]
    result = expand_cli(str(src), "-o", str(out), *args)
    assert result.exit_code == 2
    needed = 2 * (per_image + 1) * 100 * 100 * 3
    assert result.stderr.startswith(
        f"Error: The plan needs about {needed / 1e9:.2f} GB ({2 * (per_image + 1):,} files)"
    )
    assert not out.exists()


# --- 13. a worker that dies (issue 30) -------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    return [child for child, parent, _ in live_processes() if parent == pid]


def test_13_a_worker_killed_mid_run_is_replaced_its_job_retried_and_the_run_ends(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"cat": 30, "dog": 30}, ext=".jpg", shape=(240, 320, 3))
    reference = tmp_path / "reference"
    assert expand_cli(str(src), "-o", str(reference), "--per-image", "40", "-j", "1", "-q").exit_code == 0
    out = tmp_path / "out"
    command = [sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "40", "-j", "2",
               "-q"]  # fmt: skip
    run = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.rglob("*.jpg"))) < 300:
        time.sleep(0.05)
    workers = _children(run.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)  # what the out-of-memory killer does
    assert run.wait(timeout=120) == 0  # the run ends, with every job done
    assert summary_of(out)["status"] == "complete" and summary_of(out)["totals"]["written"] == 60 * 41
    assert {p: d for p, d in tree_digest(out).items() if p != "expander.json"} == {
        p: d for p, d in tree_digest(reference).items() if p != "expander.json"
    }


def _rss_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0  # gone


def test_13_an_image_that_kills_its_worker_twice_is_failed_with_the_reason(tmp_path: Path) -> None:
    """The test plays the out-of-memory killer: the worker whose memory passes 250 MB (the one on a 48 MP photo;
    the others stay near 40 MB) is killed with SIGKILL, and its retry too. That image fails with the reason, the
    others are written, exit 1."""
    src = make_tree(tmp_path / "src", {"cat": 6}, ext=".jpg", shape=(64, 64, 3))
    y, x = np.mgrid[0:6000, 0:8000]
    assert cv2.imwrite(str(src / "cat" / "huge.jpg"), np.dstack([x % 256, y % 256, (x + y) % 256]).astype(np.uint8))
    out = tmp_path / "out"
    run = subprocess.Popen([*EXPANDER, "expand", str(src), "-o", str(out), "--per-image", "3", "-j", "2", "-q"])
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while run.poll() is None and len(killed) < 2 and time.monotonic() < deadline:
        for pid in _children(run.pid):
            if pid not in killed and _rss_mb(pid) > 250:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.01)
    assert run.wait(timeout=120) == 1 and len(killed) == 2
    assert failed_sources(out) == {
        "cat/huge.jpg": "the worker process running it was killed by SIGKILL (the out-of-memory killer, or kill -9), "
        "twice; the image may need more memory than a worker has"
    }
    assert summary_of(out)["totals"]["written"] == 6 * 4


# --- 14. every copy is an image file, not only the probe's (issue 30) ------------------------------------


def test_14_normalize_inside_oneof_fails_the_copies_it_fires_on_and_no_black_copy_is_written(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src", n=4)
    pipeline = tmp_path / "sometimes.json"
    pipeline.write_text(
        json.dumps(
            [
                {
                    "__class_fullname__": "OneOf",
                    "p": 1,
                    "transforms": [
                        {"__class_fullname__": "Normalize", "p": 1},
                        {"__class_fullname__": "HorizontalFlip", "p": 1},
                    ],
                }
            ]
        )
    )
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--pipeline", str(pipeline), "--per-image", "4", "-j", "1")
    assert result.exit_code == 1, result.output
    failed = [r for r in rows_of(out) if r["status"] == "failed"]
    written = [r for r in rows_of(out) if r["status"] == "ok" and r["copy"] != "original"]
    assert failed and written  # both branches fired
    assert {r["error"].split(";")[0] for r in failed} == {
        "PipelineOutputError: the pipeline turned this copy into 3-channel float32 (values "
        + r["error"].split("(values ", 1)[1].split(")")[0]
        + ")"
        for r in failed
    }
    assert all(not (out / r["output"]).exists() for r in failed)
    for r in written:  # a flipped copy: its pixels are the source's, mirrored, never near-black
        copy = cv2.imread(str(out / r["output"]))
        assert copy.mean() > 60
    assert verify(out)["ok"]


def test_14_a_pipeline_that_makes_copies_over_the_pixel_limit_is_refused_before_writing(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    pipeline = tmp_path / "huge.yaml"
    pipeline.write_text("- __class_fullname__: Resize\n  height: 2000\n  width: 2000\n  p: 1\n")
    out = tmp_path / "out"
    result = expand_cli(str(src), "-o", str(out), "--pipeline", str(pipeline), "--max-pixels", "1000000")
    assert result.exit_code == 2 and not out.exists()
    assert "the pipeline made this copy 2000x2000 (4,000,000 pixels), over --max-pixels 1,000,000" in result.stderr
    sometimes = tmp_path / "sometimes.yaml"  # in a OneOf the probe's draw may not pick it: each copy is checked
    sometimes.write_text("- __class_fullname__: OneOf\n  p: 1\n  transforms:\n  - {__class_fullname__: Resize, height: "
                         "2000, width: 2000, p: 1}\n  - {__class_fullname__: HorizontalFlip, p: 1}\n")  # fmt: skip
    result = expand_cli(str(src), "-o", str(out), "--pipeline", str(sometimes), "--max-pixels", "1000000",
                        "--per-image", "6", "-j", "1")  # fmt: skip
    failed = [r for r in rows_of(out) if r["status"] == "failed"]
    assert failed and all("over --max-pixels 1,000,000" in r["error"] for r in failed)
    assert verify(out, max_pixels=1_000_000)["ok"]


# --- 15. object stores: credentials, buckets, outages -------------------------------------------------------


def store_env(endpoint: str, timeout: float = 1, patience: float = 3, **changes: str | None) -> dict[str, str]:
    """The environment of an expander process talking to ``endpoint``: short store timeouts, so an outage test
    takes seconds (the defaults are 20 s and 60 s)."""
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, EXPANDER_STORE_TIMEOUT_S=str(timeout),
               EXPANDER_STORE_PATIENCE_S=str(patience))  # fmt: skip
    for name, value in changes.items():
        env.pop(name, None) if value is None else env.__setitem__(name, value)
    return env


def run_with(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*EXPANDER, *args], env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_15_no_credentials_a_missing_bucket_and_a_store_that_is_down_are_exit_2_with_the_fix(s3, tmp_path) -> None:
    src = good_tree(tmp_path / "src")
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    nothing = str(tmp_path / "absent")
    env = store_env(endpoint, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_SESSION_TOKEN=None,
                    AWS_PROFILE=None, AWS_SHARED_CREDENTIALS_FILE=nothing, AWS_CONFIG_FILE=nothing,
                    AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
    result = run_with(env, "expand", str(src), "-o", "s3://data/nocreds", "-q")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: No credentials for s3://data/nocreds: Unable to locate credentials. Set ")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE" in result.stderr

    for args in (["expand", str(src), "-o", "s3://nosuchbucket/out"], ["expand", "s3://nosuchbucket/src", "-o",
                 str(tmp_path / "o")], ["inspect", "s3://nosuchbucket/src"]):  # fmt: skip
        result = run_with(store_env(endpoint), *args, "-q" if args[0] == "expand" else "--json")
        assert result.returncode == 2, result.stderr
        where = args[1] if args[1].startswith("s3") else args[3]
        assert result.stderr == f"Error: Bucket 'nosuchbucket' does not exist ({where}). Create it, or fix the URL.\n"
    assert not (tmp_path / "o").exists()

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    for args in (["expand", str(src), "-o", "s3://data/down", "-q"], ["verify", "s3://data/down"]):
        result = run_with(store_env(down, patience=2), *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: Cannot reach the store for s3://data/down (Could not connect to the "
                                         f'endpoint URL: "{down}/data')  # fmt: skip
        assert "Check the endpoint (AWS_ENDPOINT_URL for S3) and the network, then run the command" in result.stderr
    assert time.monotonic() - started < 40  # two commands, each giving up after its 2 s of patience


def test_15_credentials_the_store_rejects_are_exit_2_naming_the_code(tmp_path: Path) -> None:
    pytest.importorskip("moto.server")
    port = free_port()
    authenticating = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")  # moto checks keys from the first call
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=authenticating)  # fmt: skip
    try:
        wait_for(lambda: _listening(port), timeout=30, process=server)
        env = store_env(f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG0",
                        AWS_SECRET_ACCESS_KEY="wrong", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
        result = run_with(env, "expand", str(good_tree(tmp_path / "src")), "-o", "s3://data/out", "-q")
    finally:
        server.terminate()
        server.wait()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (
        "Error: s3://data/out refused the credentials (InvalidAccessKeyId: The AWS Access Key Id you provided does not "
        "exist in our records). Check the access key and secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_PROFILE).\n"
    )


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


OUTAGE_COPIES = "15"  # 450 objects: a third written when the store goes down, the rest after


@pytest.fixture
def outage(s3, tmp_path: Path):
    """A run into s3 through a proxy that the test takes down: the source, the reference output (the same run,
    local, uninterrupted), the proxy, and a function starting the run and returning once it has written 100
    objects."""
    from store_proxy import StoreProxy

    src = make_tree(tmp_path / "src", {"a": 30}, ext=".jpg", shape=(120, 160, 3))
    reference = tmp_path / "reference"
    assert expand_cli(str(src), "-o", str(reference), "--per-image", OUTAGE_COPIES, "-j", "1", "-q").exit_code == 0
    proxy = StoreProxy(int(os.environ["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]))
    prefix = f"data/outage-{tmp_path.name}"

    def start(patience: float) -> subprocess.Popen:
        command = [*EXPANDER, "expand", str(src), "-o", f"s3://{prefix}", "--per-image", OUTAGE_COPIES, "-j", "2", "-q"]
        process = subprocess.Popen(command, env=store_env(proxy.url, patience=patience), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_for(lambda: s3.invalidate_cache() or len(s3.find(prefix)) > 100, process=process)
        return process

    def same_as_reference() -> bool:
        written = _objects(s3, prefix)
        return {k: v for k, v in written.items() if k != "expander.json"} == {
            p: hashlib.sha256((reference / p).read_bytes()).hexdigest()
            for p in tree_digest(reference)
            if p not in ("expander.json", ".expander.lock")
        }

    yield start, proxy, f"s3://{prefix}", same_as_reference, src
    proxy.close()


def _objects(fs, prefix: str) -> dict[str, str]:
    fs.invalidate_cache()
    return {p[len(prefix) + 1 :]: hashlib.sha256(fs.cat_file(p)).hexdigest() for p in fs.find(prefix)}


def _resumed_to_the_reference(proxy, url: str, src: Path, same_as_reference) -> bool:
    """``--resume`` once the store is back: exit 0, and the reference's bytes."""
    result = run_with(store_env(proxy.url), "expand", str(src), "-o", url, "--per-image", OUTAGE_COPIES, "-j", "2",
                      "-q", "--resume")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return same_as_reference()


def test_15_a_short_store_outage_mid_run_is_ridden_through(outage) -> None:
    start, proxy, url, same_as_reference, _ = outage
    process = start(patience=30)
    proxy.set("stall")  # connections hang: only the timeouts end them
    time.sleep(3)
    proxy.set("up")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert same_as_reference()
    assert verify(url)["ok"]


def test_15_a_long_store_outage_stops_the_run_and_resume_finishes_it(outage) -> None:
    start, proxy, url, same_as_reference, src = outage
    process = start(patience=3)
    proxy.set("stall")
    began = time.monotonic()
    report, stderr = process.communicate(timeout=120)
    took = time.monotonic() - began
    proxy.set("up")
    assert process.returncode == 1, stderr
    assert took < 30  # patience 3 s, a 1 s timeout, a try per worker and one for the manifest
    assert "Stopped: Cannot reach the store for " + url in report
    assert "Once the store answers again, run the same command with --resume." in report
    assert f"The manifest could not be written (Cannot reach the store for {url}" in report
    assert _resumed_to_the_reference(proxy, url, src, same_as_reference)
    assert verify(url)["ok"]


def test_15_sigterm_during_a_store_outage_exits_at_once_and_resume_finishes(outage) -> None:
    start, proxy, url, same_as_reference, src = outage
    process = start(patience=60)
    proxy.set("stall")
    time.sleep(1)
    began = time.monotonic()
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    took = time.monotonic() - began
    proxy.set("up")
    assert process.returncode == 143, stderr
    assert took < 20  # not the 60 s of patience: each final write is tried once within one timeout (1.1 s measured)
    assert "Terminated. Run the same command with --resume to finish the job." in stderr
    assert _resumed_to_the_reference(proxy, url, src, same_as_reference)


# --- 16. label files are bounded before work starts ---------------------------------------------------------


def peak_rss_mb(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run expander as a child and measure the largest resident set of it and its workers (MB)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(r.returncode)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, *EXPANDER, *args], capture_output=True, text=True, timeout=300)
    *lines, peak = result.stderr.rstrip("\n").split("\n")
    result.stderr = "\n".join(lines) + ("\n" if lines else "")
    print(f"peak RSS {int(peak) / 1024:.0f} MB: expander {' '.join(args[:1])}")  # shown by pytest -rP
    return result, int(peak) / 1024


def yolo_set(root: Path) -> Path:
    from labelled_data import SCENES, write_yolo

    return write_yolo(root, {"a": SCENES["a"], "b": SCENES["b"]})


def test_16_a_data_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    src = yolo_set(tmp_path / "src")
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                                                  for p, c in zip("abcdefgh", "bcdefghi", strict=True)]  # fmt: skip
    (src / "data.yaml").write_text("train: ../train/images\nnames: [cat, dog, fox]\n" + "\n".join(lines) + "\n")
    for command in (["expand", str(src), "-o", str(tmp_path / "out")], ["inspect", str(src)]):
        result, peak = peak_rss_mb(*command)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"Error: Cannot read '{src / 'data.yaml'}': aliases (*a) are not allowed (line 4, "
                                 "column 8). Fix the file.\n")  # fmt: skip
        assert peak < 400
    assert not (tmp_path / "out").exists()


def test_16_data_yaml_names_that_are_not_ids_to_names_or_leave_gaps_are_exit_2(tmp_path: Path) -> None:
    src = yolo_set(tmp_path / "src")
    cases = {
        "names: {person: 0}": "names maps 'person' to 0; it must map class ids to names, e.g. {0: person}.",
        "names: {0: cat, 5: dog}": "names gives class ids [0, 5], which skips [1, 2, 3, 4]: every id from 0 needs a "
        "name, or the labels' ids would mean other classes.",
    }
    for names, message in cases.items():
        (src / "data.yaml").write_text(f"train: ../train/images\n{names}\n")
        result = expand_cli(str(src), "-o", str(tmp_path / "out"))
        assert result.exit_code == 2
        assert result.stderr == f"Error: '{src / 'data.yaml'}': {message} Fix the file.\n"
    assert not (tmp_path / "out").exists()


def test_16_a_50_mb_data_yaml_is_not_read(tmp_path: Path) -> None:
    src = yolo_set(tmp_path / "src")
    with open(src / "data.yaml", "w") as f:
        f.write("train: ../train/images\nnames: [cat, dog, fox]\n# " + "x" * 50_000_000 + "\n")
    result, peak = peak_rss_mb("expand", str(src), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr == f"Error: Cannot read '{src / 'data.yaml'}': larger than 1 MB. Fix the file.\n"
    assert peak < 300


def coco_set(root: Path, edit) -> Path:
    """The test COCO set (images a-d, ids 1-4, 'b' with an RLE) with its JSON changed by ``edit``."""
    from labelled_data import write_coco

    write_coco(root)
    path = root / "train/_annotations.coco.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return root


def annotation(id: int, image_id: int, segmentation) -> dict:
    return {"id": id, "image_id": image_id, "category_id": 1, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0,
            "segmentation": segmentation}  # fmt: skip


def test_16_coco_image_ids_given_twice_are_named_not_merged(tmp_path: Path) -> None:
    def same_id(data: dict) -> None:
        data["images"][1]["id"] = data["images"][0]["id"]

    src = coco_set(tmp_path / "src", same_id)
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "-j", "1")
    assert result.exit_code == 2 and not (tmp_path / "out").exists()
    assert result.stderr.splitlines()[1:4] == [
        "  train/_annotations.coco.json: image id 1 of 'train/a.png' is given to another image too",
        "  train/_annotations.coco.json: image id 1 of 'train/b.png' is given to another image too",
        "  train/_annotations.coco.json: image ids given to more than one image: 1 (whose annotations are whose "
        "cannot be told; give each image its own id)",
    ]
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "-j", "1", "--skip-bad-labels")
    assert result.exit_code == 1
    assert failed_sources(tmp_path / "out") == {
        "train/a.png": "its labels cannot be read (--skip-bad-labels left it out)",
        "train/b.png": "its labels cannot be read (--skip-bad-labels left it out)",
    }
    written = json.loads((tmp_path / "out/train/_annotations.coco.json").read_text())
    assert sorted(i["file_name"] for i in written["images"]) == ["c.png", "c__aug001.png", "d.png", "d__aug001.png"]


def test_16_290000_polygons_on_one_image_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    def crowd(data: dict) -> None:
        data["annotations"] += [annotation(1000 + i, 1, [[1, 1, 3, 1, 3, 3]]) for i in range(290_000)]

    src = coco_set(tmp_path / "src", crowd)
    result, peak = peak_rss_mb("expand", str(src), "-o", str(tmp_path / "out"), "-j", "2", "--skip-bad-labels", "-q")
    assert result.returncode == 1, result.stderr
    assert failed_sources(tmp_path / "out") == {
        "train/a.png": "its labels cannot be read (--skip-bad-labels left it out)"
    }
    assert summary_of(tmp_path / "out")["labels"]["skipped"] == [
        "train/_annotations.coco.json: image 1 'a.png' has 290,001 annotations, over the limit of 10,000"
    ]
    assert peak < 1000  # was 10-22 GB (one mask per polygon); the JSON itself is 40 MB


def test_16_coco_rle_sizes_missing_image_ids_and_degenerate_polygons_are_named_and_cost_only_themselves(
    tmp_path: Path,
) -> None:
    def damage(data: dict) -> None:
        rle = next(a for a in data["annotations"] if isinstance(a["segmentation"], dict))
        rle["segmentation"] = {"size": [100000, 100000], "counts": rle["segmentation"]["counts"]}
        data["annotations"][0]["segmentation"].append([1, 1, 2, 2])  # beside a good polygon of image a
        data["annotations"] += [annotation(998, 3, [[1, 1, 1, 1, 1, 1]]), annotation(999, 77, [[1, 1, 5, 1, 5, 5]])]

    src = coco_set(tmp_path / "src", damage)
    result, peak = peak_rss_mb("expand", str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "-j", "2", "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("3 problem(s) in the source labels, each with what the copies leave out:")
    assert lines[start + 1 : start + 6] == [
        "  train/_annotations.coco.json: annotation 1 of 'a.png': 1 of its 2 polygons are not polygons (fewer than 3 "
        "points, no area, too many points, or not numbers) and were left out",
        "  train/_annotations.coco.json: annotation 2 of 'b.png': its RLE is 100000x100000, its image 80x100: the "
        "segmentation was left out",
        "  train/_annotations.coco.json: annotation 998 of 'c.png': 1 of its 1 polygons are not polygons (fewer than 3 "
        "points, no area, too many points, or not numbers) and were left out (the box is kept)",
        "1 label file(s) or entries without an image, not used:",
        "  train/_annotations.coco.json: annotation 999 points at image id 77, which is not in images",
    ]
    written = json.loads((tmp_path / "out/train/_annotations.coco.json").read_text())
    names = {i["id"]: i["file_name"] for i in written["images"]}
    originals = Counter(names[a["image_id"]] for a in written["annotations"] if "__aug" not in names[a["image_id"]])
    assert originals == {"a.png": 1, "b.png": 1, "c.png": 2, "d.png": 1}  # every image kept, with each good object
    assert peak < 400


def mask_set(root: Path) -> Path:
    from labelled_data import SCENES, write_masks

    return write_masks(root, {k: SCENES[k] for k in "abc"})


def test_16_an_image_without_a_mask_is_a_background_image_and_said_so(tmp_path: Path) -> None:
    src = mask_set(tmp_path / "src")
    (src / "masks/b_mask.png").unlink()
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "-j", "1")
    assert result.exit_code == 0
    assert "Note: 1 image(s) have no mask: background images, their copies get an empty mask." in result.stdout
    assert sorted(p.name for p in (tmp_path / "out/images").iterdir()) == [
        "a.png", "a__aug001.png", "b.png", "b__aug001.png", "c.png", "c__aug001.png"]  # fmt: skip
    assert not cv2.imread(str(tmp_path / "out/masks/b__aug001_mask.png"), cv2.IMREAD_UNCHANGED).any()
    assert not (tmp_path / "out/masks/b_mask.png").exists()  # the original stays as it was: without a mask


def test_16_a_mask_of_the_wrong_size_or_over_the_pixel_limit_is_named_before_anything_is_written(
    tmp_path: Path,
) -> None:
    src = mask_set(tmp_path / "src")
    cv2.imwrite(str(src / "masks/b_mask.png"), np.zeros((10, 10), np.uint8))
    (src / "masks/c_mask.png").write_bytes(png_bomb(20000, 20000))
    result, peak = peak_rss_mb("expand", str(src), "-o", str(tmp_path / "out"), "--per-image", "1")
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    assert result.stderr.splitlines()[1:3] == [
        "  masks/b_mask.png: the mask is 10x10, its image images/b.png 80x100",
        "  masks/c_mask.png: cannot be read as a mask: 20000x20000 is 400,000,000 pixels, over the limit of "
        "178,956,970 (a decompression bomb, or a photo larger than expected); raise --max-pixels if it is real",
    ]
    assert peak < 300  # the 20000x20000 mask (400 MB decoded) is refused from its header
    result = expand_cli(str(src), "-o", str(tmp_path / "out"), "--per-image", "1", "--skip-bad-labels", "-j", "1")
    assert result.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "out/images").iterdir()) == ["a.png", "a__aug001.png"]


# --- 17. verify says what a run left ---------------------------------------------------------------------


def test_17_verify_fails_an_interrupted_run_and_a_summary_that_miscounts(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30}, ext=".jpg", shape=(240, 320, 3))
    out = tmp_path / "out"
    process = slow_run(src, out, "-j", "2")
    wait_for(lambda: (out / "a").is_dir() and len(os.listdir(out / "a")) > 50, process=process)
    process.terminate()
    process.communicate(timeout=60)
    assert summary_of(out)["status"] == "interrupted"
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert "  run: the run did not finish (status 'interrupted'): run the same command with --resume" in result.stdout

    assert expand_cli(str(src), "-o", str(out), "--per-image", "40", "--resume", "-q").exit_code == 0
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0
    summary = summary_of(out)
    summary["totals"]["written"] += 5
    (out / "expander.json").write_text(json.dumps(summary))
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert "  run: expander.json counts 1235 outputs written, manifest.csv lists 1230" in result.stdout


@pytest.mark.parametrize("format", ["webdataset", "tfrecord", "parquet"])
def test_17_verify_names_a_stray_shard_and_a_damaged_one_without_a_traceback(tmp_path: Path, format: str) -> None:
    if format == "parquet":
        pytest.importorskip("pyarrow")
    src = make_tree(tmp_path / "src", {"a": 6, "b": 6}, ext=".jpg", shape=(40, 50, 3))
    out = tmp_path / "out"
    assert expand_cli(str(src), "-o", str(out), "--per-image", "3", "--shards", format, "--shard-size", "10",
                      "-q").exit_code == 0  # fmt: skip
    shard = sorted(p for p in out.iterdir() if p.name.startswith("shard-"))[0]
    stray = out / f"shard-000099{shard.suffix}"
    shutil.copy(shard, stray)
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [f"  not in the manifest: {stray.name}"]
    stray.unlink()

    shard.write_bytes(shard.read_bytes()[:3000])
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert f"  changed: {shard.name} (SHA-256 differs from shards.json)" in lines
    damaged = [line for line in lines if line.startswith(f"  does not decode: {shard.name} (not a readable {format} ")]
    assert len(damaged) == 1
    missing = [line for line in lines if line.startswith("  missing: ")]
    assert len(missing) == 12  # the samples that shard held


# --- 18. names with control characters --------------------------------------------------------------------


def test_18_names_with_a_cr_a_newline_or_an_escape_sequence_are_printed_escaped(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    hostile = "evil\r\x1b[2J\nname.png"
    (src / "cat" / hostile).write_bytes(b"not an image")
    out = tmp_path / "out"
    shown = "evil\\r\\x1b[2J\\nname.png"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "-j", "1")
    assert result.exit_code == 1
    assert f"  cat/{shown}: " in result.stdout
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    assert json.loads(expand_cli(str(src), "-o", str(tmp_path / "o2"), "--per-image", "1", "--json", "-q").stdout)[
        "failures"][0]["source"] == f"cat/{hostile}"  # fmt: skip

    result = runner.invoke(app, ["inspect", str(src)])
    assert f"cat/{shown}" in result.stdout and "\r" not in result.stdout and "\x1b" not in result.stdout

    (out / "cat" / hostile).write_bytes(b"stray")
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert f"  not in the manifest: cat/{shown}" in result.stdout.splitlines()
    assert "\r" not in result.stdout and "\x1b" not in result.stdout


# --- 19: nothing read outside the dataset, nothing lost to a bad first entry, no hang (issue 44 items 1-3) -------


def test_19_a_label_file_linked_to_a_secret_is_never_opened_and_the_run_is_refused(tmp_path: Path) -> None:
    from labelled_data import write_yolo

    src = write_yolo(tmp_path / "src")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:TOPSECRET:0:0\n")
    label = src / "train" / "labels" / "a.txt"
    label.unlink()
    os.symlink(secret, label)
    out = tmp_path / "out"

    for extra in ((), ("--skip-bad-labels",)):
        result = expand_cli(str(src), "-o", str(out), "--per-image", "1", *extra)
        assert result.exit_code == 2
        assert result.stderr == (
            f"Error: 1 label file(s) in '{src}' are links to files outside the dataset (e.g. train/labels/a.txt): "
            "they were not opened, and their images would be read without labels. Nothing was written. Copy the "
            "files they point to into the dataset, or remove the links.\n"
        )
        assert "TOPSECRET" not in result.output and not out.exists()
    inspected = runner_invoke("inspect", str(src), "--json")
    assert inspected.exit_code == 2 and "TOPSECRET" not in inspected.output


def runner_invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_19_a_fifo_in_the_dataset_is_listed_never_opened(tmp_path: Path) -> None:
    src = good_tree(tmp_path / "src")
    os.mkfifo(src / "cat" / "pipe.png")
    os.mkfifo(src / "notes.txt")
    out = tmp_path / "out"

    done = subprocess.run([sys.executable, "-m", "expander", "expand", str(src), "-o", str(out), "--per-image", "1",
                           "--json", "-q"], capture_output=True, text=True, timeout=120)  # fmt: skip

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ignored"] == {"not_regular_file": 2}
    assert [(e["file"], e["reason"]) for e in summary["inventory"]["ignored_files"]] == [
        ("cat/pipe.png", "not_regular_file"), ("notes.txt", "not_regular_file"),
    ]  # fmt: skip
    assert summary["totals"]["written"] == 12
    inspected = subprocess.run([sys.executable, "-m", "expander", "inspect", str(src), "--json"],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
    assert inspected.returncode == 0 and json.loads(inspected.stdout)["inventory"]["ignored"] == 2


def test_19_a_coco_json_whose_first_image_is_missing_costs_that_image_only(tmp_path: Path) -> None:
    from labelled_data import write_coco

    src = write_coco(tmp_path / "src")
    (src / "train" / "a.png").unlink()  # the first image the JSON lists
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "--json", "-q")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["totals"]["written"] == 6  # b, c, d and a copy of each
    assert summary["labels"]["labels_without_images"] == [
        "train/_annotations.coco.json: image 1 'a.png' is not on disk"
    ]


def test_19_list_files_with_absolute_paths_inside_the_root_are_read_and_entries_outside_are_named(
    tmp_path: Path,
) -> None:
    from labelled_data import write_yolo

    src = write_yolo(tmp_path / "src", split="all")  # no folder names a split: train.txt alone says which train
    (src / "train.txt").write_text(
        f"{src}/all/images/a.png\n{src}/all/images/b.png\n./all/images/c.png\n../elsewhere/x.png\n/etc/x.png\n"
        "all/images/gone.png\n"
    )
    (src / "data.yaml").write_text("train: train.txt\nnc: 3\nnames: [cat, dog, fox]\n")
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "--json", "-q")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {r["split"]: r["new"] for r in summary["counts"] if r["class"] == "image files"} == {
        "train": 3, "unlisted": 0,
    }  # fmt: skip
    assert summary["labels"]["notes"] == [
        "2 line(s) of train.txt lead outside the dataset, not read: '../elsewhere/x.png', '/etc/x.png'",
        "1 line(s) of train.txt name no file of the dataset, not read: 'all/images/gone.png'",
    ]


def test_20_every_byte_a_name_may_hold_round_trips_through_the_manifest_and_verify(tmp_path: Path) -> None:
    """CR, LF, tab, quote and comma in names: one manifest row each, and verify passes on the untouched run (a
    lone CR split its row: 24 rows for 16 outputs). A name that is not UTF-8 is failed and named."""
    src = tmp_path / "src"
    names = ["a\rb.png", "c\nd.png", "t\tab.png", 'q"uote.png', "com,ma.png", "cr\r\nlf.png", "plain.png"]
    for name in names:
        write_image(src / "cat" / name)
    write_image(src / "dog" / "p.png")
    (src / "dog" / os.fsdecode(b"bad\xff.png")).write_bytes((src / "dog" / "p.png").read_bytes())
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "-q")

    assert result.exit_code == 1  # the name that is not UTF-8 failed
    outputs = sorted(r["output"] for r in rows_of(out))
    expected = sorted(f"{c}/{stem}{suffix}.png" for c, stem in [("cat", n[:-4]) for n in names] + [("dog", "p")]
                      for suffix in ("", "__aug001"))  # fmt: skip
    assert outputs == expected
    checked = runner_invoke("verify", str(out), "--replay", "16")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[0] == f"{out}: OK (16 files listed)"


def test_20_no_group_cap_lets_a_duplicate_or_a_leak_survive_exclude(tmp_path: Path) -> None:
    """80 identical train images and a test image identical to 40 more train ones (the old cap of 32 files a group
    left 48 and 8 of them): after --exclude one train image of the first kind is left, none of the second."""
    src = tmp_path / "src"
    same, leaked = np.full((24, 24, 3), 40, np.uint8), np.full((24, 24, 3), 200, np.uint8)
    same[4:9, 4:9], leaked[10:20, 3:6] = 250, 10  # a little structure, so neither is a blank
    for n in range(80):
        assert cv2.imwrite(
            str((src / "train" / "a").mkdir(parents=True, exist_ok=True) or src / f"train/a/s{n}.png"), same
        )
    for n in range(40):
        assert cv2.imwrite(str((src / "train" / "b").mkdir(parents=True, exist_ok=True) or src / f"train/b/l{n}.png"),
                           leaked)  # fmt: skip
    (src / "test" / "b").mkdir(parents=True)
    assert cv2.imwrite(str(src / "test/b/probe.png"), leaked)
    dup = tmp_path / "dup.json"

    inspected = runner_invoke("inspect", str(src), "--duplicates", str(dup), "--json", "-j", "1")

    assert inspected.exit_code == 0, inspected.output
    found = json.loads(dup.read_text())
    assert [len(g["files"]) for g in found["groups"]] == [41, 80]  # one line each, the leak first
    assert len(found["drop"]) == 79 + 40
    out = tmp_path / "out"
    assert expand_cli(str(src), "-o", str(out), "--per-image", "0", "--exclude", str(dup), "-q").exit_code == 0
    assert sorted(p.name for p in (out / "train").rglob("*.png")) == ["s0.png"]
    assert sorted(p.name for p in (out / "test").rglob("*.png")) == ["probe.png"]


def test_20_every_bound_on_objects_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    """200,000 YOLO boxes on one image (the docs bound an image at 10,000 objects), and 10,000 polygons on a
    1024x768 image (their masks would take 7.9 GB to move): each exit 2 before writing, naming the file; with
    --skip-bad-labels that image is left out and the others expanded (was: accepted, and refused only in the
    worker with exit 1)."""
    from labelled_data import write_yolo

    for case, line, count in (
        ("boxes", "0 0.5 0.5 0.1 0.1", 200_000),
        ("polygons", "0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.25 0.05 0.15", 10_000),
    ):
        src = write_yolo(tmp_path / case / "src")
        assert cv2.imwrite(str(src / "train/images/a.png"), np.zeros((768, 1024, 3), np.uint8))
        (src / "train/labels/a.txt").write_text(f"{line}\n" * count)
        if case == "polygons":  # the other images' lines become polygons too: one task for the dataset
            for name in ("b", "c", "d"):
                (src / f"train/labels/{name}.txt").write_text(f"{line}\n")
        out = tmp_path / case / "out"
        refused = expand_cli(str(src), "-o", str(out), "--per-image", "1")
        assert refused.exit_code == 2 and not out.exists()
        why = ("train/labels/a.txt: 200,000 objects, more than the 10,000 an image may have" if case == "boxes" else
               "train/images/a.png: 10,000 objects with masks on a 1024x768 image need 7.9 GB to move (the limit is "
               "1.1 GB); split the image's labels or leave the image out")  # fmt: skip
        assert f"  {why}\n" in refused.stderr
        skipped = expand_cli(str(src), "-o", str(out), "--per-image", "1", "--skip-bad-labels", "--json", "-q")
        assert skipped.exit_code == 1
        assert failed_sources(out) == {
            "train/images/a.png": "its labels cannot be read (--skip-bad-labels left it out)"
        }
        assert json.loads(skipped.stdout)["totals"]["written"] == 6


def test_20_train_refuses_a_store_or_out_it_cannot_write_before_training(tmp_path: Path) -> None:
    """A read-only --store or --out: exit 2 before the first run (was: a traceback after a run trained, lost)."""
    src = make_tree(tmp_path / "src", {"train/cat": 4, "train/dog": 4, "test/cat": 2, "test/dog": 2})
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    train = str(Path(sys.executable).parent / "train")
    for option, extra in (("--store", ["--out", str(tmp_path / "report")]), ("--out", [])):
        command = [train, "compare", str(src), str(src), "--model", "tiny", "--epochs", "1", "--seeds", "1",
                   option, str(locked), *extra]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              preexec_fn=without_root_privileges())  # fmt: skip
        assert done.returncode == 2, done.stderr
        what = "keep runs in" if option == "--store" else "write in"
        assert done.stderr.splitlines()[-1] == (
            f"Error: Cannot {what} {option} '{locked}': Permission denied. Nothing was trained. Choose another "
            f"{option}."
        )
        assert list(locked.iterdir()) == []


def test_20_resume_writes_again_the_outputs_of_a_label_changed_since_the_killed_run(tmp_path: Path) -> None:
    """A YOLO run killed mid-way, one label file edited, --resume: that source's copies are written again from the
    new label (was: the stale copies kept, found only by verify --replay); the others are not."""
    from labelled_data import write_yolo

    src = write_yolo(tmp_path / "src")
    out = tmp_path / "out"
    command = [*EXPANDER, "expand", str(src), "-o", str(out), "--per-image", "150", "-j", "1", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    labels = out / "train" / "labels"
    wait_for(lambda: labels.is_dir() and len([p for p in os.listdir(labels) if p.startswith("a__")]) >= 150,
             process=process)  # fmt: skip
    process.kill()
    process.wait()
    assert summary_of(out)["status"] == "running"
    untouched = (labels / "b__aug001.txt").read_bytes() if (labels / "b__aug001.txt").exists() else None
    time.sleep(0.01)
    label = src / "train" / "labels" / "a.txt"
    label.write_text(label.read_text().replace("0 ", "2 ", 1))  # the cat is a fox now

    result = expand_cli(str(src), "-o", str(out), "--per-image", "150", "-j", "1", "--resume", "--json", "-q")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changed_sources"] == ["train/images/a.png"]
    assert all((labels / f"a__aug{k:03d}.txt").read_text().startswith("2 ") for k in (1, 75, 150))
    if untouched is not None:
        assert (labels / "b__aug001.txt").read_bytes() == untouched
    assert runner_invoke("verify", str(out), "--replay", "20").exit_code == 0


def test_19_coco_file_names_that_lead_outside_the_dataset_are_named_and_cost_only_themselves(tmp_path: Path) -> None:
    """'../' past the root and an absolute path elsewhere are not read and named; an absolute path inside the
    root is the file it names; the other images expand, and the untouched output verifies (was: 12 of 16
    planned outputs written, silently, and verify failed)."""
    from labelled_data import write_coco

    src = write_coco(tmp_path / "src")
    outside = tmp_path / "elsewhere.png"
    shutil.move(src / "train" / "a.png", outside)
    (src / "train" / "b.png").unlink()
    json_path = src / "train" / "_annotations.coco.json"
    data = json.loads(json_path.read_text())
    names = {entry["file_name"]: entry for entry in data["images"]}
    names["a.png"]["file_name"] = "../../elsewhere.png"
    names["b.png"]["file_name"] = str(outside)
    names["c.png"]["file_name"] = str(src / "train" / "c.png")  # absolute, inside the dataset
    json_path.write_text(json.dumps(data))
    out = tmp_path / "out"

    result = expand_cli(str(src), "-o", str(out), "--per-image", "1", "--json", "-q")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["labels"]["labels_without_images"] == [
        "train/_annotations.coco.json: image 1 '../../elsewhere.png' is outside the dataset: not read",
        f"train/_annotations.coco.json: image 2 '{outside}' is outside the dataset: not read",
    ]
    assert summary["totals"]["written"] == 4  # c and d, and a copy of each
    assert summary["labels"]["notes"] == [
        "1 image file_name(s) given as absolute paths inside the dataset: written relative to the JSON's image "
        "folder, so the output does not point back into the source"
    ]
    written = json.loads((out / "train" / "_annotations.coco.json").read_text())
    assert [i["file_name"] for i in written["images"]] == ["c.png", "c__aug001.png", "d.png", "d__aug001.png"]
    assert runner_invoke("verify", str(out), "--replay", "2").exit_code == 0
