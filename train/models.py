"""Model registry: ``@register_model`` adds a builder, ``create_model(name, ...)`` builds it.

Every model takes uint8 pixels (rescaling is its first layer) and works from 28x28 grayscale
to 128x128 RGB: convolutions use "same" padding so small inputs survive the pooling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[[Any, tuple[int, int, int], int], Any]  # (keras, input_shape, classes) -> layers


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, description: str):
    def decorator(build):
        MODELS[name] = ModelSpec(name, description, build)
        return build

    return decorator


def create_model(name: str, input_shape: tuple[int, int, int], classes: int):
    """Build a registered model for ``input_shape`` (H, W, C) and ``classes`` outputs."""
    import keras

    if name not in MODELS:
        from train.errors import TrainError

        raise TrainError(f"Unknown model '{name}'. Available models: {', '.join(MODELS)}.")
    layers = [keras.Input(shape=input_shape), keras.layers.Rescaling(1.0 / 255)]
    layers += MODELS[name].build(keras, input_shape, classes)
    return keras.Sequential(layers, name=name.replace("-", "_"))


@register_model("smallnet", "Wang & Perez's SmallNet: conv16+BN+pool, conv32, conv32+BN+pool, dense 1024+dropout")
def _smallnet(keras, input_shape, classes):
    L = keras.layers
    return [
        L.Conv2D(16, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Conv2D(32, 3, padding="same", activation="relu"),
        L.Conv2D(32, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(1024, activation="relu"),
        L.Dropout(0.5),
        L.Dense(classes, activation="softmax"),
    ]


@register_model("cifar-cnn", "the CIFAR-10 article's net: 3 blocks of 2 convs+BN, pool, dropout (32/64/128)")
def _cifar_cnn(keras, input_shape, classes):
    L = keras.layers
    layers = []
    for filters, dropout in ((32, 0.2), (64, 0.3), (128, 0.4)):
        layers += [
            L.Conv2D(filters, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.Conv2D(filters, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.Dropout(dropout),
        ]
    return [*layers, L.Flatten(), L.Dense(classes, activation="softmax")]


@register_model("tiny", "two conv+pool blocks (8, 16 filters) and a dense layer of 32: fast, for tests and smoke runs")
def _tiny(keras, input_shape, classes):
    L = keras.layers
    return [
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(32, activation="relu"),
        L.Dense(classes, activation="softmax"),
    ]
