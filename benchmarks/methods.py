"""The expansion methods the benchmark compares, one per process:

    python benchmarks/methods.py METHOD CORPUS OUT COPIES [WORKERS]

Every method makes COPIES new JPEGs (quality 95 where the library lets us choose) of every image
in CORPUS/<class>/, with rotation +-15 degrees, 10% shift and a horizontal flip, as closely as
each library allows. Imports happen inside the method: whole-process wall time is what users wait.
"""

from __future__ import annotations

import functools
import os
import random
import sys
from pathlib import Path

QUALITY = 95
CHROMA = [[2.0, 0.0, 0.5], [0.0, 2.0, 0.5], [0.0, 0.0, 1.0]]  # chroma pixel -> luma pixel (JPEG siting)
SIZE = (224, 224)  # the -sized methods: large photos shrunk for training, as --size 224x224


def sources(corpus: Path) -> list[tuple[Path, str]]:
    return [(p, p.parent.name) for p in sorted(corpus.glob("*/*.jpg"))]


def keras_idg(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """The articles' method: ImageDataGenerator.flow(save_to_dir=...) once per image.

    Keras 3 keeps ImageDataGenerator only under keras.src.legacy; flow() saves with PIL's default
    JPEG quality (75), which it does not let us change.
    """
    import numpy as np
    from keras.src.legacy.preprocessing.image import ImageDataGenerator
    from keras.utils import img_to_array, load_img

    generator = ImageDataGenerator(
        rotation_range=15, width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True, fill_mode="nearest"
    )
    for path, label in sources(corpus):
        target = out / label
        target.mkdir(parents=True, exist_ok=True)
        x = np.expand_dims(img_to_array(load_img(path)), 0)
        flow = generator.flow(x, batch_size=1, save_to_dir=str(target), save_prefix=path.stem, save_format="jpeg")
        for _ in range(copies):
            next(flow)


def augmentor(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """Augmentor's multi-threaded sample(): it samples sources with replacement, so the count per
    image varies; it has no shift operation (rotation and flip only) and saves at PIL's quality 75."""
    import Augmentor

    for class_dir in sorted(p for p in corpus.iterdir() if p.is_dir()):
        pipeline = Augmentor.Pipeline(str(class_dir), output_directory=str((out / class_dir.name).resolve()))
        pipeline.rotate_without_crop(probability=1.0, max_left_rotation=15, max_right_rotation=15, expand=False)
        pipeline.flip_left_right(probability=0.5)
        pipeline.sample(copies * len(list(class_dir.glob("*.jpg"))), multi_threaded=True)


def _albumentations_pipeline(seed: int):
    import albumentations as A

    return A.Compose(
        [
            A.Affine(rotate=(-15, 15), translate_percent={"x": (-0.1, 0.1), "y": (-0.1, 0.1)}, border_mode=1, p=1),
            A.HorizontalFlip(p=0.5),
        ],
        seed=seed,
    )


def _albumentations_one(job) -> None:
    import cv2

    path, label, out, copies = job
    pipeline = _albumentations_pipeline(hash(str(path)) % 2**31)
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    for k in range(copies):
        result = cv2.cvtColor(pipeline(image=image)["image"], cv2.COLOR_RGB2BGR)
        _ok, data = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        (out / label / f"{path.stem}__aug{k + 1:03d}.jpg").write_bytes(data.tobytes())


def albumentations_loop(corpus: Path, out: Path, copies: int, workers: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    for path, label in sources(corpus):
        (out / label).mkdir(parents=True, exist_ok=True)
        _albumentations_one((path, label, out, copies))


def _pool_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _run_pool(function, corpus: Path, out: Path, copies: int, workers: int) -> None:
    import multiprocessing

    jobs = [(path, label, out, copies) for path, label in sources(corpus)]
    for label in {job[1] for job in jobs}:
        (out / label).mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("fork").Pool(workers, initializer=_pool_init) as pool:
        for _ in pool.imap_unordered(function, jobs):
            pass


def albumentations_pool(corpus: Path, out: Path, copies: int, workers: int) -> None:
    import albumentations  # noqa: F401  - imported before forking, as a user's script would

    _run_pool(_albumentations_one, corpus, out, copies, workers)


def _full_size_one(job, make_copies=None) -> None:
    """Decode in full, then the careful loop's copies (or ``make_copies``'s)."""
    import cv2

    path, label, out, copies = job
    (make_copies or _augment_and_write)(cv2.imread(str(path)), path, label, out, copies)


def opencv_pool(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """The same transforms written directly with OpenCV: what a careful user would hand-write."""
    _run_pool(_full_size_one, corpus, out, copies, workers)


def _opencv_sized_one(job) -> None:
    """The careful hand-written loop for large photos: decode, shrink first, augment at the small size, encode."""
    import cv2

    path, label, out, copies = job
    _augment_and_write(cv2.resize(cv2.imread(str(path)), SIZE, interpolation=cv2.INTER_AREA), path, label, out, copies)


def _augment_and_write(image, path: Path, label: str, out: Path, copies: int) -> None:
    """COPIES rotated, shifted, sometimes flipped JPEGs of ``image``, as a careful user would hand-write them."""
    import cv2

    rng = random.Random(str(path))
    height, width = image.shape[:2]
    for k in range(copies):
        matrix, flip = _draw(rng, width, height)
        result = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if flip:
            result = cv2.flip(result, 1)
        _ok, data = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        (out / label / f"{path.stem}__aug{k + 1:03d}.jpg").write_bytes(data.tobytes())


def _draw(rng: random.Random, width: int, height: int):
    """One copy's 2x3 warp matrix (rotation +-15 degrees about the centre, 10% shift) and whether it is flipped."""
    import cv2

    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-15, 15), 1.0)
    matrix[0, 2] += rng.uniform(-0.1, 0.1) * width
    matrix[1, 2] += rng.uniform(-0.1, 0.1) * height
    return matrix, rng.random() < 0.5


def least(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """The hand-written pool doing the least work per output we found (see _least_work_copies): a floor."""
    _run_pool(functools.partial(_full_size_one, make_copies=_least_work_copies), corpus, out, copies, workers)


def _least_sized_one(job) -> None:
    """Decode at libjpeg's smallest reduced scale that covers SIZE (at any quality cost), shrink, least-work copies."""
    import cv2
    import simplejpeg

    path, label, out, copies = job
    image = simplejpeg.decode_jpeg(path.read_bytes(), "BGR", fastdct=True, fastupsample=True, min_width=SIZE[0],
                                   min_height=SIZE[1])  # fmt: skip
    _least_work_copies(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA), path, label, out, copies)


def least_sized(corpus: Path, out: Path, copies: int, workers: int) -> None:
    _run_pool(_least_sized_one, corpus, out, copies, workers)


def _least_work_copies(image, path: Path, label: str, out: Path, copies: int) -> None:
    """The hand-written loop's copies (the same draws) with the least work per output measured in bench_worker.py:
    the flip folded into the warp's matrix, and the warp done on YCbCr 4:2:0 planes made once per source and
    encoded from them (no colour conversion or chroma subsampling per output). No bookkeeping of any kind. Its
    pixels differ a little from the careful loop's (bench_worker.py measures by how much); it is here as a floor."""
    import numpy as np

    from expander.fastpath import ycbcr_planes

    rng = random.Random(str(path))
    height, width = image.shape[:2]
    yuv = ycbcr_planes(image)
    for k in range(copies):
        matrix, flip = _draw(rng, width, height)
        data = encode_planar(yuv, folded(np.vstack([matrix, [0.0, 0.0, 1.0]]), flip, width))
        (out / label / f"{path.stem}__aug{k + 1:03d}.jpg").write_bytes(data)


def encode_planar(planes, matrix) -> bytes:
    """One copy's JPEG from YCbCr planes: luma warped with the 3x3 ``matrix``, chroma with it conjugated to half
    size. The luma plane is warped to even sizes and cut: libjpeg-turbo reads 4:2:0 luma rounded up to even
    sizes (see expander.fastpath.ycbcr_planes), and must not read past the array."""
    import numpy as np
    import simplejpeg

    luma, cb, cr = planes
    height, width = luma.shape
    half = (cb.shape[1], cb.shape[0])
    chroma = np.linalg.inv(CHROMA) @ matrix @ CHROMA
    luma = warp(luma, matrix, (2 * half[0], 2 * half[1]))[:height, :width]
    return simplejpeg.encode_jpeg_yuv_planes(luma, warp(cb, chroma, half), warp(cr, chroma, half), QUALITY)


def warp(image, matrix, size: tuple[int, int]):
    import cv2

    return cv2.warpAffine(image, matrix[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def folded(matrix, flip: bool, width: int):
    """The 3x3 ``matrix`` with a horizontal flip after it (x -> width - 1 - x) folded in."""
    import numpy as np

    return np.array([[-1.0, 0, width - 1], [0, 1, 0], [0, 0, 1]]) @ matrix if flip else matrix


def opencv_sized(corpus: Path, out: Path, copies: int, workers: int) -> None:
    _run_pool(_opencv_sized_one, corpus, out, copies, workers)


def expander_sized(corpus: Path, out: Path, copies: int, workers: int) -> None:
    _run_expander(corpus, out, copies, workers, "--size", f"{SIZE[0]}x{SIZE[1]}")


def _floor_one(job) -> None:
    import cv2

    path, label, out, copies = job
    image = cv2.imread(str(path))
    for k in range(copies):
        _ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        (out / label / f"{path.stem}__aug{k + 1:03d}.jpg").write_bytes(data.tobytes())


def floor(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """Decode once and re-encode COPIES times, no augmentation: the least any tool can do."""
    _run_pool(_floor_one, corpus, out, copies, workers)


def expander(corpus: Path, out: Path, copies: int, workers: int) -> None:
    _run_expander(corpus, out, copies, workers)


def _run_expander(corpus: Path, out: Path, copies: int, workers: int, *extra: str) -> None:
    """The expander CLI in this process, as a user types it: the keras preset, COPIES per image, no originals."""
    from expander.cli import main

    sys.argv = ["expander", "expand", str(corpus), "-o", str(out), "--per-image", str(copies), "--no-originals",
                "--preset", "keras", "--quality", str(QUALITY), "-j", str(workers), "-q", *extra]  # fmt: skip
    main()


def expander_ray(corpus: Path, out: Path, copies: int, workers: int) -> None:
    """--backend ray: a local Ray runtime started and stopped by the run, or the cluster at RAY_BENCH_ADDRESS."""
    address = os.environ.get("RAY_BENCH_ADDRESS")
    _run_expander(corpus, out, copies, workers, "--backend", "ray", *(["--address", address] if address else []))


METHODS = {
    "keras-idg": keras_idg,
    "augmentor": augmentor,
    "albumentations-loop": albumentations_loop,
    "albumentations-pool": albumentations_pool,
    "opencv-pool": opencv_pool,
    "floor": floor,
    "least": least,
    "expander": expander,
    "expander-ray": expander_ray,
    "opencv-sized": opencv_sized,
    "expander-sized": expander_sized,
    "least-sized": least_sized,
}

if __name__ == "__main__":
    name, corpus_dir, out_dir, n = sys.argv[1:5]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # expander switches off albumentations' PyPI update check at import; so do the albumentations rows.
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    METHODS[name](Path(corpus_dir), Path(out_dir), int(n), int(sys.argv[5]) if len(sys.argv) > 5 else 2)
