"""Which 256-bit difference hashes lie within a Hamming radius of each other: the near-duplicate search.

Two searches, one answer format (an (m, 2) array of index pairs i < j with their distances):

* ``exact_pairs`` compares every pair, in blocks so memory stays bounded: exact, O(n^2) time. Up to
  ``EXACT_UP_TO`` hashes it takes seconds, and it is what ``pairs`` uses there.
* ``lsh_pairs``: bit-sampling locality-sensitive hashing (Indyk and Motwani). Each table keys every hash by
  ``k`` of its bits, drawn at random once (seeded, so runs repeat); hashes that share a key in any table are
  candidates, and each candidate's exact distance decides. A pair ``d`` bits apart shares a key with
  probability about (1 - d/256)^k per table. ``k`` grows with the number of hashes (log2 n + 2 bits), so
  unrelated hashes collide about n/8 times per table and the work grows about linearly; the number of tables
  is then what finds a pair at the radius with probability ``RECALL`` (closer pairs more surely).

The benchmark (benchmarks/bench_dedup.py) measures recall against the exact search and both searches against
known duplicate groups of real photos.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_UP_TO = 10_000  # hashes; the exact search takes about 4 s here, LSH wins beyond (benchmarked)
RECALL = 0.99  # of pairs exactly at the radius; closer pairs are found more surely
_SEED = 20261130  # the bit positions each table samples: fixed, so every run finds the same pairs


def pairs(hashes: np.ndarray, max_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (m, 2) with i < j, distances (m,)) of the (n, 4) uint64 hashes within ``max_bits`` of each other."""
    if len(hashes) <= EXACT_UP_TO:
        return exact_pairs(hashes, max_bits)
    return lsh_pairs(hashes, max_bits)


def exact_pairs(hashes: np.ndarray, max_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair compared, in blocks of about 32 MB of XORed words."""
    found, distances = [], []
    block = max(1, (1 << 22) // max(1, hashes.size))
    for start in range(0, len(hashes), block):
        chunk = hashes[start : start + block]
        distance = np.bitwise_count(chunk[:, None, :] ^ hashes[None, :, :]).sum(axis=2, dtype=np.int32)
        rows, columns = np.nonzero(distance <= max_bits)
        keep = start + rows < columns
        found.append(np.stack([start + rows[keep], columns[keep]], axis=1))
        distances.append(distance[rows[keep], columns[keep]])
    return _joined(found, distances)


def parameters(n: int, max_bits: int, width: int = 256) -> tuple[int, int]:
    """(bits per key, tables) for ``n`` hashes: random collisions about n/8 per table, RECALL at ``max_bits``."""
    bits = max(16, math.ceil(math.log2(max(n, 2))) + 2)
    collide = math.prod((width - max_bits - i) / (width - i) for i in range(bits))  # sampled without replacement
    return bits, math.ceil(math.log(1 - RECALL) / math.log(1 - collide))


def lsh_pairs(hashes: np.ndarray, max_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidates that share a sampled key in any table, kept when their exact distance is within ``max_bits``."""
    n = len(hashes)
    bits, tables = parameters(n, max_bits)
    words = [np.ascontiguousarray(hashes[:, w]) for w in range(hashes.shape[1])]  # one column per 64 bits
    positions = np.random.default_rng(_SEED).random((tables, 64 * len(words))).argsort(axis=1)[:, :bits]
    candidates = []
    for table in positions:
        keys = np.zeros(n, np.uint64)
        for shift, position in enumerate(table.tolist()):
            keys |= ((words[position // 64] >> np.uint64(position % 64)) & np.uint64(1)) << np.uint64(shift)
        candidates.append(_same_key_pairs(keys))
    codes = np.sort(np.concatenate(candidates))
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes  # each candidate once
    i, j = codes // n, codes % n
    distance = np.bitwise_count(hashes[i] ^ hashes[j]).sum(axis=1, dtype=np.int32)
    keep = distance <= max_bits
    return np.stack([i[keep], j[keep]], axis=1), distance[keep]


def _same_key_pairs(keys: np.ndarray) -> np.ndarray:
    """Codes i * n + j (i < j) of the indices that share a key, made without a loop over groups.

    In key order, members of a group are consecutive: pair each member with the one ``d`` places after it,
    for d = 1, 2, ... while any group is longer than d.
    """
    n = len(keys)
    order = np.argsort(keys)  # any order within a key: pairs are written smaller index first
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, n])
    offset = np.arange(n) - np.repeat(starts, sizes)  # place within its group
    remaining = np.repeat(sizes, sizes) - offset - 1  # members after it in its group
    codes = []
    members = np.flatnonzero(remaining > 0)
    d = 1
    while members.size:
        a, b = order[members], order[members + d]
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        d += 1
        members = members[remaining[members] >= d]
    return np.concatenate(codes) if codes else np.empty(0, np.int64)


def _joined(found: list[np.ndarray], distances: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not found:
        return np.empty((0, 2), np.int64), np.empty(0, np.int32)
    return np.concatenate(found).astype(np.int64), np.concatenate(distances).astype(np.int32)
