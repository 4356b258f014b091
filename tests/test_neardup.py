"""The near-duplicate signature, search and check (expander.neardup), on planted hashes and pictures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from expander import neardup


def random_hashes(n: int, seed: int = 0) -> np.ndarray:
    """(n, 2) random picture and mirror hashes."""
    return np.random.default_rng(seed).integers(0, 2**63, (n, 2), dtype=np.uint64) * 2 + 1


def moved(hash_: np.uint64, bits: int, rng: np.random.Generator) -> np.uint64:
    """``hash_`` with ``bits`` distinct bits flipped: exactly ``bits`` apart."""
    mask = 0
    for bit in rng.choice(64, bits, replace=False).tolist():
        mask |= 1 << bit
    return np.uint64(int(hash_) ^ mask)


def planted(n: int, distances: list[int], seed: int = 1) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Random hashes with a copy of the first few at each of ``distances`` bits appended; the planted pairs."""
    rng = np.random.default_rng(seed)
    hashes = random_hashes(n, seed)
    copies = [[moved(hashes[k, 0], d, rng), np.uint64(rng.integers(0, 2**63))] for k, d in enumerate(distances)]
    return np.concatenate([hashes, np.array(copies, np.uint64)]), {(k, n + k) for k in range(len(distances))}


def test_the_search_finds_every_planted_pair_within_the_radius_and_none_beyond() -> None:
    distances = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 3 + [11, 12, 16, 24]
    hashes, pairs = planted(5000, distances)
    found = neardup.candidates(hashes)
    within = {(k, 5000 + k) for k, d in enumerate(distances) if d <= neardup.MAX_BITS}
    assert within <= {(i, j) for i, j in found[:, :2].tolist()}
    assert not ({(i, j) for i, j in found[:, :2].tolist()} & (pairs - within))
    assert (found[:, 0] < found[:, 1]).all() and (found[:, 2] <= neardup.MAX_BITS).all()
    brute = np.bitwise_count(hashes[found[:, 0], 0] ^ hashes[found[:, 1], 0 + found[:, 3]])
    assert (brute == found[:, 2]).all()  # the bits reported are the bits between the hashes compared


def test_a_mirror_hash_meeting_a_picture_hash_is_reported_mirrored() -> None:
    hashes = random_hashes(300)
    hashes[299, 1] = hashes[7, 0]  # image 299's mirror image is image 7
    found = {(i, j): (bits, mirrored) for i, j, bits, mirrored in neardup.candidates(hashes).tolist()}
    assert found[7, 299] == (0, 1)


def test_the_search_is_repeatable_and_a_crowd_of_equal_hashes_stays_bounded() -> None:
    hashes = random_hashes(2000)
    hashes[:500, 0] = hashes[0, 0]  # 500 catalogue look-alikes with one hash
    first, second = neardup.candidates(hashes), neardup.candidates(hashes)
    assert np.array_equal(first, second)
    assert not np.isin(first[:, :2], np.arange(500)).any()  # the crowd is searched within itself only
    thumbs = np.random.default_rng(3).integers(0, 255, (2000, 64, 64), dtype=np.uint8)
    crowd = neardup._crowd_candidates(thumbs, hashes)
    assert len(crowd) <= 500 * neardup.NEIGHBOURS and set(np.unique(crowd[:, :2]).tolist()) <= set(range(500))


def photo(seed: int, shape=(96, 128)) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 255, (6, 8), dtype=np.uint8)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def test_a_tone_change_keeps_the_hash_and_a_mirror_image_swaps_the_two() -> None:
    thumb = neardup.thumbnail(photo(1))
    darker, lighter = (thumb * 0.6).astype(np.uint8), (255 * (thumb / 255) ** 0.7).astype(np.uint8)
    for toned in (darker, lighter):  # the order of the pixels is kept (but where rounding merges two values)
        assert np.bitwise_count(neardup.codes(toned) ^ neardup.codes(thumb)).max() <= 2
    codes, mirrored = neardup.codes(thumb), neardup.codes(np.ascontiguousarray(thumb[:, ::-1]))
    assert mirrored[0] == codes[1] and mirrored[1] == codes[0]


