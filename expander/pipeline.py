"""Presets and pipeline files: where a run's albumentations pipeline comes from.

A pipeline travels through the package as albumentations' serialised dict (``to_dict``),
which is what ``expander.json`` records and what worker processes rebuild from.
Preset metadata is plain data so that ``expander --help`` and ``expander presets`` never
import albumentations (about a second of start-up). The presets' serialised dicts are stored in
``presets.json`` beside this module for the same reason: a keras-preset run then never imports it
(see expander.fastpath). tests/test_presets.py fails when that file no longer matches the builders.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expander.dataset import IMAGE_EXTENSIONS, is_image_name, natural_key
from expander.errors import PipelineError
from expander.limits import MAX_PIPELINE_FILE_BYTES
from expander.textfiles import TextFileError, load_json, load_yaml, read_limited
from expander.versions import installed_version

# OpenCV constants, spelled out so this module does not import cv2.
_BORDER_CONSTANT, _BORDER_REPLICATE, _BORDER_REFLECT_101 = 0, 1, 4


@dataclass(frozen=True)
class Preset:
    """A named pipeline. ``build`` receives the albumentations module and returns transforms."""

    name: str
    contents: str
    use: str
    build: Callable[[Any], list]


def _keras(A):
    # ImageDataGenerator(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1,
    # horizontal_flip=True, fill_mode="nearest"): rotation and shift are always drawn.
    return [
        A.Affine(
            rotate=(-15, 15),
            translate_percent={"x": (-0.1, 0.1), "y": (-0.1, 0.1)},
            border_mode=_BORDER_REPLICATE,
            p=1.0,
        ),
        A.HorizontalFlip(p=0.5),
    ]


def _traditional(A):
    return [
        A.Affine(
            translate_percent={"x": (-0.1, 0.1), "y": (-0.1, 0.1)},
            scale=(0.85, 1.15),
            rotate=(-20, 20),
            border_mode=_BORDER_REFLECT_101,
            p=1.0,
        ),
        A.HorizontalFlip(p=0.5),
        A.OneOf([A.GridDistortion(distort_limit=0.2), A.OpticalDistortion(distort_limit=0.2)], p=0.3),
        A.HueSaturationValue(hue_shift_limit=15, sat_shift_limit=20, val_shift_limit=15, p=0.5),
    ]


def _noise(A):
    return [
        A.OneOf(
            [
                A.GaussNoise(std_range=(0.03, 0.12)),
                A.SaltAndPepper(amount=(0.01, 0.05)),
            ],
            p=1.0,
        )
    ]


def _orientation_safe(A):
    return [
        A.Affine(
            rotate=(-5, 5),
            translate_percent={"x": (-0.05, 0.05), "y": (-0.05, 0.05)},
            scale=(0.95, 1.05),
            border_mode=_BORDER_REPLICATE,
            p=1.0,
        ),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
    ]


def _light(A):
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(
            rotate=(-10, 10),
            translate_percent={"x": (-0.05, 0.05), "y": (-0.05, 0.05)},
            border_mode=_BORDER_REFLECT_101,
            p=0.5,
        ),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
    ]


def _strong(A):
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(
            rotate=(-30, 30),
            translate_percent={"x": (-0.15, 0.15), "y": (-0.15, 0.15)},
            scale=(0.75, 1.25),
            shear=(-10, 10),
            border_mode=_BORDER_REFLECT_101,
            p=1.0,
        ),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.GaussNoise(std_range=(0.03, 0.1))], p=0.4),
        A.CoarseDropout(num_holes_range=(1, 3), hole_height_range=(0.1, 0.2), hole_width_range=(0.1, 0.2), p=0.5),
    ]


def _trivial(A):
    # TrivialAugment (Mueller & Hutter, 2021): one op drawn uniformly, at a strength drawn
    # uniformly from its whole range. OneOf picks the op; each op draws its own strength.
    return [
        A.OneOf(
            [
                A.NoOp(),
                A.Affine(shear={"x": (-30, 30), "y": (0, 0)}, border_mode=_BORDER_CONSTANT),
                A.Affine(shear={"x": (0, 0), "y": (-30, 30)}, border_mode=_BORDER_CONSTANT),
                A.Affine(translate_percent={"x": (-0.3, 0.3), "y": (0, 0)}, border_mode=_BORDER_CONSTANT),
                A.Affine(translate_percent={"x": (0, 0), "y": (-0.3, 0.3)}, border_mode=_BORDER_CONSTANT),
                A.Affine(rotate=(-30, 30), border_mode=_BORDER_CONSTANT),
                A.RandomBrightnessContrast(brightness_limit=(-0.9, 0.9), contrast_limit=(0, 0)),
                A.RandomBrightnessContrast(brightness_limit=(0, 0), contrast_limit=(-0.9, 0.9)),
                A.ColorJitter(brightness=0, contrast=0, saturation=(0.1, 1.9), hue=0),
                A.Sharpen(alpha=(0.1, 0.9), lightness=(1.0, 1.0)),
                A.Posterize(num_bits=(2, 8)),
                A.Solarize(threshold_range=(0.0, 1.0)),
                A.AutoContrast(),
                A.Equalize(),
            ],
            p=1.0,
        )
    ]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "keras",
            "rotation +-15 deg, width/height shift 10%, horizontal flip, nearest (edge) fill",
            "the CIFAR-10 article's ImageDataGenerator settings; natural photos",
            _keras,
        ),
        Preset(
            "traditional",
            "shift 10%, zoom 0.85-1.15, rotation +-20 deg, horizontal flip, grid/optical distortion (p=0.3), "
            "hue/saturation/value shade (p=0.5)",
            "the Stanford augmentation paper's 'traditional' set; natural photos",
            _traditional,
        ),
        Preset(
            "noise",
            "one of Gaussian noise (std 3-12%) or salt-and-pepper (1-5% of pixels)",
            "robustness to sensor noise; any image type",
            _noise,
        ),
        Preset(
            "orientation-safe",
            "rotation +-5 deg, shift 5%, zoom 0.95-1.05, brightness/contrast +-10% (p=0.5); no flips",
            "digits, text, X-rays: anything whose meaning changes when mirrored",
            _orientation_safe,
        ),
        Preset(
            "light",
            "horizontal flip, rotation +-10 deg and shift 5% (p=0.5), brightness/contrast +-10% (p=0.5)",
            "a gentle default when unsure; many copies stay close to the original",
            _light,
        ),
        Preset(
            "strong",
            "flip, rotation +-30 deg, shift 15%, zoom 0.75-1.25, shear +-10 deg, colour jitter (p=0.8), "
            "blur or noise (p=0.4), 1-3 cutout holes (p=0.5)",
            "very small datasets of natural photos that need more variety",
            _strong,
        ),
        Preset(
            "trivial",
            "TrivialAugment: one op per image from shear, translate, rotate, brightness, contrast, "
            "saturation, sharpen, posterize, solarize, autocontrast, equalize or identity, at a random strength",
            "a tuning-free baseline that often matches hand-tuned policies",
            _trivial,
        ),
    )
}
DEFAULT_PRESET = "keras"


PRESET_FILE = Path(__file__).with_name("presets.json")


def preset_dict(name: str) -> dict[str, Any]:
    """The serialised albumentations pipeline of a preset (from presets.json when it is current)."""
    if name not in PRESETS:
        raise PipelineError(f"Unknown preset '{name}'. Available presets: {', '.join(PRESETS)}.")
    stored = _stored_presets().get(name)
    return stored if stored is not None else build_preset_dict(name)


def albumentations() -> Any:
    """The albumentations module, imported on first use."""
    # lazy: albumentations costs ~0.6 s to import; copying, inspecting and --help never build a pipeline
    import albumentations

    return albumentations


def build_preset_dict(name: str) -> dict[str, Any]:
    """The serialised pipeline of a preset, built by albumentations from its builder."""
    A = albumentations()
    return _plain(A.to_dict(A.Compose(PRESETS[name].build(A))))


def write_preset_file() -> None:
    """Rewrite presets.json from the builders (after changing a preset or upgrading albumentations)."""
    presets = {name: build_preset_dict(name) for name in PRESETS}
    PRESET_FILE.write_text(json.dumps(presets, indent=1) + "\n", encoding="utf-8")


def _stored_presets() -> dict[str, Any]:
    """presets.json, if it was written by the installed albumentations; otherwise nothing."""
    installed = installed_version("albumentations")
    try:
        presets = json.loads(PRESET_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: p for name, p in presets.items() if installed and p.get("__version__") == installed}


def resolve_pipeline(
    preset: str | None, pipeline_file: str | os.PathLike | None, style_refs: str | os.PathLike | None = None
) -> dict[str, Any]:
    """The pipeline a run uses: a pipeline file, else a preset (default ``keras``), then style transfer.

    With ``style_refs`` and neither a preset nor a file, the pipeline is style transfer alone.
    """
    if preset and pipeline_file:
        raise PipelineError("Give either --preset or --pipeline, not both.")
    if style_refs is not None and not preset and not pipeline_file:
        return with_style_refs(_plain(_empty_compose()), style_refs)
    pipeline = load_pipeline_file(pipeline_file) if pipeline_file else preset_dict(preset or DEFAULT_PRESET)
    return with_style_refs(pipeline, style_refs) if style_refs is not None else pipeline


def describe_pipeline(
    preset: str | None, pipeline_file: str | os.PathLike | None, style_refs: str | os.PathLike | None = None
) -> str:
    """What ``resolve_pipeline`` chose, in words: "preset keras", "pipeline mine.yaml + style of refs", ..."""
    style = f"style of {Path(style_refs).name}" if style_refs is not None else ""
    if style and not preset and not pipeline_file:
        return style
    chosen = f"pipeline {Path(pipeline_file).name}" if pipeline_file else f"preset {preset or DEFAULT_PRESET}"
    return f"{chosen} + {style}" if style else chosen


# --- style references ---------------------------------------------------------------------
# albumentations' domain-adaptation transforms take their reference images at call time, under these
# keys; the pipeline records the reference files under STYLE_REFS_KEY, beside albumentations' own dict,
# so expander.json, --resume and verify --replay all see them. The Augmenter decodes them once.
STYLE_METADATA_KEYS = ("fda_metadata", "hm_metadata")
STYLE_REFS_KEY = "style_refs"


def _style() -> dict[str, Any]:
    # One of: swap the low frequencies (FDA: overall colour and illumination; its window is 2-5% of the
    # shorter side, so images under ~50 px pass unchanged, and wider windows leave visible texture), or
    # match the histogram (blended 50-100%), toward one reference drawn from the output's seed.
    # PixelDistributionAdaptation is left out: in albumentations 2.0.8 it never scales its [0, 1] result
    # back to [0, 255], so it blends every image toward black.
    # Written as a dict: albumentations 2.0.8 refuses to_dict() for transforms that take metadata,
    # but builds them from one like any other.
    fda, hm = STYLE_METADATA_KEYS
    return {
        "__class_fullname__": "OneOf",
        "p": 1.0,
        "transforms": [
            {"__class_fullname__": "FDA", "beta_limit": [0.02, 0.05], "metadata_key": fda, "p": 1.0},
            {"__class_fullname__": "HistogramMatching", "blend_ratio": [0.5, 1.0], "metadata_key": hm, "p": 1.0},
        ],
    }


def _empty_compose() -> dict[str, Any]:
    A = albumentations()
    return A.to_dict(A.Compose([]))


def style_reference_files(folder: str | os.PathLike) -> list[str]:
    """The image files in ``folder`` (and its subfolders), as sorted absolute paths.

    Raises:
        PipelineError: the folder is missing or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"--style-refs folder '{folder}' does not exist. Give a folder of reference images.")
    files = sorted(
        (str(p.resolve()) for p in folder.rglob("*") if p.is_file() and is_image_name(p.name)), key=natural_key
    )
    if not files:
        raise PipelineError(
            f"--style-refs folder '{folder}' holds no images. Supported extensions: {' '.join(IMAGE_EXTENSIONS)}."
        )
    return files


