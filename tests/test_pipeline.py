from __future__ import annotations

import json
from pathlib import Path

import pytest

import expander.pipeline as pipeline_module
from expander.errors import PipelineError
from expander.pipeline import PRESET_FILE, PRESETS, build_preset_dict, load_pipeline_file, preset_dict, save_pipeline


def test_presets_have_documented_contents() -> None:
    assert set(PRESETS) == {"keras", "traditional", "noise", "orientation-safe", "light", "strong", "trivial"}
    assert all(p.contents and p.use for p in PRESETS.values())


def test_keras_preset_matches_the_articles_settings() -> None:
    transforms = preset_dict("keras")["transform"]["transforms"]
    affine, flip = transforms
    assert affine["__class_fullname__"] == "Affine" and affine["p"] == 1.0
    assert affine["rotate"] == [-15.0, 15.0]
    assert affine["translate_percent"] == {"x": [-0.1, 0.1], "y": [-0.1, 0.1]}
    assert affine["border_mode"] == 1  # cv2.BORDER_REPLICATE: Keras' fill_mode="nearest"
    assert flip == {"__class_fullname__": "HorizontalFlip", "p": 0.5}


def test_orientation_safe_has_no_flips() -> None:
    text = json.dumps(preset_dict("orientation-safe"))
    assert "Flip" not in text and "Transpose" not in text


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_saved_preset_loads_back_identically(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    save_pipeline(preset_dict("traditional"), path)
    assert load_pipeline_file(path) == preset_dict("traditional")


def test_a_plain_list_of_transforms_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"__class_fullname__": "HorizontalFlip", "p": 1.0}]')
    loaded = load_pipeline_file(path)
    assert loaded["transform"]["transforms"] == [{"__class_fullname__": "HorizontalFlip", "p": 1.0}]


def test_unknown_transform_names_the_entry_and_the_valid_names(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"__class_fullname__": "HorizontalFlip"}, {"__class_fullname__": "HorizontolFlip"}]')
    with pytest.raises(PipelineError) as e:
        load_pipeline_file(path)
    message = str(e.value)
    assert message.startswith(f"{path}: pipeline.transforms[1] names unknown transform 'HorizontolFlip'.")
    assert "Did you mean HorizontalFlip?" in message
    assert "Valid names: " in message and "GaussNoise" in message


def test_bad_arguments_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("- __class_fullname__: GaussNoise\n  std_range: [0.5, 0.1, 3]\n")
    with pytest.raises(PipelineError, match=r"pipeline.transforms\[0\] \(GaussNoise\) has invalid arguments: "):
        load_pipeline_file(path)


def test_not_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(PipelineError, match="does not describe an albumentations pipeline"):
        load_pipeline_file(path)
    path.write_text("{not json")
    with pytest.raises(PipelineError, match=r"is not valid \.json"):
        load_pipeline_file(path)


def test_stored_presets_match_their_builders() -> None:
    # presets.json spares every keras-preset run the albumentations import; it must say what the builders say.
    stored = json.loads(PRESET_FILE.read_text(encoding="utf-8"))
    assert sorted(stored) == sorted(PRESETS)
    for name in PRESETS:
        assert stored[name] == build_preset_dict(name), (
            f"expander/presets.json is stale for '{name}'. Rewrite it: "
            "python -c 'from expander.pipeline import write_preset_file; write_preset_file()'"
        )


def test_presets_written_by_another_albumentations_are_rebuilt(tmp_path: Path, monkeypatch) -> None:
    stale = {name: {**build_preset_dict(name), "__version__": "1.0.0"} for name in PRESETS}
    stale["keras"]["transform"]["transforms"] = []
    (tmp_path / "presets.json").write_text(json.dumps(stale), encoding="utf-8")
    monkeypatch.setattr(pipeline_module, "PRESET_FILE", tmp_path / "presets.json")
    assert preset_dict("keras") == build_preset_dict("keras")
    assert len(preset_dict("keras")["transform"]["transforms"]) == 2
