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

import hashlib

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


def fingerprint(normalised_text: str) -> str | None:
    """The MinHash signature as hex (8 digits per position), or None for texts under MIN_TOKENS words."""
    words = tokens(normalised_text)
    if len(words) < MIN_TOKENS:
        return None
    shingles = {" ".join(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    x = np.frombuffer(digests, dtype=np.uint64)
    with np.errstate(over="ignore"):  # multiplication mod 2**64 is the point
        hashed = (x[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return "".join(f"{v:08x}" for v in hashed.min(axis=0).tolist())


def _positions(fp: str) -> list[str]:
    return [fp[i:i + 8] for i in range(0, len(fp), 8)]


def bands(fp: str) -> list[str]:
    """The band keys of a fingerprint: "band:values", one per band."""
    pos = _positions(fp)
    return [f"{b}:{''.join(pos[b * ROWS:(b + 1) * ROWS])}" for b in range(BANDS)]


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of two texts from their fingerprints."""
    pa, pb = _positions(a), _positions(b)
    if len(pa) != len(pb):
        return 0.0
    return sum(x == y for x, y in zip(pa, pb)) / len(pa)


def is_duplicate(a: str, b: str) -> bool:
    return similarity(a, b) >= DUPLICATE_AGREEMENT
