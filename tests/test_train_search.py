"""train search: a pilot, successive halving per kind on validation only, resuming from the store, a pipeline
expand accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE
from typer.testing import CliRunner

import train.fit
import train.runs
import train.search
import train.study_report
from expander.cli import app as expander_app
from expander.manifest import read_manifest
from expander.pipeline import load_pipeline_file
from train.cli import app
from train.errors import TrainError
from train.fit import FitConfig
from train.search import (
    Candidate,
    agrees,
    candidates,
    ladder,
    pilot_candidates,
    places,
    rank_agreement,
    rung_plan,
    search,
    spearman,
    timed_plan,
)

TINY = FitConfig(model="tiny", image_size=28, epochs=2, batch_size=32)
runner = CliRunner()


def test_rung_plan_spends_the_budget_from_all_candidates_down_to_one_per_kind() -> None:
    assert rung_plan([4], 20, 3, most=9) == [(4, 1), (2, 3), (1, 9)]  # 4*1 + 2*3 + 1*9 = 19 epochs
    # 6 offline and 3 on the fly: each kind is cut on its own (6 -> 2 -> 1, 3 -> 1 -> 1), down to one of each,
    # whose rung trains the full length: 9*5 + 3*10 + 2*10 = 95 epochs; a 6-epoch first rung would cost 104.
    assert rung_plan([6, 3], 100, 3, most=10) == [(9, 5), (3, 10), (2, 10)]
    assert rung_plan([6, 3], 1000, 3, most=10) == [(9, 10), (3, 10), (2, 10)]
    assert rung_plan([1, 1], 20, 3, most=5) == [(2, 5)]  # one of each kind: straight to the finalists
    assert rung_plan([0, 0], 0, 3, most=5) == []  # every candidate was in the pilot
    expected = r"--budget cannot train 9 candidates in 3 rung\(s\) \(eta 3\) from a 6-epoch first rung: it needs 104"
    with pytest.raises(TrainError, match=expected + r" epochs after the pilot, and 100 are left"):
        rung_plan([6, 3], 100, 3, most=10, least=6)


def test_the_pilot_takes_both_kinds_and_tries_shorter_lengths_shortest_first() -> None:
    pool = candidates(["traditional", "keras", "trivial"], [1.0], [0, 2, 5])
    names = [c.name for c in pilot_candidates(pool)]  # spread over offline (6), then on the fly (3)
    assert names == ["traditional x1, 2/image", "keras x1, 5/image", "trivial x1, 5/image", "trivial x1, on the fly"]
    assert pilot_candidates(pool[:3]) == [pool[1], pool[2], pool[0]]  # a small pool is all pilot, offline first
    assert ladder(60, 3) == [7, 20] and ladder(2, 3) == [1] and ladder(1, 3) == []


def test_places_and_spearman_follow_the_search_ranking() -> None:
    runs = [{"val_accuracy": 0.7, "val_loss": 0.5}, {"val_accuracy": 0.8, "val_loss": 0.6},
            {"val_accuracy": 0.7, "val_loss": 0.4}]  # fmt: skip
    assert places(runs) == [2, 0, 1]  # a tie on accuracy goes to the lower loss
    assert spearman([0, 1, 2, 3], [0, 1, 3, 2]) == pytest.approx(0.8)  # one swap of neighbours in four
    assert agrees(spearman([0, 1, 2, 3], [0, 1, 3, 2])) and not agrees(spearman([0, 1, 2, 3], [0, 2, 3, 1]))
    assert not agrees(None)
    assert spearman([0, 1, 2], [0, 2, 1]) == pytest.approx(0.5)
    assert spearman([0, 1], [0, 1]) is None and spearman([1, 1, 1], [0, 1, 2]) is None


class Recorder:
    """Stands in for train.fit.load_pixels: notes every file a run reads, forwards to the real one."""

    def __init__(self, real):
        self.real, self.paths = real, set()

    def __call__(self, samples, *args, **kwargs):
        self.paths |= {s.path for s in samples}
        return self.real(samples, *args, **kwargs)


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[dict, dict]:
    """One search, with the files it read before and during the final compare."""
    patch = pytest.MonkeyPatch()
    recorder = Recorder(train.fit.load_pixels)
    patch.setattr(train.fit, "load_pixels", recorder)
    touched = {}
    real_final = train.search.final_compare

    def final_compare(*args, **kwargs):
        touched["search"] = set(recorder.paths)
        result = real_final(*args, **kwargs)
        touched["final"] = recorder.paths - touched["search"]
        return result

    patch.setattr(train.search, "final_compare", final_compare)
    out = tmp_path_factory.mktemp("search") / "run"
    try:
        report = search(SAMPLE, presets=["noise", "keras"], magnitudes=[0.5, 1.5], per_image=[0, 1], budget=20,
                        out=out, config=TINY, seeds=2, workers=1)  # fmt: skip
    finally:
        patch.undo()
    return report, touched


def test_search_never_reads_a_test_image_before_the_final_compare(searched) -> None:
    _, touched = searched
    test_files = {str(p.resolve()) for p in (SAMPLE / "test").rglob("*.png")}
    train_files = {str(p.resolve()) for p in (SAMPLE / "train").rglob("*.png")}
    assert len(test_files) == 60 and len(train_files) == 105
    assert not touched["search"] & test_files
    originals = touched["search"] & train_files
    assert originals == train_files  # 84 training + 21 validation originals
    copies = touched["search"] - train_files
    assert copies and all("/store/expansions/" in p for p in copies)
    assert test_files <= touched["final"]  # the final compare reads the test images
    assert all("/store/expansions/" in p and "-s1/" in p for p in touched["final"] - test_files)  # seed 1's copies


def test_search_report_has_the_pilot_every_rung_and_the_finalists(searched) -> None:
    report, _ = searched
    pilot = report["pilot"]
    # 8 candidates: the pilot takes 2 offline and 2 on the fly, trains them 2 epochs (--epochs), then 1.
    assert pilot["candidates"] == ["noise x0.5, 1/image", "keras x0.5, 1/image", "noise x1.5, on the fly",
                                   "keras x1.5, on the fly"]  # fmt: skip
    assert [t["epochs"] for t in pilot["lengths"]] == [1] and pilot["first_rung"] == 1
    assert pilot["epochs_spent"] == 12
    short, full = pilot["lengths"][0]["results"], pilot["finals"]
    expected = train.search.spearman(places(short), places(full))
    assert pilot["lengths"][0]["spearman"] == expected and pilot["agreed"] == agrees(expected)
    # The other 4 (1 of each kind kept), then the survivors at the full length: 12 + 4*1 + 2*2 = 20 epochs.
    assert report["plan"] == [{"candidates": 4, "epochs": 1}, {"candidates": 2, "epochs": 2}]
    assert report["epochs_spent"] == 20
    first, last = report["rungs"][0]["results"], report["rungs"][1]["results"]
    assert sorted(r["candidate"] for r in first) == [
        "keras x0.5, on the fly", "keras x1.5, 1/image", "noise x0.5, on the fly", "noise x1.5, 1/image",
    ]  # fmt: skip
    assert {r["train_images"] for r in first if r["per_image"]} == {168} and {
        r["train_images"] for r in first if not r["per_image"]
    } == {84}  # 84 originals, + 1 copy each offline
    for kind in (0, 1):  # the best of each kind goes on, whatever the other kind scored
        assert [r["kept"] for r in first if r["per_image"] == kind] == [True, False]
    assert sorted(r["candidate"] for r in last) == sorted(r["candidate"] for r in first if r["kept"])
    for rung in report["rungs"]:
        assert places(rung["results"]) == list(range(len(rung["results"])))  # best first
    finalists = report["finalists"]
    assert sorted(r["candidate"] for r in finalists) == sorted(pilot["candidates"] + [r["candidate"] for r in last])
    assert places(finalists) == list(range(6))
    assert report["winner"]["name"] == finalists[0]["candidate"]
    final = report["final"]
    assert final["epochs"] == 2 and len(final["difference"]["accuracy"]["ci95"]) == 2
    assert [(r["arm"], r["seed"]) for r in report["runs"]] == [
        ("baseline", 0), (report["winner"]["name"], 0), ("baseline", 1), (report["winner"]["name"], 1),
    ]  # fmt: skip
    assert all(r["test"] is not None for r in report["runs"])
    out = Path(report["arguments"]["out"])
    assert sorted(p.name for p in out.iterdir()) == ["pipeline.json", "report.json", "report.md", "store"]
    markdown = (out / "report.md").read_text()
    assert f"**Verdict.** {report['verdict']}" in markdown
    assert "20 epochs of the budget's 20, the pilot's 12 included." in markdown
    assert f"{train.study_report.pilot_line(report)}\n" in markdown and "Pilot: 4 candidates at 2 epochs" in markdown


def test_the_winning_pipeline_file_is_what_expand_accepts(searched, tmp_path: Path) -> None:
    report, _ = searched
    winner = report["winner"]
    pipeline = Path(winner["pipeline"])
    candidate = Candidate(winner["preset"], winner["magnitude"], winner["per_image"])
    assert load_pipeline_file(pipeline) == candidate.pipeline()
    result = runner.invoke(expander_app, ["expand", str(SAMPLE), "-o", str(tmp_path / "x"), "--pipeline",
                                          str(pipeline), "--per-image", "1", "-j", "1", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_manifest(tmp_path / "x")
    assert sorted({(r["split"], r["copy"], r["status"]) for r in rows}) == [
        ("test", "original", "ok"), ("train", "1", "ok"), ("train", "original", "ok"),
    ]  # fmt: skip
    assert sum(r["copy"] == "1" for r in rows) == 105  # one copy of every training original
    assert json.loads((tmp_path / "x" / "expander.json").read_text())["pipeline"] == candidate.pipeline()


def test_search_resumes_from_its_store_without_retraining(searched, monkeypatch) -> None:
    report, _ = searched
    out = Path(report["arguments"]["out"])
    calls = []
    real = train.runs.fit_one
    monkeypatch.setattr(train.runs, "fit_one", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = search(SAMPLE, presets=["noise", "keras"], magnitudes=[0.5, 1.5], per_image=[0, 1], budget=20,
                   out=out, config=TINY, seeds=2, workers=1)  # fmt: skip
    assert calls == []
    assert all(r["reused"] for rung in again["rungs"] for r in rung["results"])
    assert again["winner"] == report["winner"] and again["final"] == report["final"]
    # Lose one finished run of the final compare (as if interrupted there): only it trains again, to the same numbers.
    key = next(r["key"] for r in again["runs"] if r["arm"] == "baseline")
    (out / "store" / "runs" / f"{key}.json").unlink()
    third = search(SAMPLE, presets=["noise", "keras"], magnitudes=[0.5, 1.5], per_image=[0, 1], budget=20,
                   out=out, config=TINY, seeds=2, workers=1)  # fmt: skip
    assert len(calls) == 1
    assert [r["test"] for r in third["runs"]] == [r["test"] for r in report["runs"]]


def test_search_cli_prints_the_final_table_and_the_pipeline(searched) -> None:
    report, _ = searched
    out = report["arguments"]["out"]
    args = ["search", str(SAMPLE), "--presets", "noise,keras", "--magnitudes", "0.5,1.5", "--per-image", "0,1",
            "--budget", "20", "--model", "tiny", "--image-size", "28", "--epochs", "2", "--seeds", "2",
            "--batch-size", "32", "--out", out, "--workers", "1", "-q"]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["metric", "no", "augmentation"]
    assert "Search runs: 14 (14 reused)." in result.stdout
    assert train.study_report.pilot_line(report) in result.stdout
    assert f"Pipeline: {report['winner']['pipeline']}" in result.stdout
    small = runner.invoke(app, [*args[:8], "--budget", "19", *args[10:]])  # refused before any training
    assert small.exit_code == 2
    assert (
        "--budget 19 epochs cannot pay for this search: the pilot alone trains at least 12 (4 candidates at "
        "--epochs 2, and shorter), and the whole search at least 20." in " ".join(small.stderr.split())
    )


def test_an_undecodable_image_is_named_and_left_out_not_a_crash(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "fm"
    shutil.copytree(SAMPLE, src)
    (src / "train" / "tshirt" / "broken.png").write_bytes(b"not a png")
    args = ["search", str(src), "--presets", "noise", "--magnitudes", "1", "--per-image", "1", "--budget", "2",
            "--model", "tiny", "--image-size", "28", "--epochs", "1", "--seeds", "1", "--out", str(tmp_path / "out"),
            "--workers", "1", "-q"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    broken = str((src / "train" / "tshirt" / "broken.png").resolve())
    assert [u["file"] for u in report["data"]["unreadable"]] == [broken]
    assert report["data"]["available_per_class"] == {"sneaker": 15, "trouser": 30, "tshirt": 60}
    assert f"- Left out because it does not decode: `{broken}`" in (tmp_path / "out" / "report.md").read_text()


def test_no_rung_trains_longer_than_the_final_compare() -> None:
    # Uncapped, 300 epochs would buy 1, 3, 9, 27, 81; at most 20, the last rungs stop at 20 and the budget left
    # lengthens the first rungs until the next step would not fit (2, 6, 18, 20, 20 costs 60+60+72+40+20).
    assert rung_plan([30], 300, 3, most=20) == [(30, 2), (10, 6), (4, 18), (2, 20), (1, 20)]
    assert rung_plan([4], 1000, 3, most=10) == [(4, 10), (2, 10), (1, 10)]  # a budget past every rung at most
    # 13 runs of 4 s, then 9*26 + 3*60 + 60 = 474 epochs of 3 s: 1,474 s of 1,500; a 27-epoch first rung would not fit
    assert timed_plan([9], 1500, 3, run_seconds=4, epoch_seconds=3, most=60) == [(9, 26), (3, 60), (1, 60)]
    # The pilot's length is the floor: 26 still fits, 27 is refused rather than shortened.
    assert timed_plan([9], 1500, 3, run_seconds=4, epoch_seconds=3, most=60, least=26) == [(9, 26), (3, 60), (1, 60)]
    with pytest.raises(TrainError, match=r"from a 27-epoch first rung: .* it needs 25.0 more minutes after the pilot, "
                                         r"and 25.0 are left"):  # fmt: skip
        timed_plan([9], 1500, 3, run_seconds=4, epoch_seconds=3, most=60, least=27)
    with pytest.raises(TrainError, match=r"needs 10 epochs after the pilot, and 9 are left"):  # 4*1 + 2*2 + 1*2
        rung_plan([4], 9, 3, most=2)


def test_a_time_budget_buys_the_most_epochs_that_fit() -> None:
    # 4, 2 and 1 candidates (eta 3): 7 runs of 2 s besides their epochs, and 4*2 + 2*6 + 1*18 epochs for a 2-epoch
    # first rung (the last rung trains the full 18): 14 + 38 = 52 s; a 3-epoch first rung costs 14 + 12 + 18 + 18.
    assert timed_plan([4], 55, 3, run_seconds=2, epoch_seconds=1, most=18) == [(4, 2), (2, 6), (1, 18)]
    expected = (
        r"--minutes cannot train 4 candidates in 3 rung\(s\) \(eta 3\) here from a 1-epoch first rung: a run costs "
        r"about 2 s and an epoch 1.0 s, so it needs 0.7 more minutes after the pilot, and 0.5 are left"
    )
    with pytest.raises(TrainError, match=expected):
        timed_plan([4], 30, 3, run_seconds=2, epoch_seconds=1, most=18)


def test_rank_agreement_between_rungs() -> None:
    def rung(number: int, accuracies: dict[str, float]) -> dict:
        results = [{"candidate": c, "val_accuracy": a, "val_loss": 1 - a} for c, a in accuracies.items()]
        return {"rung": number, "results": results}

    same = [rung(0, {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.1}), rung(1, {"a": 0.95, "b": 0.85, "c": 0.75})]
    reversed_order = [
        rung(0, {"a": 0.9, "b": 0.8, "c": 0.7}),
        rung(1, {"a": 0.5, "b": 0.6, "c": 0.7}),
        rung(2, {"c": 1}),
    ]
    assert rank_agreement(same) == [{"rungs": [0, 1], "candidates": 3, "spearman": pytest.approx(1.0)}]
    assert rank_agreement(reversed_order) == [
        {"rungs": [0, 1], "candidates": 3, "spearman": pytest.approx(-1.0)},
        {"rungs": [1, 2], "candidates": 1, "spearman": None},
    ]


def test_on_the_fly_candidates_and_a_budget_in_minutes(tmp_path: Path) -> None:
    report = search(SAMPLE, presets=["noise"], magnitudes=[0.5, 1.5], per_image=[0, 1, 2], minutes=1,
                    out=tmp_path / "s", config=TINY, seeds=2, workers=1)  # fmt: skip
    pilot = report["pilot"]
    assert pilot["candidates"] == ["noise x0.5, 1/image", "noise x1.5, 1/image", "noise x1.5, 2/image",
                                   "noise x1.5, on the fly"]  # fmt: skip
    assert pilot["epoch_seconds"] > 0 and pilot["seconds"] > 0
    # What is left of the minute after the pilot buys the rest: one of each kind, so straight to the full length.
    left = 60 - pilot["seconds"]
    plan = timed_plan([1, 1], left, 3, pilot["run_seconds"], pilot["epoch_seconds"], TINY.epochs, pilot["first_rung"])
    assert [(p["candidates"], p["epochs"]) for p in report["plan"]] == plan == [(2, 2)]
    first = {r["candidate"]: r for r in report["rungs"][0]["results"]}
    assert sorted(first) == ["noise x0.5, 2/image", "noise x0.5, on the fly"]
    assert first["noise x0.5, on the fly"]["train_images"] == 84 and first["noise x0.5, 2/image"]["train_images"] == 252
    assert len(report["finalists"]) == 6
    stored = [json.loads(p.read_text())["spec"]["config"] for p in (tmp_path / "s" / "store" / "runs").iterdir()]
    onlines = {(c.get("online"), c.get("online_magnitude"), c["epochs"]) for c in stored}
    assert {("noise", 1.5, 2), ("noise", 1.5, 1), ("noise", 0.5, 2)} <= onlines  # the pilot's, then the rung's
    assert (None, None, 2) in onlines  # offline candidates train without --online
    markdown = (tmp_path / "s" / "report.md").read_text()
    assert "Sized for 1 minute(s) from the pilot's full-length runs" in markdown
    assert "of the budget's" not in markdown
