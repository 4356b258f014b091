"""Near-duplicates a person would call duplicates: signatures, the search, the check, the kind of each pair.

**Signature.** Each image becomes a 64x64 grey thumbnail (area-averaged) and two 64-bit DCT hashes (pHash,
Zauner 2010), of the picture and of its mirror image, computed on its 32x32 thumbnail after *rank
normalisation* (every pixel replaced by its rank, ties sharing their mean rank): a brightness, contrast, gamma
or colour change keeps the order of the pixels, so the hash stays put where a plain pHash moves by several
bits, and a mirrored copy matches the mirror hash.

**Search.** The picture hashes are indexed; both hashes of every image are queries. Each of ``TABLES`` tables
orders the index by a fixed random permutation of the 64 bits and looks at the ``WINDOW`` entries beside each
query in that order (sorted-neighbourhood locality-sensitive hashing: hashes that share a long prefix under
some permutation are close). Each image keeps its ``NEIGHBOURS`` closest; a hash that more than ``GENERIC``
images share exactly (more than a window would see; a catalogue's centred look-alikes) is searched within its
crowd, by thumbnail distance and again by sorted neighbourhoods: a crowd costs no more than other images.
One code path for every size, growing as n log n: no switch between an exact and an approximate search.

**Check.** A candidate within ``MAX_BITS`` is kept when the two thumbnails (one mirrored for a mirror match)
agree in structure: the correlation of their Laplacian-of-Gaussian responses (edges and blobs, after the grey
levels are standardised) is at least ``SURE_CORRELATION``, or at least ``MIN_CORRELATION`` with the
standardised grey levels within ``MAX_LEVELS``. Hashes cannot tell a look-alike from a copy (two catalogue
trousers are 0-6 bits apart); outlines alone cannot either (their correlation reaches 0.85-0.94), their
insides can. Calibrated on benchmarks/bench_dedup.py's corpus, so the figures there are not independent.

**Kind.** ``flipped``, ``tone`` (brightness, contrast, gamma or colour: the thumbnails' mean or spread
differ), ``resized`` (other pixel sizes) or ``re-encoded``; ``exact`` copies are found by their bytes before
this module is asked. Crops, shifts and rotations are not searched for yet: crop views of each image found
most of them in the benchmark, but no check tried so far told them from look-alikes (issue 27's notes).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB = 64  # the thumbnail side: 4,096 bytes per image, kept for the check
MAX_BITS = 10  # of 64: the candidate radius
MIN_CORRELATION = 0.85  # of the Laplacian-of-Gaussian responses
SURE_CORRELATION = 0.93  # enough on its own; between the two, the grey levels must agree too
MAX_LEVELS = 0.06  # mean difference of the standardised thumbnails (in standard deviations)
PLAUSIBLE_LEVELS = 0.2  # the same at 16x16, before the check: a candidate further apart is not checked
NEIGHBOURS = 16  # per image at most, the closest
TABLES = 24  # permutations searched
WINDOW = 4  # index entries looked at on each side of a query, per table
GENERIC = WINDOW  # more images sharing a picture hash exactly than a window sees: searched as a crowd
_SEED = 20261204  # the permutations: fixed, so every run finds the same pairs
_DCT: np.ndarray | None = None
_TABLES: list[np.ndarray] | None = None


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The 64x64 area-averaged thumbnail of an 8-bit grey image."""
    return cv2.resize(gray, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def codes(thumb: np.ndarray) -> np.ndarray:
    """The (2,) uint64 hashes of a thumbnail and of its mirror image: the low 8x8 DCT coefficients (but the
    constant one) of the rank-normalised 32x32 picture, each above their median or not."""
    global _DCT
    if _DCT is None:
        _DCT = cv2.dct(np.eye(32, dtype=np.float32))[:8]  # rows: the 8 lowest cosine bases
    small = cv2.resize(thumb, (32, 32), interpolation=cv2.INTER_AREA)
    views = np.stack([small, small[:, ::-1]]).reshape(2, -1)
    low = (_DCT @ _ranks(views).reshape(-1, 32, 32) @ _DCT.T).reshape(2, 64)[:, 1:]
    bits = np.concatenate([low > np.median(low, axis=1, keepdims=True), np.zeros((2, 1), bool)], axis=1)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _ranks(views: np.ndarray) -> np.ndarray:
    """Each pixel's rank within its view, ties sharing their mean rank (so a flat background stays flat):
    (v, 1024) uint8 -> float32."""
    offsets = (np.arange(len(views)) * 256)[:, None]
    counts = np.bincount((views + offsets).ravel(), minlength=256 * len(views)).reshape(len(views), 256)
    below = np.cumsum(counts, axis=1) - counts
    mean_rank = (below + (counts - 1) / 2).astype(np.float32)
    return np.take_along_axis(mean_rank, views.astype(np.intp), axis=1)


@dataclass(frozen=True)
class Match:
    """Images ``a`` < ``b`` are the same picture: the ``kind`` of difference, their hashes ``bits`` apart, the
    ``correlation`` of their structure."""

    a: int
    b: int
    kind: str
    bits: int
    correlation: float


def near_duplicates(thumbs: np.ndarray, hashes: np.ndarray, sizes: list[tuple[int, int]] | None = None) -> list[Match]:
    """The matches among n images: ``thumbs`` (n, 64, 64) uint8, ``hashes`` (n, 2) uint64 from ``codes``,
    ``sizes`` (width, height) per image to tell a resized copy from a re-encoded one."""
    matches = []
    found = _plausible(thumbs, np.concatenate([candidates(hashes), _crowd_candidates(thumbs, hashes)]))
    for i, j, bits, mirrored in found.tolist():
        correlation = _agreement(thumbs[i], thumbs[j][:, ::-1] if mirrored else thumbs[j], sure=not mirrored)
        if correlation is not None:
            size = None if sizes is None else (sizes[i], sizes[j])
            kind = "flipped" if mirrored else _kind(thumbs[i], thumbs[j], size)
            matches.append(Match(i, j, kind, bits, round(correlation, 3)))
    return matches


def candidates(hashes: np.ndarray) -> np.ndarray:
    """(m, 4) rows (image i < image j, bits apart, mirrored 0/1): images whose picture hashes (or one's mirror
    hash and the other's picture hash) are within ``MAX_BITS``, each pair once at its closest, at most
    ``NEIGHBOURS`` per image, in pair order."""
    n = len(hashes)
    if n < 2:
        return np.empty((0, 4), np.int64)
    index = np.ascontiguousarray(hashes[:, 0])
    queries = hashes.ravel()  # entry q is image q // 2: its picture (q even) or its mirror image
    indexed = ~_generic(index)
    found = np.empty((0, 4), np.int64)
    for permutation in _permutations():
        keys = _permuted(index, permutation)
        order = keys.argsort()
        at = np.searchsorted(keys[order], _permuted(queries, permutation))
        rows = []
        for offset in range(-min(WINDOW, n), min(WINDOW, n)):
            image = order[np.clip(at + offset, 0, n - 1)]
            bits = np.bitwise_count(queries ^ index[image])
            query = np.flatnonzero(bits <= MAX_BITS)
            image = image[query]
            keep = (query // 2 != image) & indexed[image]  # a crowd is not indexed, but it asks like any other
            query, image = query[keep], image[keep]
            rows.append(np.stack([query // 2, image, bits[query], query % 2], axis=1).astype(np.int64))
        table = np.concatenate(rows)
        table[:, :2].sort(axis=1)
        found = _closest(np.concatenate([found, table]), n)  # after each table: memory stays n x NEIGHBOURS rows
    return found


def _crowd_candidates(thumbs: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Candidates inside each crowd of images sharing a generic picture hash, rows as ``candidates`` makes them
    (0 bits): each member and the members beside it in ``TABLES`` orders of their 16x16 thumbnails projected on
    a random direction, the ``NEIGHBOURS`` nearest kept. Sorted neighbourhoods again, so a crowd of a million
    blank images costs n log n, not n^2."""
    index = np.ascontiguousarray(hashes[:, 0])
    crowded = np.flatnonzero(_generic(index))
    if not len(crowded):
        return np.empty((0, 4), np.int64)
    small = np.stack([cv2.resize(thumbs[m], (16, 16), interpolation=cv2.INTER_AREA) for m in crowded])
    flat = small.reshape(len(crowded), -1).astype(np.float32)
    crowd = np.unique(index[crowded], return_inverse=True)[1]  # which crowd each member is in
    directions = np.random.default_rng(_SEED).standard_normal((TABLES, flat.shape[1])).astype(np.float32)
    rows = []
    for direction in directions:
        order = np.lexsort((flat @ direction, crowd))  # by crowd, then along the direction
        for offset in range(1, WINDOW + 1):
            a, b = order[:-offset], order[offset:]
            same = crowd[a] == crowd[b]
            a, b = a[same], b[same]
            distance = np.sqrt(((flat[a] - flat[b]) ** 2).sum(axis=1))  # 0 .. 4080 (16 x 255)
            rows.append(np.stack([crowded[a], crowded[b], np.minimum(distance / 16, 63).astype(np.int64)], axis=1))
    found = np.concatenate(rows)
    found[:, :2].sort(axis=1)
    nearest = _closest(found, len(thumbs))
    return np.concatenate([nearest[:, :2], np.zeros((len(nearest), 2), np.int64)], axis=1)


def _generic(index: np.ndarray) -> np.ndarray:
    """Images whose picture hash more than ``GENERIC`` images share exactly: no picture of their own to speak
    of (a plain background, a catalogue's centred item) for a hash to tell apart."""
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    return counts[inverse] > GENERIC


def _each_pair_once(rows: np.ndarray, n: int) -> np.ndarray:
    """Each image pair once, at its lowest cost (column 2, 0-63: a pair and its cost sort as one integer)."""
    if not len(rows):
        return rows
    pair = rows[:, 0] * n + rows[:, 1]
    order = np.argsort(pair * 64 + rows[:, 2], kind="stable")
    rows, pair = rows[order], pair[order]
    return rows[np.r_[True, pair[1:] != pair[:-1]]]


def _closest(rows: np.ndarray, n: int) -> np.ndarray:
    """Each image pair once, at its lowest cost; then only the pairs among the ``NEIGHBOURS`` cheapest of one
    of their images."""
    rows = _each_pair_once(rows, n)
    if not len(rows):
        return rows
    place = _rank(np.concatenate([rows[:, 0], rows[:, 1]]), np.tile(rows[:, 2], 2))  # among all pairs of the image
    near = (place[: len(rows)] < NEIGHBOURS) | (place[len(rows) :] < NEIGHBOURS)
    return rows[near]


def _rank(image: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Each row's place among the rows of its image, cheapest first."""
    order = np.argsort(image * 64 + cost, kind="stable")
    ordered = image[order]
    place = np.empty(len(image), np.int64)
    place[order] = np.arange(len(image)) - np.searchsorted(ordered, ordered)
    return place


def _permutations() -> list[np.ndarray]:
    """Per permutation, 8 lookup tables (one per byte of a hash) of 256 uint64: byte value -> its bits moved."""
    global _TABLES
    if _TABLES is None:
        rng = np.random.default_rng(_SEED)
        values = np.arange(256, dtype=np.uint64)
        _TABLES = []
        for _ in range(TABLES):
            target = rng.permutation(64).astype(np.uint64)
            tables = np.zeros((8, 256), np.uint64)
            for bit in range(64):
                tables[bit // 8] |= ((values >> np.uint64(bit % 8)) & np.uint64(1)) << target[bit]
            _TABLES.append(tables)
    return _TABLES


def _permuted(hashes: np.ndarray, tables: np.ndarray) -> np.ndarray:
    out = np.zeros(len(hashes), np.uint64)
    as_bytes = hashes.view(np.uint8).reshape(len(hashes), 8)  # byte b holds bits 8b..8b+7 (little-endian)
    for b in range(8):
        out |= tables[b][as_bytes[:, b]]
    return out


def _plausible(thumbs: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The candidates whose standardised 16x16 thumbnails are within ``PLAUSIBLE_LEVELS`` on average: a cheap
    test, all candidates at once, that leaves the full check a twentieth of them (on benchmarks/bench_dedup.py's
    corpus 5% of the candidates pass it, and 99.3% of the pairs the full check confirms)."""
    if not len(found):
        return found
    shown = np.unique(found[:, :2])
    small = np.stack([cv2.resize(thumbs[i], (16, 16), interpolation=cv2.INTER_AREA) for i in shown])
    z = _standardised(small.reshape(len(shown), -1), axis=1).reshape(-1, 16, 16)
    a, b = np.searchsorted(shown, found[:, 0]), np.searchsorted(shown, found[:, 1])
    keep = np.zeros(len(found), bool)
    for start in range(0, len(found), 65536):  # blocks: 65536 pairs of 256 floats at a time
        part = slice(start, start + 65536)
        other = np.where(found[part, 3, None, None] == 1, z[b[part]][:, :, ::-1], z[b[part]])
        keep[part] = np.abs(z[a[part]] - other).mean(axis=(1, 2)) <= PLAUSIBLE_LEVELS
    return found[keep]


def _agreement(a: np.ndarray, b: np.ndarray, sure: bool = True) -> float | None:
    """The correlation of two thumbnails' structure when they show the same picture, else None: at least
    ``MIN_CORRELATION``, and either ``SURE_CORRELATION`` (unless not ``sure``: a mirror match, where a
    symmetric scene's other half agrees in its edges) or standardised grey levels within ``MAX_LEVELS`` on
    average (a catalogue's look-alikes share their outline, so their edges agree; their insides do not)."""
    correlation = float((_structure(a) * _structure(b)).sum())
    if correlation < MIN_CORRELATION:
        return None
    if (sure and correlation >= SURE_CORRELATION) or np.abs(_standardised(a) - _standardised(b)).mean() <= MAX_LEVELS:
        return correlation
    return None


def _standardised(picture: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Zero mean, unit spread (per row with ``axis=1``)."""
    z = picture.astype(np.float32)
    return (z - z.mean(axis=axis, keepdims=True)) / (z.std(axis=axis, keepdims=True) + 1e-6)


def _structure(picture: np.ndarray) -> np.ndarray:
    """The Laplacian-of-Gaussian response of the standardised picture, zero mean and unit length: edges and
    blobs, whatever the grey levels."""
    response = cv2.Laplacian(cv2.GaussianBlur(_standardised(picture), (3, 3), 0), cv2.CV_32F)
    response -= response.mean()
    return response / (np.linalg.norm(response) + 1e-9)


def _kind(a: np.ndarray, b: np.ndarray, sizes: tuple | None) -> str:
    """What differs between two thumbnails of the same framing: the grey levels, the size, or only bytes."""
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    if abs(fa.mean() - fb.mean()) > 3 or not 0.95 < (fa.std() + 1e-6) / (fb.std() + 1e-6) < 1.05:
        return "tone"
    if sizes is not None and sizes[0] != sizes[1]:
        return "resized"
    return "re-encoded"
