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

**Moved framing.** A crop, a shift or a small turn moves every pixel, so the hashes are far apart (68 bits
for a 2-pixel crop), but the picture's *layout* (its 8x8 thumbnail, zero mean, unit length) stays close: on
benchmarks/bench_dedup.py's corpus the copy is the nearest layout of its original for 95-100% of them. Each
image with detail at the thumbnail's scale (no side under 64 pixels) is paired with its ``LAYOUT_NEIGHBOURS``
nearest layouts (faiss's inverted-file index: n^1.5, no switch of method at any size); a pair is kept when
enhanced-correlation alignment (Evangelidis and Psarakis 2008) finds a small motion (a crop or shift of up to
a fifth of a side, a turn of up to 8 degrees, no shear: two textures aligned by force need more) after which
their structure correlates to ``ALIGNED_CORRELATION``, the most different tenth of the pixels (an overlay)
left out. A layout neighbour that agrees unshifted (``MIN_UNSHIFTED``) is first checked as it is: like a hash
candidate when no shift agrees better, else only for an overlay (below). The hash search keeps only an
image's closest, and in a crowd of near-identical smooth pictures a darker copy can fall out of them, while
aligning a smooth picture can wander off (the holdout's two missed brightness copies).

**Overlays.** A watermark or caption over a smooth or noisy picture is most of its thumbnail's structure, so
the plain check rejects the copy. A pair that fails it is kept when, with the ``OVERLAY``-sized box where the
thumbnails differ most left out, the rest agrees near-totally (``OVERLAY_GREY`` and ``OVERLAY_CORRELATION``:
outside a box, tiles of one lattice from other places also agree well, up to 0.996 and 0.985).

**Recoloured.** A hue or saturation change moves the grey picture itself (which regions are brighter
changes), but not each pixel's brightest channel (HSV's value). Colour images also get a thumbnail and
hashes of their brightest channel, searched and checked the same way for the pairs the grey ones miss: on
benchmarks/bench_dedup.py's corpora the grey check missed 7% and 26% of the recoloured copies, whose
brightest channels agree at a structure correlation of 0.96-1.00. Only a second signature: JPEG's halved
colour resolution makes the brightest channel noisier than grey, which costs re-encoded and moved copies
when it is the only one (measured: 0.92 and 0.76 on the holdout).

**Small pictures** (64 px a side or less: CIFAR's 32, Fashion-MNIST's 28). Their copies are cut to other
proportions, zoomed and recoloured at once, and a JPEG re-encoding alone moves a flat one's hash by 12 bits, so
each is also paired with its ``SMALL_NEIGHBOURS`` nearest layouts and half as many to its mirror image's. Two with
a background of their own (``_grounded``, and grey levels spread over ``SMALL_CONTRAST``) are aligned with room
for ``SMALL_MAX_SCALE`` on one axis and kept when their grey levels and structure agree; others are kept only as
they are: near-totally, or when a brightness-and-contrast line between the two leaves almost nothing
(``_same_item``): items of one cut on a plain ground agree in outline however they are aligned. Set on CIFAR-10
(ciFAIR's audit) and Fashion-MNIST; Tiny ImageNet was not tuned on (benchmarks/bench_dedup.py).

**Blurred copies** (``_blurred``): a picture shrunk and blown up again keeps its 16x16 thumbnail but loses the
structure the other checks compare; kept when one has lost most of the other's fine detail.

**Kind.** ``flipped``, ``cropped``, ``shifted``, ``rotated`` (from the motion), ``colour`` (only the brightest
channels agree), ``overlaid`` (only with an overlay left out), ``tone`` (brightness, contrast, gamma or
colour: the thumbnails' mean or spread differ), ``resized`` (other pixel sizes) or ``re-encoded``; ``exact``
copies are found by their bytes before this module is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

THUMB = 64  # the thumbnail side: 4,096 bytes per image, kept for the check
MAX_BITS = 10  # of 64: the candidate radius
MIN_CORRELATION = 0.85  # of the Laplacian-of-Gaussian responses
SURE_CORRELATION = 0.93  # enough on its own; between the two, the grey levels must agree too
SMALL_CORRELATION = 0.98  # for a picture smaller than the thumbnail: Fashion-MNIST look-alikes reach 0.97
MAX_LEVELS = 0.06  # mean difference of the standardised thumbnails (in standard deviations)
PLAUSIBLE_LEVELS = 0.2  # the same at 16x16, before the check: a candidate further apart is not checked
NEIGHBOURS = 16  # per image at most, the closest
TABLES = 24  # permutations searched
WINDOW = 4  # index entries looked at on each side of a query, per table
GENERIC = WINDOW  # more images sharing a picture hash exactly than a window sees: searched as a crowd
LAYOUT = 8  # the layout's side: the coarse picture a crop, shift or small turn keeps
LAYOUT_NEIGHBOURS = 2  # per image, by layout
LAYOUT_PROBES = 16  # index cells searched per image: 98% of the exact nearest found on the corpus
MIN_LAYOUT = 0.6  # cosine of two layouts worth aligning
MIN_SHIFTED = 0.7  # the 16x16 thumbnails' correlation at their best whole-pixel shift: worth aligning
MIN_UNSHIFTED = 0.95  # the same unshifted: worth checking as they are first (copies measured 0.98-1.00)
SHIFT_REACH = 2  # pixels of 16, each way
COARSE = 32  # the side of the first alignment
MIN_COARSE_ALIGNMENT = 0.85  # the enhanced correlation at 32x32: a cheap test before the full alignment
ALIGNED_CORRELATION = 0.93  # the structure's, once aligned
MAX_SCALE = 1.2  # a crop of up to a sixth of a side, resized back
MAX_ROTATION = 8.0  # degrees
MAX_SHIFT = 0.2  # of a side
MAX_SHEAR = 0.05  # cosine of the angle between the motion's axes
TRIM = 0.1  # of the aligned pixels, those whose structure differs most: left out of the correlation
SMOOTH_ALIGNMENT = 0.99  # the grey levels' correlation once aligned: a smooth picture's copy, whose
SMOOTH_CORRELATION = 0.8  # structure is mostly JPEG noise, is kept at this structure correlation
OVERLAY = (12, 40)  # rows, columns of the thumbnail: the largest overlay (a caption, a watermark) left out
OVERLAY_CORRELATION = 0.99  # the structure's, outside the overlay: lattice tiles from other places reach 0.985
OVERLAY_GREY = 0.998  # the grey levels' correlation there: those lattice tiles reach 0.996
SMALL_SIDE = THUMB  # pixels: a side no longer and the thumbnail copies or blows the picture up, its JPEG noise kept
SMALL_CONTRAST = 10.0  # grey levels of spread under which a picture is near-flat: CIFAR's duplicates spread 22+
SMALL_NEIGHBOURS = 4  # per small picture, by layout; and half as many by its mirror image's layout
SMALL_SHIFTED = 0.6  # the 16x16 thumbnails' correlation at their best shift: a small pair worth aligning
SMALL_MAX_SCALE = 1.4  # per axis: a 32 px picture and its copy were often cut to other proportions
SMALL_COARSE = 0.8  # the enhanced correlation at 32x32 worth refining, for a small picture
SMALL_GREY = 0.92  # the grey levels' (trimmed) correlation once aligned, for a small picture with a background
SMALL_STRUCTURE = 0.65  # and its structure's, which a 32 px JPEG's blocks blur
BLURRED_CORRELATION = 0.98  # of the standardised 16x16 thumbnails, for a blurred copy
BLURRED_SHARPNESS = 0.6  # the blurred one's fine detail, at most, over the other's
ITEM_MEAN = 6.0  # grey levels: what a tone line fitted between two items on a plain ground may leave on average
ITEM_PEAK = 30.0  # and at its 99th percentile, at 32x32: look-alikes of one cut leave more along their outlines
FLAT_RING = 0.6  # of the border pixels within FLAT_LEVELS of their median: a plain ground, no background
FLAT_LEVELS = 2  # grey levels: a sky or a wall varies more; a scanned or rendered plain ground does not
MARGIN = 6  # pixels of the aligned thumbnail left out: the motion filled them with its border
_CHUNK = 512  # pairs a thread aligns at a time
_ECC_STOP = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-3)
_SEED = 20261204  # the permutations and the layout index's cells: fixed, so every run finds the same pairs
_DCT: np.ndarray | None = None
_TABLES: list[np.ndarray] | None = None


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The 64x64 area-averaged thumbnail of an 8-bit grey image."""
    return cv2.resize(gray, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def brightest(colour: np.ndarray) -> np.ndarray:
    """The brightest channel of an 8-bit colour image, per pixel (HSV's value): what a hue or saturation change
    keeps. OpenCV's per-plane maximum: a tenth of numpy's ``max(axis=2)`` time on a 4K photo."""
    planes = cv2.split(colour)
    return cv2.max(cv2.max(planes[0], planes[1]), planes[2])


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
class Colours:
    """The brightest-channel signatures of the colour ``images`` (ascending indices among all n): their
    ``thumbs`` (c, 64, 64) uint8 of ``brightest`` and ``hashes`` (c, 2) uint64 from ``codes``."""

    images: np.ndarray
    thumbs: np.ndarray
    hashes: np.ndarray


@dataclass(frozen=True)
class Match:
    """Images ``a`` < ``b`` are the same picture: the ``kind`` of difference, their hashes ``bits`` apart, the
    ``correlation`` of their structure."""

    a: int
    b: int
    kind: str
    bits: int
    correlation: float


def near_duplicates(
    thumbs: np.ndarray,
    hashes: np.ndarray,
    sizes: list[tuple[int, int]] | None = None,
    workers: int = 1,
    colours: Colours | None = None,
) -> list[Match]:
    """The matches among n images, in pair order: ``thumbs`` (n, 64, 64) uint8, ``hashes`` (n, 2) uint64 from
    ``codes``, ``sizes`` (width, height) per image to tell a resized copy from a re-encoded one, and which
    pictures have detail enough to align; the alignments run in ``workers`` threads. With the ``colours`` of
    the colour images, recoloured copies are found too."""
    framed = _same_framing(thumbs, hashes, sizes)
    if colours is not None:
        framed += _recoloured(thumbs, sizes, colours, {(m.a, m.b) for m in framed})
    moved = _moved_framing(thumbs, hashes, sizes, {(m.a, m.b) for m in framed}, workers)
    small = _small_framing(thumbs, hashes, sizes, {(m.a, m.b) for m in framed + moved}, workers)
    return sorted(framed + moved + small, key=lambda m: (m.a, m.b))


def _same_framing(thumbs: np.ndarray, hashes: np.ndarray, sizes: list[tuple[int, int]] | None) -> list[Match]:
    """The pairs whose hashes are close and whose thumbnails (one mirrored) agree as they are."""
    found = _plausible(thumbs, np.concatenate([candidates(hashes), _crowd_candidates(thumbs, hashes)]))
    detailed = _detailed(thumbs, sizes)
    matches: list[Match] = []
    looks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # rows come by image i: its look is made once
    for i, j, bits, mirrored in found.tolist():
        looks = looks if i in looks else {i: _look(thumbs[i])}
        b = _look(thumbs[j][:, ::-1] if mirrored else thumbs[j])
        both_detailed = bool(detailed[i] and detailed[j])
        correlation, kind = _agreement(looks[i], b, not mirrored, both_detailed), None
        if correlation is None and both_detailed and not mirrored:
            correlation, kind = _overlaid(looks[i], b), "overlaid"
        if correlation is None and not mirrored:
            correlation, kind = _blurred(thumbs[i], thumbs[j]), "resized"
        if correlation is not None:
            size = None if sizes is None else (sizes[i], sizes[j])
            kind = "flipped" if mirrored else kind or _kind(thumbs[i], thumbs[j], size)
            matches.append(Match(i, j, kind, bits, round(correlation, 3)))
    return matches


def _recoloured(thumbs: np.ndarray, sizes: list[tuple[int, int]] | None, colours: Colours,
                known: set[tuple[int, int]]) -> list[Match]:  # fmt: skip
    """The pairs, but those ``known``, whose brightest channels agree as they are: ``colour`` where their grey
    thumbnails do not (the grey search found the others but for its caps: they keep the kind grey gives)."""
    images, detailed = colours.images, _detailed(thumbs, sizes)
    subset = None if sizes is None else [sizes[i] for i in images]
    found = []
    for m in _same_framing(colours.thumbs, colours.hashes, subset):
        a, b = int(images[m.a]), int(images[m.b])
        if (a, b) in known:
            continue
        size = None if sizes is None else (sizes[a], sizes[b])
        if m.kind == "flipped":
            kind = m.kind
        elif _agreement(_look(thumbs[a]), _look(thumbs[b]), True, bool(detailed[a] and detailed[b])) is not None:
            kind = _kind(thumbs[a], thumbs[b], size)
        else:
            kind = "colour"
        found.append(Match(a, b, kind, m.bits, m.correlation))
    return found


def _moved_framing(thumbs: np.ndarray, hashes: np.ndarray, sizes: list[tuple[int, int]] | None,
                   known: set[tuple[int, int]], workers: int) -> list[Match]:  # fmt: skip
    """The pairs, but those ``known``, whose layouts are near and whose thumbnails agree once aligned."""

    def check(row: list[float]) -> Match | None:
        i, j, dy, dx, still = int(row[0]), int(row[1]), row[2], row[3], row[4]
        size = None if sizes is None else (sizes[i], sizes[j])
        bits = int(np.bitwise_count(hashes[i, 0] ^ hashes[j, 0]))
        if still and (unmoved := _unmoved(_look(thumbs[i]), _look(thumbs[j]), dy == dx == 0)) is not None:
            return Match(i, j, unmoved[1] or _kind(thumbs[i], thumbs[j], size), bits, round(unmoved[0], 3))
        start = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        aligned = _aligned(thumbs[i], thumbs[j], 1.0 if size is None else size[0][0] / size[0][1], start)
        if aligned is None:
            return None
        kind = _moved_kind(aligned[1]) or _kind(thumbs[i], thumbs[j], size)
        return Match(i, j, kind, bits, round(aligned[0], 3))

    pairs = layout_candidates(thumbs, _detailed(thumbs, sizes))
    pairs = pairs[[(i, j) not in known for i, j in pairs.tolist()]] if len(pairs) else pairs
    alike, shift, unshifted = _shifted_alike(thumbs, pairs)
    chosen = alike >= MIN_SHIFTED
    still = (unshifted[chosen] >= MIN_UNSHIFTED)[:, None]  # worth checking as they are first
    return _checked(check, np.concatenate([pairs[chosen], shift[chosen], still], axis=1).tolist(), workers)


def _small_framing(thumbs: np.ndarray, hashes: np.ndarray, sizes: list[tuple[int, int]] | None,
                   known: set[tuple[int, int]], workers: int) -> list[Match]:  # fmt: skip
    """The pairs, but those ``known``, of small pictures near by layout (one perhaps mirrored) that agree: once
    aligned where both have a background (``_grounded``), else as they are, as ``_agreement`` asks of a small
    picture. A 32 px copy (CIFAR's) is cropped, zoomed, shifted and recoloured at once, and its hash moves by
    half its bits (a JPEG re-encoding alone moves a flat picture's by 12); its layout stays among its picture's
    nearest, and its background confirms the match where an isolated item's outline could not (a catalogue's
    look-alikes)."""
    members = np.flatnonzero(_small(sizes, len(thumbs)))
    if len(members) < 2:
        return []
    pairs = _small_candidates(thumbs, members)  # rows: a < b, mirrored
    if len(pairs) and known:
        pairs = pairs[~np.isin(pairs[:, 0] * len(thumbs) + pairs[:, 1], [a * len(thumbs) + b for a, b in known])]
    contrasted, textured = np.zeros(len(thumbs), bool), np.zeros(len(thumbs), bool)
    contrasted[members] = _spread(thumbs, members) >= SMALL_CONTRAST
    textured[members] = _grounded(thumbs, members) & contrasted[members]
    both = textured[pairs[:, 0]] & textured[pairs[:, 1]]
    chosen, shift = np.zeros(len(pairs), bool), np.zeros((len(pairs), 2), np.float32)
    alike, shift[both], _ = _shifted_alike(thumbs, pairs[both, :2], pairs[both, 2].astype(bool))
    chosen[both] = alike >= SMALL_SHIFTED
    as_rows = np.concatenate([pairs[~both, :2], np.zeros((int((~both).sum()), 1), np.int64), pairs[~both, 2:]], 1)
    chosen[~both] = _plausible_mask(thumbs, as_rows)  # the others are checked as they are: the hash path's test

    def check(row: list[float]) -> Match | None:
        a, b, mirrored, dy, dx = int(row[0]), int(row[1]), int(row[2]), row[3], row[4]
        other = np.ascontiguousarray(thumbs[b][:, ::-1]) if mirrored else thumbs[b]
        aspect = 1.0 if sizes is None else sizes[a][0] / sizes[a][1]
        start = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
        agreed = _small_agreement(thumbs[a], other, bool(textured[a] and textured[b]),
                                  bool(contrasted[a] and contrasted[b]), aspect, start)  # fmt: skip
        if agreed is None:
            return None
        correlation, motion, kind = agreed
        size = None if sizes is None else (sizes[a], sizes[b])
        kind = "flipped" if mirrored else kind or _moved_kind(motion) or _kind(thumbs[a], thumbs[b], size)
        return Match(a, b, kind, int(np.bitwise_count(hashes[a, 0] ^ hashes[b, int(mirrored)])), round(correlation, 3))

    found = _checked(check, np.concatenate([pairs[chosen], shift[chosen]], axis=1).tolist(), workers)
    once: dict[tuple[int, int], Match] = {}  # a pair met both as it is and mirrored: as it is (rows come first)
    for m in found:
        once.setdefault((m.a, m.b), m)
    return list(once.values())


def _spread(thumbs: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The standard deviation of the grey levels of each of ``images``' thumbnails, a block at a time (a float
    copy of them all would be 16 KB an image)."""
    spread = np.empty(len(images), np.float32)
    for start in range(0, len(images), 4096):
        block = thumbs[images[start : start + 4096]].reshape(-1, THUMB * THUMB).astype(np.float32)
        spread[start : start + 4096] = block.std(axis=1)
    return spread


def _small_agreement(a: np.ndarray, b: np.ndarray, textured: bool, contrasted: bool, aspect: float,
                     start: np.ndarray) -> tuple[float, np.ndarray, str | None] | None:  # fmt: skip
    """Whether two small pictures' thumbnails are the same picture: (the correlation, the motion between them, a
    kind when the motion does not tell it) or None. Two ``textured`` pictures (a background of their own, and
    grey levels spread over ``SMALL_CONTRAST`` or more) are aligned first, then compared for a blur; others
    are compared as they are: their structure near-totally, or, both ``contrasted`` (an item on a plain ground),
    by what a tone line between them leaves. A near-flat picture (a patch of sky) is all JPEG noise once
    standardised: any two would align."""
    still = np.eye(2, 3, dtype=np.float64)
    if textured:
        aligned = _aligned(a, b, aspect, start, small=True)
        if aligned is not None:
            return aligned[0], aligned[1], None
        blurred = _blurred(a, b)
        return None if blurred is None else (blurred, still, "resized")
    correlation = _agreement(_look(a), _look(b), True, False)
    if correlation is None and contrasted:
        correlation = _same_item(a, b)
    return None if correlation is None else (correlation, still, None)


def _same_item(a: np.ndarray, b: np.ndarray) -> float | None:
    """When two thumbnails of small pictures without a background are the same picture however its tone was
    changed: the correlation of their grey levels, if the tone line (brightness and contrast) that best fits
    ``b``'s to ``a``'s leaves at most ``ITEM_MEAN`` levels on average and ``ITEM_PEAK`` at the 99th percentile,
    at 32x32. On Fashion-MNIST 5 of 33,786 look-alike neighbours pass, and 88-100% of tone-changed copies."""
    fa, fb = (cv2.resize(t, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() for t in (a, b))
    spread = float(fb.var())
    if spread < 1e-6:
        return None
    slope = float(((fa - fa.mean()) * (fb - fb.mean())).mean()) / spread
    left = np.abs(fa - fa.mean() - slope * (fb - fb.mean()))
    if left.mean() > ITEM_MEAN or np.quantile(left, 0.99) > ITEM_PEAK:
        return None
    return float(np.corrcoef(fa, fb)[0, 1])


def _blurred(a: np.ndarray, b: np.ndarray) -> float | None:
    """When one thumbnail is the other blurred (a picture shrunk and blown up again, which smooths away the
    structure the other checks compare): the correlation of their standardised 16x16 thumbnails, if at least
    ``BLURRED_CORRELATION`` and one keeps at most ``BLURRED_SHARPNESS`` of the other's fine detail. On Tiny
    ImageNet's 64 px pictures such copies measured 0.978-1.000 and 0.18 (at most 0.51), the closest other hash
    candidates 0.925; on the photo corpus its pairs above 0.98 (burst frames, lattice tiles) are both sharp."""
    small = [cv2.resize(t, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32) for t in (a, b)]
    za, zb = ((s - s.mean()) / (s.std() + 1e-6) for s in small)
    correlation = float((za * zb).mean())
    if correlation < BLURRED_CORRELATION:
        return None
    detail = [_detail(t) for t in (a, b)]
    return correlation if min(detail) <= BLURRED_SHARPNESS * max(detail) else None


def _detail(thumb: np.ndarray) -> float:
    """How much of a thumbnail's variance is fine detail: what a 5x5 Gaussian blur takes away, over the whole."""
    f = thumb.astype(np.float32)
    return float(((f - cv2.GaussianBlur(f, (5, 5), 0)) ** 2).mean() / (f.var() + 1e-6))


def _small_candidates(thumbs: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(m, 3) rows (image a < image b, mirrored 0/1) among the small pictures ``members``: each and its
    ``SMALL_NEIGHBOURS`` nearest by layout, and the nearest half as many to its mirror image's layout (the
    layout mirrored: an 8x8 area average commutes with the mirror), at least ``MIN_LAYOUT`` alike."""
    if len(members) < 2:
        return np.empty((0, 3), np.int64)
    flat = np.concatenate([layouts(thumbs[members[k : k + 4096]]) for k in range(0, len(members), 4096)])
    mirrors = np.ascontiguousarray(flat.reshape(-1, LAYOUT, LAYOUT)[:, :, ::-1].reshape(-1, LAYOUT * LAYOUT))
    rows = []
    for mirrored, queries, k in ((0, None, SMALL_NEIGHBOURS), (1, mirrors, SMALL_NEIGHBOURS // 2)):
        similarity, nearest = _nearest(flat, k, queries)
        image = np.repeat(np.arange(len(flat)), nearest.shape[1])
        keep = (nearest.ravel() >= 0) & (similarity.ravel() >= MIN_LAYOUT)
        pair = np.sort(members[np.stack([image[keep], nearest.ravel()[keep]], axis=1)], axis=1)
        rows.append(np.concatenate([pair, np.full((len(pair), 1), mirrored)], axis=1))
    found = np.concatenate(rows).astype(np.int64)
    return np.unique(found[found[:, 0] != found[:, 1]], axis=0)


def _grounded(thumbs: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Which of ``images`` have a background of their own: fewer than ``FLAT_RING`` of their thumbnail's border
    pixels within ``FLAT_LEVELS`` of those pixels' median. An item on a plain ground (Fashion-MNIST, a product
    shot) has none: once aligned, two such items of one cut agree as well as a copy does (trousers at 0.985)."""
    grounded = np.empty(len(images), bool)
    for start in range(0, len(images), 4096):  # a block at a time: the median works in float64
        some = images[start : start + 4096]
        ring = np.concatenate([thumbs[some, :2].reshape(len(some), -1), thumbs[some, -2:].reshape(len(some), -1),
                               thumbs[some, :, :2].reshape(len(some), -1),
                               thumbs[some, :, -2:].reshape(len(some), -1)], axis=1).astype(np.int16)  # fmt: skip
        level = np.median(ring, axis=1, keepdims=True)
        grounded[start : start + 4096] = (np.abs(ring - level) <= FLAT_LEVELS).mean(axis=1) < FLAT_RING
    return grounded


def _unmoved(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], best: bool
) -> tuple[float, str | None] | None:
    """A layout neighbour checked as it is: (the correlation, ``overlaid`` or None for the kind the grey levels
    give) if it passes, like a hash candidate where no shift matches it better (``best``); else only when it
    agrees near-totally outside an overlay: two tiles of one lattice agree well unshifted, and better shifted
    by their period."""
    correlation = _agreement(a, b, True, True) if best else None
    if correlation is not None:
        return correlation, None
    correlation = _overlaid(a, b)
    return None if correlation is None else (correlation, "overlaid")


def _checked(check: Callable[[Any], Match | None], rows: list, workers: int) -> list[Match]:
    """The matches ``check`` finds among ``rows``, in their order; in ``workers`` threads, a chunk of rows
    each at a time. For the alignments, whose OpenCV calls let go of the interpreter lock: 2 threads align 1.7x
    as fast as one (100,000 images); the same-framing check, short numpy calls, ran 1.8x slower in 2 threads."""
    if workers < 2 or len(rows) < 2 * _CHUNK:
        found = [check(row) for row in rows]
    else:
        chunks = [rows[k : k + _CHUNK] for k in range(0, len(rows), _CHUNK)]
        with ThreadPoolExecutor(workers) as pool:
            found = [m for part in pool.map(lambda chunk: [check(row) for row in chunk], chunks) for m in part]
    return [m for m in found if m is not None]


def _shifted_alike(
    thumbs: np.ndarray, pairs: np.ndarray, mirrored: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair, how alike the two 16x16 thumbnails are at their best whole-pixel shift (up to ``SHIFT_REACH``
    pixels: an eighth of a side each), as a correlation over the overlap, that shift in thumbnail pixels
    (dy, dx: where ``a``'s content lies in ``b``), and how alike they are unshifted. A cheap test, all pairs
    at once, before the alignment."""
    best, shift = np.full(len(pairs), -1.0, np.float32), np.zeros((len(pairs), 2), np.float32)
    unshifted = best.copy()
    if not len(pairs):
        return best, shift, unshifted
    shown = np.unique(pairs)
    small = _sixteens(thumbs, shown).astype(np.float32)
    a, b = np.searchsorted(shown, pairs[:, 0]), np.searchsorted(shown, pairs[:, 1])
    for dy in range(-SHIFT_REACH, SHIFT_REACH + 1):
        for dx in range(-SHIFT_REACH, SHIFT_REACH + 1):
            for start in range(0, len(pairs), 8192):  # blocks: 8192 pairs of 256 floats at a time
                part = slice(start, start + 8192)
                other = small[b[part]]
                if mirrored is not None:  # the second one's mirror image, where asked
                    other = np.where(mirrored[part, None, None], other[:, :, ::-1], other)
                pa, pb = small[a[part]][:, _overlap(dy), _overlap(dx)], other[:, _overlap(-dy), _overlap(-dx)]
                pa = pa - pa.mean(axis=(1, 2), keepdims=True)
                pb = pb - pb.mean(axis=(1, 2), keepdims=True)
                norms = np.sqrt((pa * pa).sum(axis=(1, 2)) * (pb * pb).sum(axis=(1, 2))) + 1e-6
                alike = (pa * pb).sum(axis=(1, 2)) / norms
                better = alike > best[part]
                if dy == dx == 0:
                    unshifted[part] = alike
                best[part] = np.where(better, alike, best[part])
                shift[part] = np.where(better[:, None], [-dy * THUMB / 16, -dx * THUMB / 16], shift[part])
    return best, shift, unshifted


def _sixteens(thumbs: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The 16x16 area-averaged thumbnails (uint8) of ``images``: what the cheap tests compare."""
    return np.stack([cv2.resize(thumbs[i], (16, 16), interpolation=cv2.INTER_AREA) for i in images])


def _overlap(offset: int) -> slice:
    """The rows (or columns) of a 16-pixel side that a shift by ``offset`` keeps."""
    return slice(max(offset, 0), 16 + min(offset, 0))


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
    found, pending = np.empty((0, 4), np.int64), []
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
            row = np.stack([query // 2, image, bits[query], query % 2], axis=1).astype(np.int64)
            row[:, :2].sort(axis=1)
            rows.append(row)
        pending.append(np.concatenate(rows))
        if sum(map(len, pending)) > 2 * n * NEIGHBOURS:  # memory stays a few n x NEIGHBOURS rows
            found, pending = _closest(np.concatenate([found, *pending]), n), []
    return _closest(np.concatenate([found, *pending]), n)


def _crowd_candidates(thumbs: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Candidates inside each crowd of images sharing a generic picture hash, rows as ``candidates`` makes them
    (0 bits): each member and the members beside it in ``TABLES`` orders of their 16x16 thumbnails projected on
    a random direction, the ``NEIGHBOURS`` nearest kept. Sorted neighbourhoods again, so a crowd of a million
    blank images costs n log n, not n^2."""
    index = np.ascontiguousarray(hashes[:, 0])
    crowded = np.flatnonzero(_generic(index))
    if not len(crowded):
        return np.empty((0, 4), np.int64)
    small = _sixteens(thumbs, crowded)
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


def layout_candidates(thumbs: np.ndarray, among: np.ndarray) -> np.ndarray:
    """(m, 2) pairs (image i < image j) of the images ``among`` selects (a bool mask): each image and its
    ``LAYOUT_NEIGHBOURS`` nearest by layout, at least ``MIN_LAYOUT`` alike, each pair once, in pair order."""
    members = np.flatnonzero(among)
    if len(members) < 2:
        return np.empty((0, 2), np.int64)
    similarity, nearest = _nearest(layouts(thumbs[members]), LAYOUT_NEIGHBOURS)
    image = np.repeat(members, nearest.shape[1])
    keep = (nearest.ravel() >= 0) & (similarity.ravel() >= MIN_LAYOUT)
    pairs = np.stack([image[keep], members[nearest.ravel()[keep]]], axis=1)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    return np.unique(pairs, axis=0)


def layouts(thumbs: np.ndarray) -> np.ndarray:
    """(n, 64) float32: each thumbnail at 8x8, zero mean and unit length. A crop, shift or rotation of a few
    percent moves each of its cells by under a cell, so a copy stays among an image's nearest layouts (on
    benchmarks/bench_dedup.py's corpus the nearest of 95-100% of them)."""
    small = np.stack([cv2.resize(t, (LAYOUT, LAYOUT), interpolation=cv2.INTER_AREA) for t in thumbs])
    flat = small.reshape(len(thumbs), -1).astype(np.float32)
    flat -= flat.mean(axis=1, keepdims=True)
    return flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6)


def _nearest(vectors: np.ndarray, k: int, queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other vectors of each (cosine, index; index -1 where fewer were found), by an
    inverted-file index: k-means cells, each vector compared with those of its ``LAYOUT_PROBES`` nearest
    cells. Seeded, so every run finds the same pairs. With ``queries`` (one per vector: its mirror image's),
    the nearest to each query, its own vector left out."""
    import faiss  # lazy: 0.2 s, only a search of more than one image needs it

    n, dimensions = vectors.shape
    cells = min(int(4 * n**0.5), n // 39)  # faiss wants 39 training vectors per cell
    index: faiss.Index = faiss.IndexFlatIP(dimensions)  # one cell holding them all: no training (nor warning)
    if cells >= 2:
        cellular = faiss.IndexIVFFlat(index, dimensions, cells, faiss.METRIC_INNER_PRODUCT)
        cellular.cp.seed = _SEED
        cellular.train(vectors)
        cellular.nprobe = min(cells, LAYOUT_PROBES)
        index = cellular
    index.add(vectors)
    similarity, nearest = index.search(vectors if queries is None else queries, k + 1)
    own = nearest == np.arange(n)[:, None]  # each finds itself, unless k others are as near
    return np.where(own, -1.0, similarity), np.where(own, -1, nearest)


def _small(sizes: list[tuple[int, int]] | None, n: int) -> np.ndarray:
    """The pictures the small-picture rules apply to: a side of ``SMALL_SIDE`` or less."""
    return np.zeros(n, bool) if sizes is None else np.array([min(size) <= SMALL_SIDE for size in sizes], bool)


def _detailed(thumbs: np.ndarray, sizes: list[tuple[int, int]] | None) -> np.ndarray:
    """The images with detail at the thumbnail's scale: no side shorter than it. A smaller picture, blown up,
    has only its outline to align on, and a catalogue's look-alikes share theirs."""
    if sizes is None:
        return np.ones(len(thumbs), bool)
    return np.array([min(size) >= THUMB for size in sizes], bool)


def _aligned(
    a: np.ndarray, b: np.ndarray, aspect: float, start: np.ndarray, small: bool = False
) -> tuple[float, np.ndarray] | None:
    """When thumbnail ``b`` is ``a`` cropped, shifted or turned a little: the correlation of their structure
    once aligned, and the motion (2x3, ``a``'s pixels to ``b``'s, in the picture's proportions). Enhanced-
    correlation alignment (Evangelidis and Psarakis 2008) at 32x32, refined at 64x64; the motion must be a small
    one, and the aligned structure agree to ``ALIGNED_CORRELATION`` inside a margin the motion may have filled
    (or to ``SMOOTH_CORRELATION`` where the grey levels agree to ``SMOOTH_ALIGNMENT``: a smooth picture).
    ``aspect``: ``a``'s width over its height, which the square thumbnail squeezed (a turn of the picture is a
    shear of its thumbnail). ``start``: the motion to start from (thumbnail pixels). A ``small`` picture's
    copy may be scaled by up to ``SMALL_MAX_SCALE`` and must agree to ``SMALL_GREY`` and ``SMALL_STRUCTURE``."""
    first = start.copy()
    first[:, 2] *= COARSE / THUMB
    motion = _ecc(a, b, COARSE, first)
    if motion is None or motion[0] < (SMALL_COARSE if small else MIN_COARSE_ALIGNMENT):
        return None
    coarse = motion[1]
    coarse[:, 2] *= THUMB / COARSE
    refined = _ecc(a, b, THUMB, coarse)
    if refined is None or not _small_motion(_unsqueezed(refined[1], aspect), SMALL_MAX_SCALE if small else MAX_SCALE):
        return None
    structure, grey = _agreement_under(a, b, refined[1], small)
    if small:
        passed = grey >= SMALL_GREY and structure >= SMALL_STRUCTURE
    else:
        passed = structure >= ALIGNED_CORRELATION or (grey >= SMOOTH_ALIGNMENT and structure >= SMOOTH_CORRELATION)
    if passed:
        return structure, _unsqueezed(refined[1], aspect)
    return None


def _agreement_under(a: np.ndarray, b: np.ndarray, motion: np.ndarray, small: bool = False) -> tuple[float, float]:
    """With ``b`` moved onto ``a`` by ``motion``: the (trimmed) correlation of their structure and that of their
    grey levels, inside a margin the motion may have filled; trimmed too for a ``small`` picture, where a sticker
    or a caption is most of what differs."""
    warped = cv2.warpAffine(b, motion, (THUMB, THUMB), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    inner = slice(MARGIN, THUMB - MARGIN)
    za, zb = _standardised(a[inner, inner]), _standardised(warped[inner, inner])
    grey = _trimmed_correlation(za, zb) if small else float((za * zb).mean())
    return _trimmed_correlation(_structure(za), _structure(zb)), grey


def _trimmed_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The correlation of two structures but where they differ most (``TRIM`` of the pixels): an overlay
    (a watermark, a caption) changes a small part of a picture a lot."""
    keep = np.abs(a - b).ravel()
    keep = keep <= np.quantile(keep, 1 - TRIM)
    fa, fb = a.ravel()[keep], b.ravel()[keep]
    fa, fb = fa - fa.mean(), fb - fb.mean()
    return float(fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb) + 1e-9))


def _ecc(a: np.ndarray, b: np.ndarray, side: int, start: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The affine motion from ``start`` that best correlates ``b`` with ``a`` at ``side`` pixels, and that
    correlation; None when it does not converge."""
    fa, fb = (cv2.resize(t, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) for t in (a, b))
    try:
        everywhere = np.ones((side, side), np.uint8)  # the mask: the whole picture
        correlation, motion = cv2.findTransformECC(fa, fb, start, cv2.MOTION_AFFINE, _ECC_STOP, everywhere, 3)
        return correlation, np.asarray(motion)
    except cv2.error:  # the images do not correlate enough to iterate on
        return None


def _unsqueezed(motion: np.ndarray, aspect: float) -> np.ndarray:
    """The motion of the square thumbnails as the picture's own (width over height ``aspect``)."""
    picture = motion.astype(np.float64)
    picture[0, 1] *= aspect
    picture[1, 0] /= aspect
    return picture


def _small_motion(motion: np.ndarray, max_scale: float = MAX_SCALE) -> bool:
    """A crop or shift of up to ``MAX_SHIFT`` of a side, a scale within ``max_scale``, a turn of up to
    ``MAX_ROTATION`` degrees, and no shear: what copying does, not what two textures aligned by force show."""
    linear = motion[:, :2].astype(np.float64)
    scales = np.linalg.norm(linear, axis=0)
    shear = abs(linear[:, 0] @ linear[:, 1]) / (scales[0] * scales[1])
    turn = abs(np.degrees(np.arctan2(linear[1, 0], linear[0, 0])))
    return bool((np.abs(np.log(scales)) <= np.log(max_scale)).all() and shear <= MAX_SHEAR
                and turn <= MAX_ROTATION and np.abs(motion[:, 2]).max() <= MAX_SHIFT * THUMB)  # fmt: skip


def _moved_kind(motion: np.ndarray) -> str | None:
    """``rotated``, ``cropped`` (scaled) or ``shifted``; None for no motion to speak of (the same framing)."""
    linear = motion[:, :2].astype(np.float64)
    if abs(np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))) >= 1.5:
        return "rotated"
    if np.abs(np.linalg.norm(linear, axis=0) - 1).max() >= 0.02:
        return "cropped"
    if np.abs(motion[:, 2]).max() >= 0.5:
        return "shifted"
    return None


def _generic(index: np.ndarray) -> np.ndarray:
    """Images whose picture hash more than ``GENERIC`` images share exactly: no picture of their own to speak
    of (a plain background, a catalogue's centred item) for a hash to tell apart."""
    _, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    return counts[inverse] > GENERIC


def _each_pair_once(rows: np.ndarray, n: int) -> np.ndarray:
    """Each image pair once, at its lowest cost (column 2, 0-63), not mirrored where both are as cheap (column 3,
    where there is one), in pair order: a pair, its cost and the mirror flag sort as one integer, so one sort
    of a flat array does it (a row-gathering argsort took 3x as long at 100,000 images)."""
    if not len(rows):
        return rows
    flagged = rows.shape[1] > 3
    keys = np.sort(((rows[:, 0] * n + rows[:, 1]) * 64 + rows[:, 2]) * 2 + (rows[:, 3] if flagged else 0))
    pair = keys >> 7
    first = np.r_[True, pair[1:] != pair[:-1]]
    keys, pair = keys[first], pair[first]
    columns = [pair // n, pair % n, (keys >> 1) & 63] + ([keys & 1] if flagged else [])
    return np.stack(columns, axis=1)


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
    """Each row's place among the rows of its image, cheapest first, the first row first among equals."""
    keys = np.sort((image * 64 + cost) * len(image) + np.arange(len(image)))  # distinct, and a flat sort
    order, ordered = keys % len(image), keys // len(image) // 64
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
    return found[_plausible_mask(thumbs, found)] if len(found) else found


def _plausible_mask(thumbs: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Which of the candidate rows (i, j, bits, mirrored) ``_plausible`` keeps."""
    if not len(found):
        return np.zeros(0, bool)
    shown = np.unique(found[:, :2])
    small = _sixteens(thumbs, shown)
    z = small.astype(np.float32)
    z = (z - z.mean(axis=(1, 2), keepdims=True)) / (z.std(axis=(1, 2), keepdims=True) + 1e-6)
    a, b = np.searchsorted(shown, found[:, 0]), np.searchsorted(shown, found[:, 1])
    keep = np.zeros(len(found), bool)
    for start in range(0, len(found), 16384):  # blocks: 16384 pairs of 256 floats at a time
        part = slice(start, start + 16384)
        other = np.where(found[part, 3, None, None] == 1, z[b[part]][:, :, ::-1], z[b[part]])
        keep[part] = np.abs(z[a[part]] - other).mean(axis=(1, 2)) <= PLAUSIBLE_LEVELS
    return keep


def _agreement(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], sure: bool, detailed: bool
) -> float | None:
    """The correlation of two thumbnails' structure (their ``_look``) when they show the same picture, else None:
    at least ``MIN_CORRELATION``, and either ``SURE_CORRELATION`` (unless not ``sure``: a mirror match, where a
    symmetric scene's other half agrees in its edges) or standardised grey levels within ``MAX_LEVELS`` on
    average (a catalogue's look-alikes share their outline, so their edges agree; their insides do not). Unless
    both pictures are ``detailed``: then ``SMALL_CORRELATION`` (a blown-up item is little but its outline)."""
    correlation = float((a[1] * b[1]).sum())
    if not detailed:
        return correlation if correlation >= SMALL_CORRELATION else None
    if correlation < MIN_CORRELATION:
        return None
    if (sure and correlation >= SURE_CORRELATION) or cv2.norm(a[0], b[0], cv2.NORM_L1) / a[0].size <= MAX_LEVELS:
        return correlation
    return None


def _overlaid(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float | None:
    """When ``b`` is ``a`` under an overlay (a watermark, a caption): the correlation of their structure outside
    the ``OVERLAY``-sized box where they differ most, if it is near-total there (``OVERLAY_CORRELATION``, and
    the grey levels' to ``OVERLAY_GREY``), else None. Near-total, because outside a box two tiles of one
    lattice also agree well. Sums over the whole thumbnail less those over the box: no copies."""
    box = cv2.boxFilter(cv2.absdiff(a[0], b[0]), -1, OVERLAY[::-1], borderType=cv2.BORDER_CONSTANT)
    y, x = np.unravel_index(int(box.argmax()), box.shape)
    rows = slice(max(0, y - OVERLAY[0] // 2 - 2), y + (OVERLAY[0] + 1) // 2 + 2)  # the box and the two pixels
    columns = slice(max(0, x - OVERLAY[1] // 2 - 2), x + (OVERLAY[1] + 1) // 2 + 2)  # its edges blur into
    grey = _outside_correlation(a[0], b[0], rows, columns)
    if grey < OVERLAY_GREY:
        return None
    structure = _outside_correlation(a[1], b[1], rows, columns)
    return structure if structure >= OVERLAY_CORRELATION else None


def _outside_correlation(a: np.ndarray, b: np.ndarray, rows: slice, columns: slice) -> float:
    """The correlation of two pictures outside a rectangle (0 where one is flat there), in float64: the
    thresholds it meets are within a thousandth of 1."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    inner_a, inner_b = a[rows, columns], b[rows, columns]
    n = a.size - inner_a.size
    sa, sb = a.sum() - inner_a.sum(), b.sum() - inner_b.sum()
    spread_a = np.vdot(a, a) - np.vdot(inner_a, inner_a) - sa * sa / n
    spread_b = np.vdot(b, b) - np.vdot(inner_b, inner_b) - sb * sb / n
    if min(spread_a, spread_b) <= 1e-9 * n:
        return 0.0
    return float((np.vdot(a, b) - np.vdot(inner_a, inner_b) - sa * sb / n) / np.sqrt(spread_a * spread_b))


def _look(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A thumbnail standardised, and its structure: what ``_agreement`` compares."""
    z = _standardised(picture)
    return z, _structure(z)


def _standardised(picture: np.ndarray) -> np.ndarray:
    """A picture at zero mean and unit spread, float32 (OpenCV's one pass: a fifth of numpy's time here)."""
    z = picture.astype(np.float32)
    mean, spread = cv2.meanStdDev(z)
    return (z - np.float32(mean[0, 0])) / np.float32(spread[0, 0] + 1e-6)


def _structure(z: np.ndarray) -> np.ndarray:
    """The Laplacian-of-Gaussian response of a standardised picture, zero mean and unit length: edges and
    blobs, whatever the grey levels."""
    response = cv2.Laplacian(cv2.GaussianBlur(z, (3, 3), 0), cv2.CV_32F)
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
