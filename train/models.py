"""Model registry: ``@register_model`` adds a builder, ``create_model(name, ...)`` builds it.

Every model takes pixels in 0..255 (rescaling is its first layer) and works from 28x28 grayscale
to 128x128 RGB: convolutions use "same" padding so small inputs survive the pooling. A builder
maps the rescaled input tensor to the class probabilities (Keras' functional API, so residual
connections fit the same registry as plain stacks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from train.errors import TrainError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[[Any, Any, int], Any]  # (keras, rescaled input tensor, classes) -> probabilities tensor


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, description: str):
    def decorator(build):
        MODELS[name] = ModelSpec(name, description, build)
        return build

    return decorator


def create_model(name: str, input_shape: tuple[int, int, int], classes: int):
    """Build a registered model for ``input_shape`` (H, W, C) and ``classes`` outputs."""
    import keras  # lazy: TensorFlow/Keras take ~2.5 s to import and are the train extra

    if name not in MODELS:
        raise TrainError(f"Unknown model '{name}'. Available models: {', '.join(MODELS)}.")
    inputs = keras.Input(shape=input_shape)
    outputs = MODELS[name].build(keras, keras.layers.Rescaling(1.0 / 255)(inputs), classes)
    return keras.Model(inputs, outputs, name=name.replace("-", "_"))


def parameter_count(name: str, input_shape: tuple[int, int, int] = (64, 64, 3), classes: int = 2) -> int:
    """Trainable and non-trainable weights of ``name`` built for ``input_shape`` and ``classes``."""
    return int(create_model(name, input_shape, classes).count_params())


def _stack(layers: list, x):
    for layer in layers:
        x = layer(x)
    return x


@register_model("smallnet", "Wang & Perez's SmallNet: conv16+BN+pool, conv32, conv32+BN+pool, dense 1024+dropout")
def _smallnet(keras, x, classes):
    L = keras.layers
    return _stack(
        [
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
        ],
        x,
    )


@register_model("cifar-cnn", "the CIFAR-10 article's net: 3 blocks of 2 convs+BN, pool, dropout (32/64/128)")
def _cifar_cnn(keras, x, classes):
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
    return _stack([*layers, L.Flatten(), L.Dense(classes, activation="softmax")], x)


@register_model("tiny", "two conv+pool blocks (8, 16 filters) and a dense layer of 32: fast, for tests and smoke runs")
def _tiny(keras, x, classes):
    L = keras.layers
    return _stack(
        [
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(32, activation="relu"),
            L.Dense(classes, activation="softmax"),
        ],
        x,
    )


@register_model(
    "resnet",
    "a small ResNet: conv stem (stride 2), three stages of 2 basic blocks with batch norm (32/64/128), "
    "global average pooling",
)
def _resnet(keras, x, classes):
    # He et al.'s CIFAR ResNet shape, ResNet-14 deep; the strided stem quarters the work at 64x64 and up,
    # which is what keeps an epoch of ~1,000 images to seconds on 2 cores.
    L = keras.layers
    x = L.Conv2D(32, 3, strides=2 if x.shape[1] >= 48 else 1, padding="same", use_bias=False)(x)
    x = L.ReLU()(_norm(L)(x))
    for stage, filters in enumerate((32, 64, 128)):
        for block in range(2):
            x = _basic_block(L, x, filters, strides=2 if stage and not block else 1)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(classes, activation="softmax")(x)


def _basic_block(L, x, filters: int, strides: int):
    """conv-BN-ReLU-conv-BN plus the shortcut (a strided 1x1 projection when the shape changes), then ReLU."""
    shortcut = x
    y = L.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    y = L.ReLU()(_norm(L)(y))
    y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = _norm(L)(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _norm(L)(L.Conv2D(filters, 1, strides=strides, use_bias=False)(x))
    return L.ReLU()(L.Add()([y, shortcut]))


def _norm(L):
    # Momentum 0.9 (PyTorch's default), not Keras' 0.99: with ~25 steps per epoch on small data, 0.99 leaves the
    # inference statistics far from the batches' for ~20 epochs (measured: validation stuck at chance meanwhile).
    return L.BatchNormalization(momentum=0.9)