def test_copies_are_found_with_their_kind_and_other_pictures_are_not() -> None:
    pictures = [photo(seed) for seed in range(40)]
    original = pictures[5]
    pictures += [
        (original.astype(np.float32) * 0.8).astype(np.uint8),  # 40: darker
        cv2.resize(cv2.resize(original, (64, 48), interpolation=cv2.INTER_AREA), (128, 96)),  # 41: resized
        np.ascontiguousarray(original[:, ::-1]),  # 42: mirrored
    ]
    sizes = [(128, 96)] * 41 + [(64, 48), (128, 96)]
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    found = {(m.a, m.b): m.kind for m in neardup.near_duplicates(thumbs, hashes, sizes)}
    assert found == {(5, 40): "tone", (5, 41): "resized", (5, 42): "flipped", (40, 41): "tone", (40, 42): "flipped",
                     (41, 42): "flipped"}  # fmt: skip


def test_a_crop_a_shift_and_a_small_turn_are_found_by_their_layout_and_named() -> None:
    pictures = [photo(seed, (240, 320)) for seed in range(40)]
    original = pictures[7]
    turn = cv2.getRotationMatrix2D((160, 120), 4, 1.0)
    pictures += [
        cv2.resize(original[12:228, 16:304], (320, 240), interpolation=cv2.INTER_AREA),  # 40: cropped 5%, resized
        cv2.warpAffine(original, np.float32([[1, 0, 18], [0, 1, -12]]), (320, 240), borderMode=cv2.BORDER_REFLECT),
        cv2.warpAffine(original, turn, (320, 240), borderMode=cv2.BORDER_REFLECT),  # 42: turned 4 degrees
    ]
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    found = {(m.a, m.b): m.kind for m in neardup.near_duplicates(thumbs, hashes, [(320, 240)] * 43)}
    assert {pair: kind for pair, kind in found.items() if 7 in pair} == {
        (7, 40): "cropped",
        (7, 41): "shifted",
        (7, 42): "rotated",
    }
    assert set(found) <= {(7, 40), (7, 41), (7, 42), (40, 41), (40, 42), (41, 42)}  # no other picture


def test_pictures_smaller_than_the_thumbnail_are_left_out_of_the_photo_layout_search() -> None:
    # Blown up, a 28-pixel item has only its outline to align on: the photo rules do not apply to it.
    thumbs = np.stack([neardup.thumbnail(photo(seed, (28, 28))) for seed in range(3)])
    assert neardup._detailed(thumbs, [(28, 28), (64, 80), (80, 64)]).tolist() == [False, True, True]
    assert neardup.layout_candidates(thumbs, np.array([True, False, False])).shape == (0, 2)


def item(texture_seed: int) -> np.ndarray:
    """A 28x28 catalogue item on a black ground: one cut (a trouser's outline), its inside a shade and a mild
    texture drawn by the seed."""
    rng = np.random.default_rng(texture_seed)
    texture = cv2.resize(rng.integers(-15, 15, (7, 7)).astype(np.float32), (28, 28)) + rng.integers(120, 220)
    inside = np.clip(texture, 0, 255).astype(np.uint8)
    cut = np.zeros((28, 28), np.uint8)
    cut[2:26, 9:19] = 1
    cut[14:26, 13:15] = 0  # between the legs
    return inside * cut


def test_a_picture_has_a_background_unless_most_of_its_border_is_one_plain_level() -> None:
    plain = [item(seed) for seed in range(3)]
    sky = np.tile(np.linspace(90, 200, 28, dtype=np.float32)[:, None], (1, 28)).astype(np.uint8)
    textured = photo(4, (28, 28))
    thumbs = np.stack([neardup.thumbnail(p) for p in [*plain, sky, textured]])
    assert neardup._grounded(thumbs, np.arange(5)).tolist() == [False, False, False, True, True]


