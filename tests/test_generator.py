"""expand --generator: a Keras model makes the new images; every guarantee of expand still holds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import make_tree, tree_digest

from expander import expand
from expander.errors import PipelineError
from expander.verify import verify

keras = pytest.importorskip("keras")


def save_model(path: Path, input_shapes: list[tuple], activation: str = "sigmoid", bias: float = 0.0) -> Path:
    """A small conv net: inputs (stacked if several) -> 3-channel image."""
    keras.utils.set_random_seed(0)
    inputs = [keras.Input(shape) for shape in input_shapes]
    x = keras.layers.Concatenate()(inputs) if len(inputs) > 1 else inputs[0]
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(
        3, 3, padding="same", activation=activation, bias_initializer=keras.initializers.Constant(bias)
    )(x)
    keras.Model(inputs, x).save(path)
    return path


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    """The paper's augmentation net layout: two RGB images stacked on the channel axis."""
    return save_model(tmp_path_factory.mktemp("models") / "augnet.keras", [(16, 16, 6)])


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_tree(tmp_path_factory.mktemp("gen") / "src", {"train/cat": 3, "train/dog": 2, "val/cat": 1},
                     shape=(19, 23, 3))  # fmt: skip


def manifest(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_generator_outputs_are_reproducible_and_record_both_sources(source: Path, paired: Path, tmp_path) -> None:
    one = expand(source, tmp_path / "one", per_image=3, generator=paired, workers=1)
    two = expand(source, tmp_path / "two", per_image=3, generator=paired, workers=2)
    again = expand(source, tmp_path / "again", per_image=3, generator=paired, workers=2)
    digests = [{k: v for k, v in tree_digest(r.out).items() if k != "expander.json"} for r in (one, two, again)]
    assert digests[0] == digests[1] == digests[2]
    assert one.exit_code == 0 and one.to_dict()["totals"]["written"] == 6 + 15

    rows = [r for r in manifest(tmp_path / "one") if r["copy"] != "original"]
    assert len(rows) == 15
    for row in rows:
        # The partner is another training image of the same class, never a validation image.
        assert row["partner"].startswith(f"train/{row['class']}/") and row["partner"] != row["source"]
    assert len({r["partner"] for r in rows if r["source"] == "train/cat/img1.png"}) == 2  # img2 and img3 both used
    assert all(r["partner"] == "" for r in manifest(tmp_path / "one") if r["copy"] == "original")

    image = __import__("cv2").imread(str(tmp_path / "one" / "train" / "cat" / "img1__aug001.png"))
    assert image.shape == (16, 16, 3)  # the model's output size
    info = one.to_dict()["pipeline"]["generator"]
    assert (info["arity"], info["stacked"], info["input_size"], info["channels"]) == (2, True, [16, 16], 3)
    assert one.to_dict()["arguments"]["generator"] == str(paired.resolve())


def test_resume_and_verify_work_with_a_generator(source: Path, paired: Path, tmp_path: Path) -> None:
    full = expand(source, tmp_path / "full", per_image=2, generator=paired, workers=2)
    out = tmp_path / "partial"
    expand(source, out, per_image=2, generator=paired, workers=2)
    for path in sorted(out.rglob("*__aug002.png")):
        path.unlink()
    resumed = expand(source, out, per_image=2, generator=paired, workers=2, resume=True)
    assert resumed.to_dict()["totals"]["resumed"] == 6 + 5
    assert {k: v for k, v in tree_digest(out).items() if k != "expander.json"} == {
        k: v for k, v in tree_digest(full.out).items() if k != "expander.json"
    }
    report = verify(out, replay=20)
    assert report["ok"] and len(report["replayed"]) == 6  # the originals; generator outputs are not replayed


def test_a_one_image_model_has_no_partners(source: Path, tmp_path: Path) -> None:
    model = save_model(tmp_path / "one.keras", [(8, 8, 3)])
    result = expand(source, tmp_path / "out", per_image=1, generator=model, workers=1, originals=False)
    assert result.to_dict()["pipeline"]["generator"]["arity"] == 1
    assert [r["partner"] for r in manifest(tmp_path / "out")] == [""] * 5


@pytest.mark.parametrize(
    ("shapes", "activation", "bias", "message"),
    [
        ([(16, 16, 5)], "sigmoid", 0.0, r"takes inputs \(None, 16, 16, 5\); expected one image \(1 or 3 channels\)"),
        ([(None, None, 3)], "sigmoid", 0.0, r"expected images \(batch, height, width, channels\) of one fixed size"),
        ([(16, 16, 3)], "linear", 5.0, r"returned values from .* to .* for an input in \[0, 1\].*End the model"),
    ],
)
def test_bad_generators_are_clear_errors(source, tmp_path, shapes, activation, bias, message) -> None:
    model = save_model(tmp_path / "bad.keras", shapes, activation, bias)
    with pytest.raises(PipelineError, match=message):
        expand(source, tmp_path / "out", per_image=1, generator=model)
    assert not (tmp_path / "out").exists()


def test_generator_excludes_pipelines_and_needs_a_file(source: Path, paired: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"--generator makes the new images itself; leave out --preset"):
        expand(source, tmp_path / "out", generator=paired, preset="keras")
    with pytest.raises(PipelineError, match=r"Generator '.*nope.keras' does not exist"):
        expand(source, tmp_path / "out", generator=tmp_path / "nope.keras")