def with_style_refs(pipeline: dict[str, Any], folder: str | os.PathLike) -> dict[str, Any]:
    """``pipeline`` followed by a style transfer toward the images in ``folder``."""
    files = style_reference_files(folder)
    transform = dict(pipeline["transform"])
    transform["transforms"] = [*transform.get("transforms", []), _style()]
    return _plain({**pipeline, "transform": transform, STYLE_REFS_KEY: files})


def load_pipeline_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read an albumentations JSON or YAML pipeline file and return its validated dict.

    Accepts albumentations' own ``save`` format, a bare transform dict, or a list of transforms.

    Raises:
        PipelineError: unreadable file, unknown transform name, or invalid arguments,
            naming the entry (e.g. ``transforms[2]``).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:  # read at most the limit: a device such as /dev/zero has no size to check first
            text = read_limited(f, MAX_PIPELINE_FILE_BYTES).decode("utf-8")
    except OSError as e:
        raise PipelineError(f"Cannot read pipeline file '{path}': {e.strerror}.") from e
    except TextFileError:
        raise PipelineError(
            f"Pipeline file '{path}' is over {MAX_PIPELINE_FILE_BYTES:,} bytes; a pipeline is a few kilobytes. "
            "Check that you passed the right file."
        ) from None
    except UnicodeDecodeError as e:
        raise PipelineError(
            f"Pipeline file '{path}' is not UTF-8 text (byte {e.start} is 0x{e.object[e.start]:02x}). "
            "Save it as UTF-8 JSON or YAML."
        ) from None
    try:
        data = load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else load_json(text)
    except TextFileError as e:
        raise PipelineError(f"Pipeline file '{path}' is not valid {path.suffix or 'JSON'}: {e}") from None

    if isinstance(data, dict) and "transform" in data:
        data = data["transform"]
    if isinstance(data, list):
        data = {"__class_fullname__": "Compose", "transforms": data}
    if not isinstance(data, dict) or "__class_fullname__" not in data:
        raise PipelineError(
            f"Pipeline file '{path}' does not describe an albumentations pipeline: expected the output of "
            "albumentations.save, a transform with '__class_fullname__', or a list of transforms. "
            "Export a preset to start from: expander presets show keras --save pipeline.json"
        )
    compose = build_pipeline(data, source=str(path))
    A = albumentations()
    return _plain(A.to_dict(compose))


