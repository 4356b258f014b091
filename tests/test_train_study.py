"""train ablate / curve on sample_data with the tiny model: reports, resuming, and no leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE
from typer.testing import CliRunner

import train.runs
import train.study
from expander.manifest import read_manifest
from train.cli import app
from train.errors import TrainError
from train.fit import FitConfig
from train.stats import BASELINE
from train.store import StudyStore
from train.study import ablate, copies, curve, load_study_data, plan_runs

TINY = FitConfig(model="tiny", image_size=28, epochs=2, batch_size=32)
runner = CliRunner()


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("study")


@pytest.fixture(scope="module")
def ablation(study_dir: Path) -> dict:
    return ablate(SAMPLE, presets=["noise"], per_image=1, out=study_dir / "ablate", config=TINY, seeds=2, workers=1)


class FitCounter:
    """Stands in for fit_one: counts calls and forwards to the real one."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def test_ablation_report_has_the_documented_fields(ablation: dict, study_dir: Path) -> None:
    out = study_dir / "ablate"
    assert sorted(p.name for p in out.iterdir()) == ["ablation.png", "curves.png", "report.json", "report.md", "store"]
    assert json.loads((out / "report.json").read_text()) == ablation
    assert set(ablation) == {"study", "arguments", "versions", "data", "arms", "verdict", "runs"}
    assert ablation["study"] == "ablate" and ablation["arguments"]["presets"] == ["noise"]
    assert ablation["arguments"]["store"] == str((out / "store").resolve())
    data = ablation["data"]
    assert data["test_source"] == "test/ split of ORIGINAL"
    assert data["available_per_class"] == {"sneaker": 15, "trouser": 30, "tshirt": 60}
    assert data["test"] == {"sneaker": 20, "trouser": 20, "tshirt": 20}
    assert data["subsets"] == [
        {
            "per_class": {"sneaker": 15, "trouser": 30, "tshirt": 60},
            "train": {"sneaker": 12, "trouser": 24, "tshirt": 48},
            "val": {"sneaker": 3, "trouser": 6, "tshirt": 12},
        }
    ]
    arms = {a["arm"]: a for a in ablation["arms"]}
    assert set(arms) == {BASELINE, "noise"}
    assert sorted(a["rank"] for a in ablation["arms"]) == [1, 2]
    assert ablation["arms"][0]["accuracy"]["mean"] >= ablation["arms"][1]["accuracy"]["mean"]
    assert arms[BASELINE]["train_images"] == 84 and arms["noise"]["train_images"] == 168
    assert arms[BASELINE]["difference"] is None and arms[BASELINE]["effect"] is None
    noise = arms["noise"]
    assert noise["effect"] in {"helped", "hurt", "unclear"}
    assert set(noise["recall"]) == {"sneaker", "trouser", "tshirt"}
    assert len(noise["accuracy"]["values"]) == 2 and len(noise["difference"]["accuracy"]["ci95"]) == 2
    expected = [a - b for a, b in zip(noise["accuracy"]["values"], arms[BASELINE]["accuracy"]["values"], strict=True)]
    assert noise["difference"]["accuracy"]["mean"] == pytest.approx(sum(expected) / 2)
    assert [(r["arm"], r["seed"], r["reused"]) for r in ablation["runs"]] == [
        (BASELINE, 0, False), ("noise", 0, False), (BASELINE, 1, False), ("noise", 1, False),
    ]  # fmt: skip
    markdown = (out / "report.md").read_text()
    assert f"**Verdict.** {ablation['verdict']}" in markdown and "![test accuracy per arm](ablation.png)" in markdown
    assert (
        "| rank | arm | train images | accuracy (%) | vs baseline [95% CI] | at last epoch (%) | ECE (%) |" in markdown
    )