def test_a_32_pixel_copy_cut_to_other_proportions_zoomed_and_re_encoded_is_found() -> None:
    # CIFAR's duplicates: the same shot cut to other proportions (a fifth of its height), recoloured, re-encoded.
    pictures = [photo(seed, (32, 32)) for seed in range(60)]
    cut = cv2.resize(pictures[5][3:29, :], (32, 32), interpolation=cv2.INTER_AREA)  # 0.81 of the height
    darker = (cut.astype(np.float32) * 0.85).astype(np.uint8)
    pictures.append(cv2.imdecode(cv2.imencode(".jpg", darker, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], 0))  # 60
    pictures.append(np.ascontiguousarray(pictures[9][:, ::-1]))  # 61: mirrored
    symmetric = np.concatenate([pictures[12][:, :16], pictures[12][:, :16][:, ::-1]], axis=1)
    pictures[12] = symmetric  # its mirror image is itself
    pictures.append(cv2.imdecode(cv2.imencode(".jpg", symmetric, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], 0))  # 62
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    matches = neardup.near_duplicates(thumbs, hashes, [(32, 32)] * 63)
    found = {(m.a, m.b): m.kind for m in matches}
    assert found == {(5, 60): "cropped", (9, 61): "flipped", (12, 62): "re-encoded"}
    assert len(matches) == len(found)  # a symmetric picture's copy meets it as it is and mirrored: reported once
    first = neardup._aligned(thumbs[5], thumbs[60], 1.0, np.eye(2, 3, dtype=np.float32))
    assert first is None  # the photo rules refuse it: a zoom of 1.23 on one axis is beyond them


