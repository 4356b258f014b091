from __future__ import annotations

import pytest

from train.data import Sample
from train.errors import TrainError
from train.fit import _class_weights
from train.models import MODELS, create_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(28, 28, 1), (64, 64, 3), (128, 128, 3)])
def test_every_model_builds_from_small_gray_to_large_rgb(name: str, shape: tuple[int, int, int]) -> None:
    model = create_model(name, shape, 3)
    assert model.input_shape == (None, *shape)
    assert model.output_shape == (None, 3)


def test_smallnet_has_the_papers_layers() -> None:
    layers = [type(layer).__name__ for layer in create_model("smallnet", (64, 64, 3), 2).layers]
    assert layers == [
        "Rescaling", "Conv2D", "BatchNormalization", "MaxPooling2D", "Conv2D", "Conv2D", "BatchNormalization",
        "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert create_model("smallnet", (64, 64, 3), 2).layers[-3].units == 1024


def test_unknown_model_lists_the_registry() -> None:
    with pytest.raises(TrainError, match=r"Unknown model 'resnet'\. Available models: smallnet, cifar-cnn, tiny\."):
        create_model("resnet", (28, 28, 1), 2)


def test_balanced_class_weights_are_inverse_frequency() -> None:
    samples = tuple(Sample("x", label, "") for label in [0] * 6 + [1] * 2 + [2] * 4)
    assert _class_weights(samples, 3) == {0: 12 / 18, 1: 12 / 6, 2: 12 / 12}
