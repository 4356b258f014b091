"""End-to-end runs through the library API: scan -> plan -> execute -> manifest."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SAMPLE, make_tree, tree_digest, write_image
from PIL import Image

from expander import expand
from expander.errors import ExpanderError, OutputError
from expander.images import TEMP_SUFFIX


def manifest_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def images_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in (".png", ".jpg"))


def test_per_image_writes_exact_files_and_manifest(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = expand(tree, out, per_image=2, seed=5)

    assert result.status == "complete" and result.exit_code == 0
    assert images_under(out) == [
        "cat/img1.png", "cat/img1__aug001.png", "cat/img1__aug002.png",
        "cat/img2.png", "cat/img2__aug001.png", "cat/img2__aug002.png",
        "cat/img3.png", "cat/img3__aug001.png", "cat/img3__aug002.png",
        "dog/img1.png", "dog/img1__aug001.png", "dog/img1__aug002.png",
        "dog/img2.png", "dog/img2__aug001.png", "dog/img2__aug002.png",
    ]  # fmt: skip
    assert (out / "cat/img1.png").read_bytes() == (tree / "cat/img1.png").read_bytes()
    rows = manifest_rows(out)
    assert list(rows[0]) == [
        "output", "source", "class", "split", "copy", "seed", "status", "error", "partner", "bytes", "sha256",
        "labels", "labels_sha256", "objects", "shard",
    ]  # fmt: skip
    written = (out / "cat/img1__aug001.png").read_bytes()
    assert rows[1] == {
        "output": "cat/img1__aug001.png",
        "source": "cat/img1.png",
        "class": "cat",
        "split": "",
        "copy": "1",
        "seed": str(result.plan.jobs[0].outputs[1].seed),
        "status": "ok",
        "error": "",
        "partner": "",
        "bytes": str(len(written)),
        "sha256": hashlib.sha256(written).hexdigest(),
        "labels": "",
        "labels_sha256": "",
        "objects": "",
        "shard": "",
    }
    assert len(rows) == 15 and {r["status"] for r in rows} == {"ok"}
    summary = json.loads((out / "expander.json").read_text())
    assert summary["status"] == "complete" and summary["schema"] == 1
    assert summary["totals"] == {
        "planned": 15, "written": 15, "resumed": 0, "failed_outputs": 0, "failed_sources": 0, "empty_copies": 0,
    }  # fmt: skip
    assert summary["labels"] is None  # class folders
    assert summary["counts"] == [
        {"split": None, "class": "cat", "originals": 3, "new": 6, "failed": 0, "total": 9},
        {"split": None, "class": "dog", "originals": 2, "new": 4, "failed": 0, "total": 6},
    ]
    assert summary["pipeline"]["transform"]["transforms"][0]["__class_fullname__"] == "Affine"
    assert set(summary["versions"]) == {"python", "expander", "albumentations", "opencv-python-headless", "numpy"}
    assert summary["arguments"]["seed"] == 5 and summary["arguments"]["preset"] == "keras"


@pytest.mark.parametrize("preset", ["keras", "trivial"])
def test_outputs_are_byte_identical_for_any_worker_count_and_rerun(tmp_path: Path, preset: str) -> None:
    src = make_tree(tmp_path / "src", {"a": 4, "b": 3}, ext=".jpg")
    write_image(src / "a" / "gray.png", shape=(13, 17))
    digests = []
    for name, workers in (("w1", 1), ("w2", 2), ("w2again", 2)):
        expand(src, tmp_path / name, per_image=3, preset=preset, workers=workers, seed=11)
        digest = tree_digest(tmp_path / name)
        digest.pop("expander.json")  # holds timings and the worker count
        digests.append(digest)
    assert len(digests[0]) == 8 * 4 + 1
    assert digests[0] == digests[1] == digests[2]


def test_different_seeds_give_different_images(tree: Path, tmp_path: Path) -> None:
    expand(tree, tmp_path / "s0", per_image=1, seed=0)
    expand(tree, tmp_path / "s1", per_image=1, seed=1)
    a, b = tree_digest(tmp_path / "s0"), tree_digest(tmp_path / "s1")
    assert a["cat/img1.png"] == b["cat/img1.png"]
    assert a["cat/img1__aug001.png"] != b["cat/img1__aug001.png"]


def test_split_layout_augments_train_and_copies_val_test_unchanged(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 2, "train/b": 1, "val/a": 2, "test/b": 2}, ext=".jpg")
    out = tmp_path / "out"
    expand(src, out, per_image=2)
    written, source = tree_digest(out), tree_digest(src)
    for rel in ("val/a/img1.jpg", "val/a/img2.jpg", "test/b/img1.jpg", "test/b/img2.jpg"):
        assert written[rel] == source[rel]
    assert images_under(out / "val") == ["a/img1.jpg", "a/img2.jpg"]
    assert images_under(out / "test") == ["b/img1.jpg", "b/img2.jpg"]
    assert len(images_under(out / "train")) == 3 * 3


def test_balance_and_target_per_class_counts(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 6, "b": 2, "c": 1})
    expand(src, tmp_path / "bal", balance=True)
    assert {c: len(images_under(tmp_path / "bal" / c)) for c in "abc"} == {"a": 6, "b": 6, "c": 6}
    expand(src, tmp_path / "tgt", target_per_class=4, classes=["b", "c"])
    assert {c: len(images_under(tmp_path / "tgt" / c)) for c in "abc"} == {"a": 6, "b": 4, "c": 4}


def test_classes_and_no_originals(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(tree, out, per_image=3, classes=["dog"], originals=False)
    assert images_under(out) == [f"dog/img{i}__aug00{k}.png" for i in (1, 2) for k in (1, 2, 3)]


def test_format_quality_and_size(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(tree, out, per_image=1, format="jpg", quality=80, size="8x6")
    assert (out / "cat/img1__aug001.jpg").exists()
    for path in (out / "cat/img1__aug001.jpg", out / "cat/img1.png"):
        assert cv2.imread(str(path)).shape == (6, 8, 3)


def test_dry_run_writes_nothing(tree: Path, tmp_path: Path) -> None:
    result = expand(tree, tmp_path / "out", per_image=4, dry_run=True)
    assert result.status == "dry-run"
    assert [(r["class"], r["originals"], r["new"], r["total"]) for r in result.to_dict()["plan"]] == [
        ("cat", 3, 12, 15),
        ("dog", 2, 8, 10),
    ]
    assert not (tmp_path / "out").exists()


def make_bad_input_tree(root: Path) -> dict[str, str]:
    """The bad-input battery. Returns file name -> expected error fragment for the bad ones."""
    cat = root / "cat"
    write_image(cat / "good.jpg")
    good = (cat / "good.jpg").read_bytes()
    (cat / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (cat / "zero.jpg").write_bytes(b"")
    (cat / "text.jpg").write_text("I am not a JPEG")
    write_image(cat / "rgba.png", shape=(13, 17, 4))
    write_image(cat / "deep16.png", shape=(13, 17, 3), dtype=np.uint16)
    write_image(cat / "gray.png", shape=(13, 17))
    write_image(cat / "ünïcode name.png")
    pixels = np.zeros((10, 20, 3), np.uint8)
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(cat / "exif.jpg", exif=exif)
    return {
        "cat/truncated.jpg": "not a decodable image",
        "cat/zero.jpg": "empty file (0 bytes)",
        "cat/text.jpg": "not a decodable image",
    }


def test_bad_inputs_are_recorded_skipped_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    bad = make_bad_input_tree(src)
    before = tree_digest(src)
    out = tmp_path / "out"

    result = expand(src, out, per_image=2, workers=2)

    assert result.exit_code == 1
    assert {f["source"]: f["error"] for f in result.failures} == {
        k: v + (" (corrupt, truncated, or not the format its extension says)" if "decodable" in v else "")
        for k, v in bad.items()
    }
    failed_rows = [r for r in manifest_rows(out) if r["status"] == "failed"]
    assert sorted({r["source"] for r in failed_rows}) == sorted(bad)
    assert len(failed_rows) == 3 * 3  # original + 2 copies of each bad source, none written
    assert not any((out / r["output"]).exists() for r in failed_rows)

    def load(name: str) -> np.ndarray:
        return cv2.imread(str(out / "cat" / name), cv2.IMREAD_UNCHANGED)

    assert load("rgba__aug001.png").shape == (13, 17, 4)
    assert load("deep16__aug001.png").dtype == np.uint16
    assert load("gray__aug001.png").shape == (13, 17)
    assert load("exif__aug001.jpg").shape[:2] == (20, 10)  # EXIF rotation applied before augmenting
    assert (out / "cat" / "ünïcode name__aug002.png").exists()
    assert tree_digest(src) == before  # the input folder is never modified


def test_output_inside_source_is_refused(tree: Path) -> None:
    for out in (tree / "expanded", tree):
        with pytest.raises(OutputError, match="is inside the source folder"):
            expand(tree, out, per_image=1)
    assert sorted(p.name for p in tree.iterdir()) == ["cat", "dog"]


def test_non_empty_output_needs_resume_or_overwrite(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"is not empty\. Use --resume .* --overwrite .* or choose another --out"):
        expand(tree, out, per_image=1)
    with pytest.raises(OutputError, match=r"Refusing to overwrite .* not written by expander"):
        expand(tree, out, per_image=1, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"

    other = tmp_path / "other"
    expand(tree, other, per_image=2)
    expand(tree, other, per_image=1, overwrite=True)
    assert len(images_under(other)) == 10


def test_resume_refuses_different_arguments(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expand(tree, out, per_image=1, seed=1)
    with pytest.raises(OutputError, match="written with different per_image, seed"):
        expand(tree, out, per_image=2, seed=2, resume=True)


def test_resume_after_a_kill_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": 30, "b": 30}, ext=".jpg", shape=(360, 480, 3))  # slow enough to kill
    reference = tmp_path / "reference"
    expand(src, reference, per_image=8, workers=1)

    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "expander",
        "expand",
        str(src),
        "-o",
        str(out),
        "--per-image",
        "8",
        "-j",
        "2",
        "-q",
    ]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(images_under(out)) < 60 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: main process and workers
    process.wait()
    written = len(images_under(out))
    assert 0 < written < 60 * 9, "the kill must land mid-run for this test to mean anything"
    assert not (out / "manifest.csv").exists()

    result = expand(src, out, per_image=8, workers=2, resume=True)

    assert result.to_dict()["totals"]["resumed"] >= written - 2  # files renamed into place after the count
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))
    finished, expected = tree_digest(out), tree_digest(reference)
    finished.pop("expander.json")
    expected.pop("expander.json")
    assert finished == expected


def test_keras_loads_the_expanded_folder(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    out = tmp_path / "out"
    expand(SAMPLE, out, per_image=1, workers=2)
    train = keras.utils.image_dataset_from_directory(
        out / "train", image_size=(28, 28), color_mode="grayscale", batch_size=32, shuffle=False
    )
    assert train.class_names == ["sneaker", "trouser", "tshirt"]
    assert sum(int(x.shape[0]) for x, _ in train) == (60 + 30 + 15) * 2


def test_a_parent_that_used_opencv_threads_can_still_run_a_pool(tree: Path, tmp_path: Path) -> None:
    # With the fork start method this deadlocked: the child inherited OpenCV's busy thread pool.
    code = (
        "import cv2, numpy as np, sys\n"
        "cv2.setNumThreads(4)\n"
        "for _ in range(20): cv2.GaussianBlur(np.zeros((2000, 2000, 3), np.uint8), (31, 31), 0)\n"
        "from expander import expand\n"
        "r = expand(sys.argv[1], sys.argv[2], per_image=2, workers=2)\n"
        "print(r.to_dict()['totals']['written'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(tmp_path / "out")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "15"


def test_library_and_cli_take_the_same_process_start_path() -> None:
    # numpy loaded with OpenBLAS threads (as in any library caller) still forks: OpenBLAS stops its threads
    # around a fork. Any other thread (OpenCV's pool, TensorFlow's, a caller's own) could hold a lock a
    # forked child inherits, so then the fork server starts workers.
    code = (
        "import threading, numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from expander.pool import _context\n"
        "print(sum(p['num_threads'] for p in threadpool_info() if p['internal_api'] == 'openblas') > 1)\n"
        "print(_context([]).get_start_method())\n"
        "stop = threading.Event(); threading.Thread(target=stop.wait).start()\n"
        "print(_context([]).get_start_method()); stop.set()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.split() == ["True", "fork", "forkserver"], done.stderr


def test_an_output_that_cannot_be_created_is_a_clear_error(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    message = r"Cannot create output folder '.*file/out': Not a directory\. Choose a writable --out\."
    with pytest.raises(OutputError, match=message):
        expand(tree, tmp_path / "file" / "out", per_image=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "--workers must be 1 or more; got 0."),
        ({"quality": 0}, "--quality must be between 1 and 100; got 0."),
        ({"format": "gif"}, "--format must be one of jpg, png, webp; got 'gif'."),
        ({"size": "64"}, "--size must be WIDTHxHEIGHT with positive integers, e.g. 64x64; got '64'."),
        ({"preset": "keras", "pipeline": "p.json"}, "Give either --preset or --pipeline, not both."),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tree: Path, tmp_path: Path, kwargs: dict, message: str
) -> None:
    with pytest.raises(ExpanderError) as e:
        expand(tree, tmp_path / "out", per_image=1, **kwargs)
    assert str(e.value) == message
    assert not (tmp_path / "out").exists()


def test_result_records_are_the_manifest_rows(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_bad_input_tree(src)
    result = expand(src, tmp_path / "out", per_image=1, workers=1)
    rows = manifest_rows(tmp_path / "out")
    assert [(r.output, r.status, r.error) for r in result.records()] == [
        (row["output"], row["status"], row["error"]) for row in rows
    ]
    assert sorted(result.failed) == sorted(row["output"] for row in rows if row["status"] == "failed")
    assert result.written == {row["output"] for row in rows if row["status"] == "ok"}


@pytest.mark.parametrize("how", ["script without a main guard", "script on stdin"])
def test_library_calls_from_plain_scripts_do_not_rerun_the_script_in_workers(
    tree: Path, tmp_path: Path, how: str
) -> None:
    # Workers start with forkserver, which would re-run the caller's __main__ in every worker.
    code = (
        "from expander import expand\n"
        f"result = expand({str(tree)!r}, {str(tmp_path / 'out')!r}, per_image=2, workers=2)\n"
        "print('WRITTEN', result.to_dict()['totals']['written'])\n"
    )
    if how == "script on stdin":
        command, stdin = [sys.executable, "-"], code
    else:
        (tmp_path / "run.py").write_text(code)
        command, stdin = [sys.executable, str(tmp_path / "run.py")], None
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["WRITTEN 15"]


def test_backend_ray_without_ray_installed_says_how_to_install(tree: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra looks like
    with pytest.raises(ExpanderError) as error:
        expand(tree, tmp_path / "out", backend="ray")
    assert str(error.value) == (
        "--backend ray needs Ray, which is not installed. Install it with: "
        "pip install 'dataset-expander[ray]' (in a checkout: pip install -e '.[ray]')"
    )
    assert not (tmp_path / "out").exists()


def test_large_photos_with_size_are_byte_identical_across_workers_and_replay(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(3):
        small = np.random.default_rng(i).integers(0, 255, (9, 12, 3), dtype=np.uint8)
        write_jpeg = cv2.resize(small, (1440, 1080), interpolation=cv2.INTER_CUBIC)
        (src / "a").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(src / "a" / f"big{i}.jpg"), write_jpeg)
    one, two = tmp_path / "w1", tmp_path / "w2"
    expand(src, one, per_image=3, workers=1, size="224x160")
    expand(src, two, per_image=3, workers=2, size="224x160")
    first, second = tree_digest(one), tree_digest(two)
    first.pop("expander.json"), second.pop("expander.json")
    assert first == second and len(first) == 3 * 4 + 1
    assert cv2.imread(str(one / "a" / "big0__aug001.jpg")).shape == (160, 224, 3)
    from expander.verify import verify

    report = verify(one, replay=12)
    assert report["ok"] and len(report["replayed"]) == 12


def test_a_valid_split_is_recognised_and_copied_unchanged(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 2, "valid/a": 1, "test/a": 1})
    result = expand(src, tmp_path / "out", per_image=1, workers=1)
    assert [(r["split"], r["augmented"]) for r in result.to_dict()["plan"]] == [
        ("train", True), ("valid", False), ("test", False),
    ]  # fmt: skip
    assert (tmp_path / "out" / "valid" / "a" / "img1.png").read_bytes() == (src / "valid/a/img1.png").read_bytes()
    assert not list((tmp_path / "out" / "valid").rglob("*__aug*"))


def test_overwrite_into_a_folder_that_does_not_exist_yet_just_writes(tree: Path, tmp_path: Path) -> None:
    # A script that always passes --overwrite must work on its first run too (it was refused: "its
    # manifest.csv cannot be read").
    out = tmp_path / "new"
    result = expand(tree, out, per_image=1, workers=1, overwrite=True)
    assert result.exit_code == 0 and result.to_dict()["totals"]["written"] == 10
    assert expand(tree, out, per_image=1, workers=1, overwrite=True).to_dict()["totals"]["written"] == 10