def test_an_item_on_a_plain_ground_is_matched_when_only_its_tone_changed_not_by_its_cut() -> None:
    # Fashion-MNIST's trousers (sample_data): one cut, outlines that agree; a copy is told apart by what a tone
    # line fitted between the two leaves.
    folder = Path(__file__).parent.parent / "sample_data" / "fashion_mnist"
    trousers = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*/trouser/*.png"))]
    original = trousers[0]
    toned = np.clip(original.astype(np.float32) * 1.3 - 20, 0, 255).astype(np.uint8)  # contrast up, darker
    re_encoded = cv2.imdecode(cv2.imencode(".jpg", original, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], 0)
    moved = np.roll(original, 2, axis=1)
    pictures = [*trousers, toned, re_encoded, moved]
    n = len(trousers)
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    found = {(m.a, m.b) for m in neardup.near_duplicates(thumbs, hashes, [(28, 28)] * len(pictures))}
    assert n >= 40 and not neardup._grounded(thumbs, np.arange(n)).any()
    assert found == {(0, n), (0, n + 1), (n, n + 1)}  # no two trousers, and not the moved one (a limit)


def test_the_layout_search_finds_each_nearest_layout_like_an_exact_search() -> None:
    rng = np.random.default_rng(4)
    thumbs = rng.integers(0, 255, (3000, 64, 64), dtype=np.uint8)
    thumbs[2000:2100] = np.clip(thumbs[:100].astype(np.int16) + rng.integers(-20, 20, (100, 64, 64)), 0, 255)
    found = {tuple(p) for p in neardup.layout_candidates(thumbs, np.ones(3000, bool)).tolist()}
    assert {(k, 2000 + k) for k in range(100)} <= found  # each noisy copy, beside thousands of random pictures
    assert np.array_equal(neardup.layout_candidates(thumbs, np.ones(3000, bool)), np.array(sorted(found)))


def test_aligning_in_threads_finds_the_same_matches_in_the_same_order(monkeypatch) -> None:
    pictures = [photo(seed, (240, 320)) for seed in range(30)]
    for k in range(0, 30, 3):  # a shifted copy of every third picture
        pictures.append(cv2.warpAffine(pictures[k], np.float32([[1, 0, 12], [0, 1, 9]]), (320, 240),
                                       borderMode=cv2.BORDER_REFLECT))  # fmt: skip
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    sizes = [(320, 240)] * len(pictures)
    alone = neardup.near_duplicates(thumbs, hashes, sizes, workers=1)
    monkeypatch.setattr(neardup, "_CHUNK", 1)  # every pair a chunk of its own: the threads interleave
    assert neardup.near_duplicates(thumbs, hashes, sizes, workers=2) == alone
    assert [(m.a, m.b, m.kind) for m in alone] == [(k, 30 + k // 3, "shifted") for k in range(0, 30, 3)]


def colour_photo(seed: int, shape=(96, 128)) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def recoloured(picture: np.ndarray, hue: int, saturation: float) -> np.ndarray:
    hsv = cv2.cvtColor(picture, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def test_a_recoloured_copy_is_found_by_its_brightest_channel_and_named_colour() -> None:
    pictures = [colour_photo(seed) for seed in range(40)]
    pictures += [recoloured(pictures[5], 25, 1.3), recoloured(pictures[9], 40, 0.7), pictures[12][..., ::-1]]
    thumbs = np.stack([neardup.thumbnail(cv2.cvtColor(p, cv2.COLOR_BGR2GRAY)) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    colour_thumbs = np.stack([neardup.thumbnail(neardup.brightest(p)) for p in pictures])
    colours = neardup.Colours(np.arange(43), colour_thumbs, np.stack([neardup.codes(t) for t in colour_thumbs]))
    sizes = [(128, 96)] * 43
    grey_only = {(m.a, m.b) for m in neardup.near_duplicates(thumbs, hashes, sizes)}
    assert not grey_only & {(5, 40), (9, 41)}  # the grey pictures alone: the recoloured copies do not agree
    found = {(m.a, m.b): m.kind for m in neardup.near_duplicates(thumbs, hashes, sizes, colours=colours)}
    assert found == {(5, 40): "colour", (9, 41): "colour", (12, 42): "colour"}  # 42: red and blue swapped
    # Only the colour images have the signature: the others are searched by grey alone
    some = neardup.Colours(np.array([5, 40]), colour_thumbs[[5, 40]], colours.hashes[[5, 40]])
    found = {(m.a, m.b): m.kind for m in neardup.near_duplicates(thumbs, hashes, sizes, colours=some)}
    assert found[5, 40] == "colour" and (9, 41) not in found
    empty = neardup.Colours(np.array([], np.int64), colour_thumbs[:0], colours.hashes[:0])
    assert {(m.a, m.b) for m in neardup.near_duplicates(thumbs, hashes, sizes, colours=empty)} == grey_only


def test_a_layout_neighbour_at_no_shift_is_checked_as_it_is_before_any_alignment(monkeypatch) -> None:
    # In a crowd of near-identical smooth tiles the hash search keeps its 16 closest, and a darker copy can fall
    # out of them; the alignment of a smooth picture may wander (measured: a 1.7x zoom on a wallpaper tile).
    pictures = [photo(seed, (240, 320)) for seed in range(40)]
    pictures.append((pictures[3] * 0.9).astype(np.uint8))  # 40: darker
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    monkeypatch.setattr(neardup, "candidates", lambda hashes: np.empty((0, 4), np.int64))  # the cap
    monkeypatch.setattr(neardup, "_aligned", lambda *args: None)  # the wandering alignment
    found = neardup.near_duplicates(thumbs, hashes, [(320, 240)] * 41)
    assert [(m.a, m.b, m.kind) for m in found] == [(3, 40, "tone")]


def test_a_watermarked_copy_is_found_with_its_overlay_left_out_and_named_overlaid() -> None:
    # A smooth picture: its structure is mostly the text laid over it, so the plain check rejects the copy.
    smooth = cv2.resize(np.random.default_rng(3).integers(0, 255, (2, 3), dtype=np.uint8), (320, 240),
                        interpolation=cv2.INTER_CUBIC)  # fmt: skip
    watermarked, repainted = smooth.copy(), smooth.copy()
    cv2.putText(watermarked, "@photographer", (170, 220), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 255, 2)
    repainted[:, 160:] = repainted[:, 160:][:, ::-1]  # half of it changed: more than an overlay
    pictures = [photo(seed, (240, 320)) for seed in range(30)] + [smooth, watermarked, repainted]
    thumbs = np.stack([neardup.thumbnail(p) for p in pictures])
    hashes = np.stack([neardup.codes(t) for t in thumbs])
    looks = [neardup._look(thumbs[k]) for k in (30, 31)]
    assert neardup._agreement(*looks, True, True) is None  # as they are, the text decides
    found = {(m.a, m.b): m.kind for m in neardup.near_duplicates(thumbs, hashes, [(320, 240)] * 33)}
    assert found == {(30, 31): "overlaid"}