def test_a_second_invocation_reuses_every_finished_run(ablation: dict, study_dir: Path, monkeypatch) -> None:
    runs = sorted((study_dir / "ablate" / "store" / "runs").iterdir())
    assert len(runs) == 4
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    counter = FitCounter(train.runs.fit_one)
    monkeypatch.setattr(train.runs, "fit_one", counter)

    again = ablate(SAMPLE, presets=["noise"], per_image=1, out=study_dir / "ablate", config=TINY, seeds=2, workers=1)
    assert counter.calls == 0
    assert [r["reused"] for r in again["runs"]] == [True] * 4
    assert [r["test"] for r in again["runs"]] == [r["test"] for r in ablation["runs"]]
    assert {p: p.stat().st_mtime_ns for p in runs} == stamps

    # One more preset and one missing run: only those are trained.
    runs[0].unlink()
    more = ablate(SAMPLE, presets=["noise", "keras"], per_image=1, out=study_dir / "ablate2",
                  store=study_dir / "ablate" / "store", config=TINY, seeds=2, workers=1)  # fmt: skip
    assert counter.calls == 3  # keras x 2 seeds + the deleted run
    assert sum(not r["reused"] for r in more["runs"]) == 3 and len(more["runs"]) == 6


def test_no_arm_ever_trains_on_a_test_or_validation_image(tmp_path: Path) -> None:
    data = load_study_data(SAMPLE, per_class=[8, 15])
    specs = plan_runs(data, [BASELINE, "keras"], [0], StudyStore(tmp_path / "store"), per_image=2, workers=1)
    test_paths = {s.path for s in data.test}
    assert len(test_paths) == 60 and len(specs) == 4
    for spec in specs:
        subset = data.subsets[spec.subset]
        held = test_paths | {s.path for s in subset.val}
        originals = {s.path for s in subset.train}
        size, val_per_class = (8, 2) if spec.subset == 0 else (15, 3)  # 20% of 8 and 15, rounded
        assert len(subset.val) == 3 * val_per_class and len(subset.train) == 3 * (size - val_per_class)
        # Every training file is a training original or an expander copy whose source is one.
        resolved = {str(Path(s.path).resolve()) for s in spec.train}
        assert not resolved & held
        copies = [s for s in spec.train if s.path not in originals]
        assert len(copies) == (0 if spec.arm == BASELINE else 2 * len(subset.train))
        if copies:
            folder = Path(copies[0].path).parent.parent
            subset_folder = Path(json.loads((folder / "expander.json").read_text())["source"])
            sources = {str((subset_folder / row["source"]).resolve()) for row in read_manifest(folder)}
            assert sources == originals


def test_curve_subsets_are_nested_and_stratified() -> None:
    data = load_study_data(SAMPLE, per_class=[5, 10, 15])
    assert [s.per_class for s in data.subsets] == [
        dict.fromkeys(("sneaker", "trouser", "tshirt"), n) for n in (5, 10, 15)
    ]
    chosen = [{s.path for s in subset.train + subset.val} for subset in data.subsets]
    assert [len(c) for c in chosen] == [15, 30, 45]
    assert chosen[0] < chosen[1] < chosen[2]
    fractions = load_study_data(SAMPLE, fractions=[0.5, 1.0])
    assert [s.per_class for s in fractions.subsets] == [
        {"sneaker": 8, "trouser": 15, "tshirt": 30},
        {"sneaker": 15, "trouser": 30, "tshirt": 60},
    ]


def test_curve_report(study_dir: Path) -> None:
    report = curve(SAMPLE, per_class=[8, 15], preset="noise", per_image=1, out=study_dir / "curve",
                   store=study_dir / "ablate" / "store", config=TINY, seeds=2, workers=1)  # fmt: skip
    assert sorted(p.name for p in (study_dir / "curve").iterdir()) == ["curve.png", "report.json", "report.md"]
    assert set(report) == {"study", "arguments", "versions", "data", "points", "verdict", "runs"}
    assert [(p["size"], p["train_originals"], p["val"]) for p in report["points"]] == [(8, 18, 6), (15, 36, 9)]
    point = report["points"][1]
    assert set(point) == {
        "size", "per_class", "per_class_equal", "fraction", "train_originals", "val",
        "baseline", "expanded", "difference", "effect",
    }  # fmt: skip
    assert point["baseline"]["train_images"] == 36 and point["expanded"]["train_images"] == 72
    assert len(point["difference"]["accuracy"]["ci95"]) == 2
    assert len(report["runs"]) == 8 and report["verdict"].startswith("Expanding with 'noise'")
    assert "![test accuracy against training-set size](curve.png)" in (study_dir / "curve" / "report.md").read_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_class": [20]}, "--per-class 20 asks for more images than class 'sneaker' has for training (15)."),
        ({"per_class": [10, 5]}, "--per-class must be positive and increasing; got 10, 5."),
        ({"fractions": [0.5, 1.5]}, "--fractions must be in (0, 1]; got 0.5, 1.5."),
        ({"per_class": [5], "fractions": [0.5]}, "Give either --per-class or --fractions, not both."),
    ],
)
def test_bad_sizes_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainError) as error:
        load_study_data(SAMPLE, **kwargs)
    assert message in str(error.value)


