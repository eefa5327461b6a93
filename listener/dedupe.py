"""Near-duplicate fingerprints: MinHash signatures of word shingles, banded for lookup (LSH).

A repost, a cross-post or a syndicated article with another footer shares most of its word 3-shingles
with the original. The fingerprint is a MinHash signature (SIGNATURE_SIZE 32-bit minima); two texts whose
signatures agree in at least DUPLICATE_AGREEMENT of the positions have an estimated Jaccard similarity at
least that high and count as the same text. The signature is cut into BANDS bands; two texts with an
estimated similarity of 0.7 share a whole band with probability ~0.92 (0.998 at 0.87), so looking up
stored fingerprints by band finds the candidates without comparing against everything.
(Why not simhash: on 20-40 word posts a few added words flip 8-10 of 64 bits, so thresholds don't hold.)
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from listener.text import tokens

SIGNATURE_SIZE = 18
BANDS = 6
ROWS = SIGNATURE_SIZE // BANDS
DUPLICATE_AGREEMENT = 0.7
MIN_TOKENS = 8  # shorter texts ("love it!", "same here") repeat by chance and are not reposts
_SHINGLE = 3

# Fixed random parameters of the hash family h_i(x) = (a_i * x + b_i) >> 32, the same in every process.
_rng = np.random.default_rng(20261122)
_A = _rng.integers(1, 2**63, size=SIGNATURE_SIZE, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 2**63, size=SIGNATURE_SIZE, dtype=np.uint64)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def fingerprints(normalised_texts: list[str]) -> list[str | None]:
    """MinHash signatures as hex (8 digits per position) for many texts at once (one numpy pass for
    the batch: per text it would cost more in numpy overhead than in arithmetic); None for texts
    under MIN_TOKENS words."""
    token_hashes: list[int] = []
    starts: list[int] = []  # where each fingerprinted text's shingles start in the flat array
    which: list[int] = []
    total = 0
    for index, text in enumerate(normalised_texts):
        words = tokens(text)
        if len(words) < MIN_TOKENS:
            continue
        # crc32 is stable across processes (unlike hash()) and fast; shingles combine 3 word hashes.
        hashes = [zlib.crc32(w.encode()) for w in words]
        token_hashes.extend(hashes)
        starts.append(total)
        which.append(index)
        total += len(hashes)
    out: list[str | None] = [None] * len(normalised_texts)
    if not which:
        return out
    h = np.array(token_hashes, dtype=np.uint64)
    # A shingle spans 3 consecutive words of the same text; shingles crossing a text boundary are
    # masked out below by giving them the largest value, which never wins a minimum.
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the point
        shingles = h[:-2] * _MIX[0] ^ h[1:-1] * _MIX[1] ^ h[2:] * _MIX[2]
        hashed = (shingles[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    ends = starts[1:] + [total]
    for start, end in zip(starts, ends):
        hashed[max(end - 2, 0):end] = np.iinfo(np.uint64).max  # the last 2 positions cross into the next text
    minima = np.minimum.reduceat(hashed, starts, axis=0).astype(">u4")
    for row, index in enumerate(which):
        out[index] = minima[row].tobytes().hex()
    return out


def fingerprint(normalised_text: str) -> str | None:
    """The MinHash signature of one text (see `fingerprints`)."""
    return fingerprints([normalised_text])[0]


# Both are asked several times per fingerprint in one batch (lookup, comparison, indexing): cached.
@lru_cache(maxsize=16384)
def _positions(fp: str) -> tuple[str, ...]:
    return tuple(fp[i:i + 8] for i in range(0, len(fp), 8))


@lru_cache(maxsize=16384)
def bands(fp: str) -> tuple[str, ...]:
    """The band keys of a fingerprint: "band:values", one per band."""
    width = ROWS * 8
    return tuple(f"{b}:{fp[b * width:(b + 1) * width]}" for b in range(BANDS))


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of two texts from their fingerprints."""
    pa, pb = _positions(a), _positions(b)
    if len(pa) != len(pb):
        return 0.0
    return sum(x == y for x, y in zip(pa, pb)) / len(pa)


def is_duplicate(a: str, b: str) -> bool:
    return similarity(a, b) >= DUPLICATE_AGREEMENT