def _plain(pipeline: dict[str, Any]) -> dict[str, Any]:
    """JSON-normal form (lists, not tuples), so a pipeline equals itself read back from expander.json."""
    return json.loads(json.dumps(pipeline))


def build_pipeline(node: dict[str, Any], source: str = "pipeline", where: str = "pipeline") -> Any:
    """Instantiate a serialised pipeline, wrapping a lone transform in a Compose.

    Unlike ``albumentations.from_dict`` this reports which entry is wrong and how to fix it.
    """
    A = albumentations()
    transform = _build_node(node, source, where)
    return transform if isinstance(transform, A.Compose) else A.Compose([transform])


def _build_node(node: Any, source: str, where: str) -> Any:
    serialization = albumentations().core.serialization
    SERIALIZABLE_REGISTRY, shorten_class_name = serialization.SERIALIZABLE_REGISTRY, serialization.shorten_class_name
    if not isinstance(node, dict) or "__class_fullname__" not in node:
        raise PipelineError(f"{source}: {where} is not a transform (a mapping with '__class_fullname__').")
    name = shorten_class_name(str(node["__class_fullname__"]))
    cls = SERIALIZABLE_REGISTRY.get(name)
    if cls is None:
        valid = sorted(SERIALIZABLE_REGISTRY)
        close = difflib.get_close_matches(name, valid, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise PipelineError(
            f"{source}: {where} names unknown transform '{name}'.{hint} Valid names: {', '.join(valid)}."
        )
    args = {k: v for k, v in node.items() if k not in ("__class_fullname__", "id")}
    _check_arguments(cls, name, args, source, where)
    if "transforms" in args:
        children = args["transforms"]
        if not isinstance(children, list):
            raise PipelineError(f"{source}: {where}.transforms must be a list of transforms.")
        args["transforms"] = [_build_node(c, source, f"{where}.transforms[{i}]") for i, c in enumerate(children)]
    try:
        return cls(**args)
    except Exception as e:  # pydantic.ValidationError, TypeError for unknown arguments
        message = " ".join(str(e).split())
        raise PipelineError(f"{source}: {where} ({name}) has invalid arguments: {message}") from e


# Compose arguments for labels: expander sets them itself from the dataset (see augment.LabelParams).
_LABEL_ARGUMENTS = ("bbox_params", "keypoint_params")


def _check_arguments(cls: type, name: str, args: dict[str, Any], source: str, where: str) -> None:
    """Unknown arguments are errors (albumentations only warns, then runs without them)."""
    parameters = inspect.signature(cls).parameters  # the constructor's, without self
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    valid = list(parameters)
    unknown = [k for k in args if k not in valid]
    if unknown:
        hints = [f"{k} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(k, valid, n=1)) else k
                 for k in unknown]  # fmt: skip
        raise PipelineError(
            f"{source}: {where} ({name}) has unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(hints)}. "
            f"Valid arguments of {name}: {', '.join(valid)}."
        )
    labelled = [k for k in _LABEL_ARGUMENTS if args.get(k)]
    if labelled:
        raise PipelineError(
            f"{source}: {where} ({name}) sets {' and '.join(labelled)}, for pipelines that move boxes or keypoints "
            "with the pixels; expander sets them itself from the dataset's labels (see --labels and "
            f"--min-visibility). Remove {' and '.join(labelled)} from the pipeline file."
        )


# Parameters whose ranges say how strong a transform is, with the value that means "no change", and the
# bounds albumentations accepts. scaled_pipeline moves every such range toward or away from no change.
_STRENGTH: dict[str, tuple[float, float, float]] = {  # name: (no change, least, most)
    "rotate": (0.0, -180.0, 180.0),
    "shear": (0.0, -45.0, 45.0),
    "translate_percent": (0.0, -0.5, 0.5),
    "scale": (1.0, 0.1, 4.0),
    "distort_limit": (0.0, -1.0, 1.0),
    "hue_shift_limit": (0.0, -180.0, 180.0),
    "sat_shift_limit": (0.0, -255.0, 255.0),
    "val_shift_limit": (0.0, -255.0, 255.0),
    "brightness_limit": (0.0, -1.0, 1.0),
    "contrast_limit": (0.0, -1.0, 1.0),
    "brightness": (1.0, 0.0, 3.0),
    "contrast": (1.0, 0.0, 3.0),
    "saturation": (1.0, 0.0, 3.0),
    "hue": (0.0, -0.5, 0.5),
    "std_range": (0.0, 0.0, 1.0),
    "amount": (0.0, 0.0, 1.0),
}


def scaled_pipeline(pipeline: dict[str, Any], magnitude: float) -> dict[str, Any]:
    """The pipeline with every strength range scaled by ``magnitude`` about "no change" (1 leaves it as is).

    Rotation, shear, shift, zoom, distortion, colour shifts, noise: ``rotate: [-20, 20]`` at 0.5 becomes
    ``[-10, 10]``, ``scale: [0.85, 1.15]`` at 2 becomes ``[0.7, 1.3]``, clipped to what the transform accepts.
    Probabilities and structural choices (border modes, hole counts, blur kernels) are left alone.
    """

    def scale(name: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scale(name, v) for k, v in value.items()}
        if isinstance(value, list):
            return [scale(name, v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            neutral, low, high = _STRENGTH[name]
            return round(float(min(max(neutral + magnitude * (value - neutral), low), high)), 6)
        return value

    def node(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            k: [node(t) for t in v] if k == "transforms" else scale(k, v) if k in _STRENGTH else v
            for k, v in value.items()
        }

    return {**pipeline, "transform": node(pipeline["transform"])}


def save_pipeline(pipeline: dict[str, Any], path: str | Path) -> None:
    """Write a serialised pipeline as JSON, or YAML when the file name ends in .yaml/.yml."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml  # lazy: PyYAML costs ~9 ms to import; only saving a pipeline as YAML needs it

        text = yaml.safe_dump(pipeline, sort_keys=False)
    else:
        text = json.dumps(pipeline, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