def test_cli_errors_and_json(ablation: dict, study_dir: Path) -> None:
    bad = runner.invoke(app, ["ablate", str(SAMPLE), "--presets", "keras,flipz", "-q"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: Unknown preset(s): flipz. Valid presets: keras, traditional,")

    bad = runner.invoke(app, ["curve", str(SAMPLE), "--per-class", "5,x", "-q"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: --per-class expects a comma-separated list of ints; got '5,x'.\n"

    args = ["ablate", str(SAMPLE), "--presets", "noise", "--per-image", "1", "--model", "tiny", "--image-size", "28"]
    args += ["--epochs", "2", "--seeds", "2", "--workers", "1", "--out", str(study_dir / "ablate"), "--json", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output

    def scores(arms: list[dict]) -> list[tuple]:  # train_seconds differ: a test above retrains one run
        return [(a["arm"], a["rank"], a["accuracy"], a["macro_f1"], a["recall"], a["difference"]) for a in arms]

    assert scores(json.loads(result.stdout)["arms"]) == scores(json.loads(json.dumps(ablation["arms"])))


def test_a_damaged_stored_run_counts_as_missing(tmp_path: Path) -> None:
    store = StudyStore(tmp_path / "store")
    store.save_run("k1", {"seed": 0}, {"test": {"accuracy": 0.5}})
    assert store.load_run("k1") == {"test": {"accuracy": 0.5}}
    for damage in ("{", "[]", '{"version": 1}', '{"version": 99, "record": {}}', ""):
        store.run_path("k1").write_text(damage)
        assert store.load_run("k1") is None, damage  # trained again and written over
    assert store.load_run("never-saved") is None


def test_a_store_that_cannot_be_a_folder_is_exit_2_before_any_training(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    (tmp_path / "afile").write_text("")
    store = tmp_path / "afile" / "store"
    result = CliRunner().invoke(app, ["compare", str(SAMPLE), str(SAMPLE), "--out", str(tmp_path / "run"),
                                      "--store", str(store), "--model", "tiny", "--epochs", "1", "-q"])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Cannot keep runs in --store '{store}': '{tmp_path / 'afile'}' is a file, not a folder. "
        "Choose another --store.\n"
    )
    assert not (tmp_path / "run").exists()  # refused before anything was trained or written


@pytest.fixture(scope="module")
def copies_study(study_dir: Path) -> dict:
    return copies(SAMPLE, copies=[1, 2], preset="noise", out=study_dir / "copies", config=TINY, seeds=2, workers=1)


def test_copies_study_trains_every_arm_at_equal_steps(copies_study: dict, study_dir: Path) -> None:
    out = study_dir / "copies"
    assert sorted(p.name for p in out.iterdir()) == ["copies.png", "curves.png", "report.json", "report.md", "store"]
    assert json.loads((out / "report.json").read_text()) == copies_study
    assert set(copies_study) == {"study", "arguments", "versions", "data", "expansion_costs", "arms",
                                 "match_points", "matches_on_the_fly", "runs", "verdict"}  # fmt: skip
    args = copies_study["arguments"]
    chosen = (args["copies"], args["cycle"], args["preset"], args["epoch_images"], args["online"])
    assert chosen == ([1, 2], 2, "noise", 84, None)
    arms = {a["arm"]: a for a in copies_study["arms"]}
    assert list(arms) == ["on the fly", "offline x1", "offline x2", "cycle x2"]
    assert [(a["copies"], a["train_images"]) for a in arms.values()] == [(0, 84), (1, 168), (2, 252), (2, 84)]
    assert arms["on the fly"]["vs_on_the_fly"] is None
    assert all(len(a["vs_on_the_fly"]["accuracy"]["ci95"]) == 2 for a in list(arms.values())[1:])
    assert [(r["arm"], r["seed"]) for r in copies_study["runs"]] == [
        (arm, seed) for seed in (0, 1) for arm in arms
    ]  # fmt: skip
    # Equal steps: every run's epochs are 84 images long, whatever its training set.
    stored = [json.loads(p.read_text()) for p in sorted((out / "store" / "runs").iterdir())]
    assert len(stored) == 8 and {s["spec"]["config"]["epoch_images"] for s in stored} == {84}
    onlines = sorted(str(s["spec"]["config"]["online"]) for s in stored)
    assert onlines == ["None"] * 6 + ["noise"] * 2
    assert sum("views" in s["spec"] for s in stored) == 2  # the cycling runs, keyed by their copies
    # Augmentation: on the fly pays in every run; offline paid once, per copy.
    cpu = {arm: a["augment_cpu_seconds"] for arm, a in arms.items()}
    assert cpu["on the fly"]["once"] is None and cpu["on the fly"]["per_run"] > 0
    assert [cpu[a]["per_run"] for a in ("offline x1", "offline x2", "cycle x2")] == [0.0, 0.0, 0.0]
    assert cpu["offline x2"]["once"] == pytest.approx(2 * cpu["offline x1"]["once"]) and cpu["offline x1"]["once"] > 0
    assert [c["resumed"] for c in copies_study["expansion_costs"]] == [False, False]
    assert copies_study["matches_on_the_fly"] == train.study._first_match(copies_study["arms"])
    markdown = (out / "report.md").read_text()
    assert f"**Verdict.** {copies_study['verdict']}" in markdown and copies_study["verdict"].startswith("On the fly:")
    assert "| arm | train images | accuracy (%) | vs on the fly [95% CI] | s/epoch |" in markdown


def test_copies_views_are_copy_k_of_every_training_image_in_order(copies_study: dict, study_dir: Path) -> None:
    data = load_study_data(SAMPLE)
    train_set = data.subsets[0].train
    store = StudyStore(study_dir / "copies" / "store")
    views = store.copies(train_set, data.classes, preset="noise", per_image=2, seed=1, workers=1)
    assert len(views) == 2
    for k, view in enumerate(views, 1):
        assert [(s.label, s.key) for s in view] == [(s.label, s.key) for s in train_set]
        assert [Path(s.path).name for s in view] == [f"{Path(s.path).stem}__aug00{k}.png" for s in train_set]
    assert not set(views[0]) & set(views[1])


def test_copies_study_resumes_without_training(copies_study: dict, study_dir: Path, monkeypatch) -> None:
    counter = FitCounter(train.runs.fit_one)
    monkeypatch.setattr(train.runs, "fit_one", counter)
    again = copies(SAMPLE, copies=[1, 2], preset="noise", out=study_dir / "copies", config=TINY, seeds=2, workers=1)
    assert counter.calls == 0 and [r["reused"] for r in again["runs"]] == [True] * 8
    assert [a["accuracy"] for a in again["arms"]] == [a["accuracy"] for a in copies_study["arms"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--copies", "2,1"], "Error: --copies must be positive and increasing; got 2, 1.\n"),
        (["--copies", "", "--cycle", "0"], "Error: Give --copies (e.g. 1,2,5,10,20), --cycle K, or both.\n"),
        (["--preset", "flipz"], "Error: Unknown preset(s): flipz. Valid presets: "),
    ],
)
def test_copies_cli_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["copies", str(SAMPLE), "--out", str(tmp_path / "out"), "-q", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert not (tmp_path / "out").exists()


def test_an_offline_arm_matches_on_the_fly_within_a_point_and_its_interval() -> None:
    def arm(name: str, mean: float, low: float, high: float) -> dict:
        return {"arm": name, "vs_on_the_fly": {"accuracy": {"mean": mean, "ci95": [low, high]}}}

    fly = {"arm": "on the fly", "vs_on_the_fly": None}
    wide_but_far = arm("offline x1", -0.066, -0.147, 0.015)  # the interval reaches zero, the mean is 6.6 points off
    edge = arm("offline x5", 0.744 - 0.754, -0.067, 0.047)  # exactly 1 point below (k/1000 accuracies)
    assert train.study._first_match([fly, wide_but_far, edge, arm("offline x10", 0.001, -0.06, 0.06)]) == "offline x5"
    assert train.study._first_match([fly, wide_but_far, arm("offline x5", -0.02, -0.05, 0.01)]) is None
    assert train.study._first_match([fly, arm("offline x2", 0.03, 0.01, 0.05)]) == "offline x2"  # better: a match
    assert train.study._first_match([fly, arm("cycle x20", 0.0, -0.01, 0.01)]) is None  # only offline arms


def test_the_same_images_in_another_order_are_another_run(tmp_path: Path) -> None:
    # A run's batches are seeded permutations of its training set in its order, so the order is part of the
    # run's key: a store must not hand one order's numbers to another (compare and search order differently).
    data = load_study_data(SAMPLE, None, val_fraction=0.2, test_fraction=0.2)
    subset = data.subsets[0]
    spec = train.runs.RunSpec(BASELINE, 0, 0, subset.train, subset.val, ())
    turned = train.runs.RunSpec(BASELINE, 0, 0, tuple(reversed(subset.train)), subset.val, ())
    one = FitConfig(model="tiny", image_size=28, epochs=1, batch_size=32)
    first, second = train.runs.run_all([spec, turned], data.classes, one, StudyStore(tmp_path))
    assert first["key"] != second["key"] and not first["reused"] and not second["reused"]
    assert first["history"][0]["loss"] != second["history"][0]["loss"]
    (again,) = train.runs.run_all([turned], data.classes, one, StudyStore(tmp_path))
    assert again["reused"] and again["history"] == second["history"]


def _numbers(run: dict) -> dict:
    """A run's figures without its timings (which differ between any two runs)."""
    timing = {"seconds", "images_per_s"}
    history = [{k: v for k, v in epoch.items() if k not in timing} for epoch in run["history"]]
    return {"key": run["key"], "history": history, "test": run["test"], "best_epoch": run["best_epoch"]}


def test_runs_trained_in_parallel_processes_give_the_same_numbers_again_and_when_resumed(
    tmp_path: Path, monkeypatch
) -> None:
    """The default choice (no --parallel) on a machine of 2 cores where the work repays two processes: two at
    once, one thread each; a resume with one run lost chooses the same from the command and the machine, not
    from the one run left, so that run trains on one thread again and gives the same numbers."""
    monkeypatch.setattr(train.runs, "default_workers", lambda: 2)
    monkeypatch.setattr(train.runs, "WORKER_WORK", 1)
    data = load_study_data(SAMPLE, None, val_fraction=0.2, test_fraction=0.2)
    subset = data.subsets[0]
    specs = [train.runs.RunSpec(BASELINE, 0, seed, subset.train, subset.val, data.test) for seed in (0, 1, 2)]
    one = FitConfig(model="tiny", image_size=28, epochs=2, batch_size=32)
    together = train.runs.run_all(specs, data.classes, one, StudyStore(tmp_path / "together"))
    assert [r["threads"] for r in together] == [1] * 3 and not any(r["reused"] for r in together)
    runs = sorted((tmp_path / "together" / "runs").glob("*.json"))
    assert len(runs) == 3  # each kept as it finished
    # Another store, and a resume with one run lost: the same numbers, in the specs' order.
    elsewhere = train.runs.run_all(specs, data.classes, one, StudyStore(tmp_path / "elsewhere"), parallel=2)
    assert [_numbers(r) for r in elsewhere] == [_numbers(r) for r in together]
    lost = next(r for r in together if r["seed"] == 1)
    (tmp_path / "together" / "runs" / f"{lost['key']}.json").unlink()
    resumed = train.runs.run_all(specs, data.classes, one, StudyStore(tmp_path / "together"))
    assert [r["reused"] for r in resumed] == [True, False, True]
    assert resumed[1]["threads"] == 1  # one run left, trained as the first try chose: not alone on 2 threads
    assert [_numbers(r) for r in resumed] == [_numbers(r) for r in together]
    # One by one, in this process on TensorFlow's own threads:
    alone = train.runs.run_all(specs[:1], data.classes, one, StudyStore(tmp_path / "alone"), parallel=1)
    assert alone[0]["threads"] is None and alone[0]["key"] == together[0]["key"]


def test_runs_at_once_by_default_one_per_core_as_far_as_runs_memory_and_work_allow(monkeypatch) -> None:
    monkeypatch.setattr(train.runs, "default_workers", lambda: 8)
    monkeypatch.setattr(train.runs, "memory", lambda: 24 << 30)
    recipe = 9 * 60 * 800  # the recipe study: 9 runs of 60 epochs of 800 images
    assert train.runs.runs_at_once(None, 9, recipe) == 8
    assert train.runs.runs_at_once(None, 3, recipe) == 3  # no more than the runs planned
    assert train.runs.runs_at_once(3, 9, recipe) == 3 and train.runs.runs_at_once(1, 9, recipe) == 1  # --parallel
    assert train.runs.runs_at_once(None, 9, 5 * train.runs.WORKER_WORK) == 5  # short runs: fewer processes
    assert train.runs.runs_at_once(None, 9, 100) == 1  # a quick study never pays for starting TensorFlow twice
    monkeypatch.setattr(train.runs, "memory", lambda: 7 << 30)
    assert train.runs.runs_at_once(None, 9, recipe) == 3  # 2 GiB each
    monkeypatch.setattr(train.runs, "memory", lambda: 1 << 30)
    assert train.runs.runs_at_once(None, 9, recipe) == 1


@pytest.mark.parametrize("command", ["ablate", "curve", "copies", "search", "fit", "augnet"])
def test_every_study_stops_on_a_training_image_that_is_a_test_image(tmp_path: Path, command: str) -> None:
    """The leak check of train compare holds for every study, fit and augnet: exit 2 before any training, naming
    the pair and the commands that fix it (--allow-leaks is the way through, as for compare)."""
    import shutil

    import cv2

    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    leaked = sorted((src / "test").rglob("*.png"))[0]
    copy = src / "train" / leaked.parent.name / "copy.png"
    cv2.imwrite(str(copy), cv2.imread(str(leaked), cv2.IMREAD_UNCHANGED))

    seeds = ["--seeds", "1"] if command not in ("fit", "augnet") else []
    result = CliRunner().invoke(app, [command, str(src), "--out", str(tmp_path / "out"), *seeds])

    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: 1 training image(s) of ORIGINAL show the same picture as a validation or "
                                    f"test image (e.g. '{copy}' and '{leaked}': exact): every metric would be "
                                    "inflated. Nothing was trained.")  # fmt: skip
    assert "--allow-leaks to train anyway" in result.stderr
    assert not list((tmp_path / "out").rglob("*.keras"))


def test_allow_leaks_keeps_the_study_data_with_the_leak_in_its_warnings(tmp_path: Path) -> None:
    import shutil

    import cv2

    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    leaked = sorted((src / "test").rglob("*.png"))[0]
    cv2.imwrite(str(src / "train" / leaked.parent.name / "copy.png"), cv2.imread(str(leaked), cv2.IMREAD_UNCHANGED))
    data = train.study.load_study_data(src, allow_leaks=True)
    assert len(data.warnings) == 1 and "so every metric here is inflated (--allow-leaks)" in data.warnings[0]
    assert train.study._data_summary(data)["warnings"] == list(data.warnings)
    clean = train.study.load_study_data(SAMPLE)
    assert clean.warnings == ()
