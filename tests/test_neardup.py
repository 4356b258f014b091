"""The near-duplicate search: the exact search against brute force, LSH against the exact search."""

from __future__ import annotations

import numpy as np

from expander import neardup


def random_hashes(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, (n, 4), dtype=np.uint64) * 2 + 1


def flipped(hash_: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """``hash_`` with ``bits`` distinct bits flipped: exactly ``bits`` apart."""
    unpacked = np.unpackbits(hash_.view(np.uint8))
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked).view(np.uint64)


def planted(n: int, distances: list[int], seed: int = 1) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Random hashes with a copy of the first few at each of ``distances`` bits, appended; the planted pairs."""
    rng = np.random.default_rng(seed)
    hashes = random_hashes(n, seed)
    copies = [flipped(hashes[k], d, rng) for k, d in enumerate(distances)]
    return np.concatenate([hashes, np.stack(copies)]), {(k, n + k) for k in range(len(distances))}


def test_exact_search_finds_exactly_the_pairs_brute_force_finds() -> None:
    hashes, _ = planted(300, [0, 5, 24, 25, 60])
    found, distances = neardup.exact_pairs(hashes, 24)
    brute = {
        (i, j)
        for i in range(len(hashes))
        for j in range(i + 1, len(hashes))
        if int(np.bitwise_count(hashes[i] ^ hashes[j]).sum()) <= 24
    }
    assert {tuple(p) for p in found.tolist()} == brute == {(0, 300), (1, 301), (2, 302)}
    assert sorted(distances.tolist()) == [0, 5, 24]


def test_lsh_finds_what_the_exact_search_finds_and_nothing_else() -> None:
    distances = [d for d in range(25) for _ in range(8)]  # 8 planted pairs at every distance 0..24
    hashes, planted_pairs = planted(5000, distances)
    exact = {tuple(p) for p in neardup.exact_pairs(hashes, 24)[0].tolist()}
    found, found_distances = neardup.lsh_pairs(hashes, 24)
    lsh = {tuple(p) for p in found.tolist()}
    assert exact == planted_pairs
    assert lsh <= exact  # every pair it reports is within the radius (its distance is checked exactly)
    assert len(lsh) >= 0.97 * len(exact)  # 99.1% expected at 24 bits, more for closer pairs
    close = {(k, 5000 + k) for k, d in enumerate(distances) if d <= 12}
    assert close <= lsh  # pairs at half the radius collide in a table with certainty in practice
    assert all(d <= 24 for d in found_distances.tolist())


def test_the_search_is_exact_up_to_its_limit_and_repeatable_beyond() -> None:
    hashes, _ = planted(100, [3])
    assert {tuple(p) for p in neardup.pairs(hashes, 24)[0].tolist()} == {(0, 100)}
    big, planted_pairs = planted(neardup.EXACT_UP_TO + 10, [0, 10, 20])
    first, second = neardup.pairs(big, 24), neardup.pairs(big, 24)
    assert np.array_equal(first[0], second[0])  # the sampled bits are seeded: the same answer every run
    found = {tuple(p) for p in first[0].tolist()}
    assert found <= planted_pairs  # random hashes are never within 24 bits of each other
    assert {(0, neardup.EXACT_UP_TO + 10), (1, neardup.EXACT_UP_TO + 11)} <= found
