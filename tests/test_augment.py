from __future__ import annotations

import json

import numpy as np
import pytest

from expander.augment import Augmenter
from expander.pipeline import PRESETS, preset_dict

RNG = np.random.default_rng(0)
IMAGES = {
    "rgb": RNG.integers(0, 255, (13, 17, 3), dtype=np.uint8),
    "gray": RNG.integers(0, 255, (13, 17), dtype=np.uint8),
    "rgba": RNG.integers(0, 255, (13, 17, 4), dtype=np.uint8),
    "rgb16": RNG.integers(0, 65535, (13, 17, 3), dtype=np.uint16),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_presets_keep_shape_and_dtype_and_are_deterministic(preset: str, kind: str) -> None:
    augment = Augmenter(preset_dict(preset))
    image = IMAGES[kind]
    outputs = [augment(image, seed) for seed in range(12)]
    for seed, out in enumerate(outputs):
        assert out.shape == image.shape and out.dtype == image.dtype
        assert np.array_equal(out, augment(image, seed))
    assert len({o.tobytes() for o in outputs}) > 1  # seeds actually vary the result


def test_alpha_moves_with_geometry_but_not_with_colour() -> None:
    pipeline = {
        "transform": {
            "__class_fullname__": "Compose",
            "transforms": [
                {"__class_fullname__": "HorizontalFlip", "p": 1.0},
                {"__class_fullname__": "InvertImg", "p": 1.0},
            ],
        }
    }
    image = np.zeros((13, 17, 4), np.uint8)
    image[:, :3, 3] = 255  # opaque left edge
    out = Augmenter(pipeline)(image, 0)
    assert out[:, -3:, 3].min() == 255 and out[:, :-3, 3].max() == 0  # alpha flipped, not inverted
    assert out[..., :3].min() == 255  # colour inverted


def test_each_transform_draws_from_its_own_stream() -> None:
    # With one shared seed two p=0.5 transforms would always fire together.
    pipeline = json.loads(
        '{"transform": {"__class_fullname__": "Compose", "transforms": ['
        '{"__class_fullname__": "HorizontalFlip", "p": 0.5},'
        '{"__class_fullname__": "VerticalFlip", "p": 0.5}]}}'
    )
    augment = Augmenter(pipeline)
    image = np.arange(4, dtype=np.uint8).reshape(2, 2)
    outcomes = {augment(image, seed).tobytes() for seed in range(64)}
    assert len(outcomes) == 4  # none, horizontal, vertical, both


def test_the_source_array_is_never_modified() -> None:
    # albumentations 2.0.8's AutoContrast writes into a 2-D input; every copy must start from the source.
    pipeline = {
        "transform": {"__class_fullname__": "Compose", "transforms": [{"__class_fullname__": "AutoContrast", "p": 1.0}]}
    }
    image = IMAGES["gray"].copy()
    Augmenter(pipeline)(image, 0)
    assert np.array_equal(image, IMAGES["gray"])


def test_results_never_alias_the_reused_scratch_buffer() -> None:
    # A pipeline that changes nothing may hand back its input, which is the reused buffer.
    pipeline = {"transform": {"__class_fullname__": "Compose", "transforms": [{"__class_fullname__": "NoOp"}]}}
    augment = Augmenter(pipeline)
    first = augment(IMAGES["rgb"], 0)
    second = augment(255 - IMAGES["rgb"], 0)
    assert np.array_equal(first, IMAGES["rgb"]) and np.array_equal(second, 255 - IMAGES["rgb"])
