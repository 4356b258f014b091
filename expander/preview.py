"""``expander preview``: a PNG contact sheet of what a pipeline does to a few images per class.

Each row is one source image: the original, then copies 1..n made with exactly the seeds
``expand`` would use for that image and run seed, so the sheet shows the files a run would write.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from expander import images
from expander.augment import Augmenter, LabelParams, probe_pipeline
from expander.dataset import AUGMENTED_SPLIT
from expander.errors import ExpanderError
from expander.labels.draw import annotate
from expander.labels.labelled import LabelledSource, options_for
from expander.limits import DEFAULT_MAX_PIXELS
from expander.plan import Job, Output, output_seed
from expander.scan import scan
from expander.storage import open_store

_BACKGROUND = (32, 32, 32)
_HEADER = 28
_CAPTION = 20  # a band under each row for its class and file name, so no caption covers a picture


def preview(
    src: str | Path,
    out: str | Path,
    pipeline: dict,
    *,
    label: str,
    copies: int = 8,
    per_class: int = 2,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    cell: int = 128,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    on_skip: Callable[[str, str], None] | None = None,
    labels: str = "auto",
) -> Path:
    """Write the contact sheet to ``out`` (PNG) and return its path.

    ``src`` is a folder or an object-store URL; ``labels`` is what ``expand --labels`` takes. Each image is
    shown once, in the row of the first class it holds; each row's caption sits under it, never on a picture.
    Unreadable images are left out of the sheet and passed to ``on_skip(path, reason)``.
    """
    if copies < 1 or per_class < 1:
        raise ExpanderError(f"-n and --per-class must be 1 or more; got {copies} and {per_class}.")
    dataset = scan(src, labels, max_pixels)
    labelled = dataset.labels is not None
    store = open_store(dataset.location)
    augment = Augmenter(pipeline, LabelParams() if dataset.labels else None)
    augmented = [i.rel_path for i in dataset.items if i.split in (None, AUGMENTED_SPLIT)]
    probe_pipeline(pipeline, dataset.location, augmented[:10], size, max_pixels)
    rows, used = [], set()
    for index, class_name in enumerate(dataset.classes):
        chosen = [i for i in dataset.items if i.split in (None, AUGMENTED_SPLIT) and _shows(i, index, class_name)]
        shown = 0
        for item in chosen:
            if shown == per_class:
                break
            if item.rel_path in used:
                continue  # already in the row of another class it holds
            try:
                data = store.read(item.rel_path)
                if labelled:
                    image, variants = _labelled_row(dataset, item, data, augment, seed, copies, size, max_pixels)
                else:
                    image = images.decode_resized(data, item.rel_path, size, max_pixels=max_pixels)
                    variants = [augment(image, output_seed(seed, item.rel_path, k)) for k in range(1, copies + 1)]
            except Exception as e:  # a bad file or a pipeline that fails on it: skipped and said, never a crash
                reason = str(e) if isinstance(e, (OSError, images.DecodeError)) else f"{type(e).__name__}: {e}"
                if on_skip is not None:
                    on_skip(item.rel_path, reason)
                continue  # the next readable image takes its place
            strip = np.hstack([fit_tile(v, cell) for v in [image, *variants]])
            caption = np.full((_CAPTION, strip.shape[1], 3), _BACKGROUND, np.uint8)
            draw_text(caption, f"{class_name}: {item.rel_path}"[: strip.shape[1] // 8], (4, _CAPTION - 6))
            rows.append(np.vstack([strip, caption]))
            used.add(item.rel_path)
            shown += 1
    if not rows:
        raise ExpanderError(f"No readable images to preview in '{src}'.")
    header = np.full((_HEADER, rows[0].shape[1], 3), _BACKGROUND, np.uint8)
    draw_text(header, f"{label}  seed {seed}  (original, then copies 1-{copies})", (6, 19))
    sheet = np.vstack([header, *rows])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    images.write_atomic(out, images.encode(sheet, "png", 95))
    return out


def _shows(item, index: int, class_name: str) -> bool:
    """Whether a row for this class may show ``item``: it holds such an object (or is in its class folder)."""
    return index in item.objects.classes if item.objects is not None else item.class_name == class_name


def _labelled_row(dataset, item, data: bytes, augment, seed: int, copies: int, size, max_pixels):
    """A labelled source and its copies, each with its boxes, names, mask outlines and keypoints drawn."""
    labels = dataset.labels
    job = Job(item.rel_path, item.split, "", objects=item.objects)
    source = LabelledSource(options_for(labels), open_store(dataset.location).read, job, data, "RGB", size, max_pixels)
    shown = [Output(item.rel_path, None, None)]
    shown += [Output(item.rel_path, k, output_seed(seed, item.rel_path, k)) for k in range(1, copies + 1)]
    drawn = []
    for out in shown:
        image, instances = source.instances_of(out, augment)
        drawn.append(annotate(image, instances, labels.names))
    return drawn[0], drawn[1:]


def fit_tile(image: np.ndarray, side: int) -> np.ndarray:
    """Fit an image into a side x side RGB tile, keeping its aspect ratio."""
    image = images.to_8bit(image, channels=3)
    height, width = image.shape[:2]
    scale = (side - 4) / max(height, width)
    fitted = images.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))))
    tile = np.full((side, side, 3), _BACKGROUND, np.uint8)
    top, left = (side - fitted.shape[0]) // 2, (side - fitted.shape[1]) // 2
    tile[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return tile


def draw_text(canvas: np.ndarray, text: str, origin: tuple[int, int]) -> None:
    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
