from __future__ import annotations

import numpy as np
import pytest

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
        "InputLayer", "Rescaling", "Conv2D", "BatchNormalization", "MaxPooling2D", "Conv2D", "Conv2D",
        "BatchNormalization", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert create_model("smallnet", (64, 64, 3), 2).layers[-3].units == 1024


def test_resnet_adds_each_blocks_input_to_its_output() -> None:
    model = create_model("resnet", (64, 64, 3), 2)
    adds = [layer for layer in model.layers if type(layer).__name__ == "Add"]
    assert len(adds) == 6  # three stages of two basic blocks
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    assert len(norms) == 1 + 6 * 2 + 2 and {n.momentum for n in norms} == {0.9}  # stem, blocks, 2 projections
    assert model.layers[-2].__class__.__name__ == "GlobalAveragePooling2D"


def test_unknown_model_lists_the_registry() -> None:
    with pytest.raises(
        TrainError, match=r"Unknown model 'vgg'\. Available models: smallnet, cifar-cnn, tiny, resnet\."
    ):
        create_model("vgg", (28, 28, 1), 2)


def test_balanced_class_weights_are_inverse_frequency() -> None:
    labels = np.array([0] * 6 + [1] * 2 + [2] * 4)
    assert _class_weights(labels, 3).tolist() == pytest.approx([12 / 18, 12 / 6, 12 / 12])
