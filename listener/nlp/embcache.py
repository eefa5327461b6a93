"""Embeddings cached on disk, keyed by the encoder and the text, so a re-train never re-embeds a text.

Embedding 50k texts takes tens of minutes on a small CPU; fitting heads on them takes seconds. The cache is
one SQLite file per encoder key (name, weights fingerprint, precision, prefix, text preparation) under
`$LISTENER_CACHE/embeddings/`, one row per text (sha256 of the text -> float32 vector). Rows are committed
every chunk, so an interrupted run resumes where it stopped. It lives in the cache folder, never in git.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from listener.nlp.textprep import PREP_VERSION

#: called after every chunk with (texts done, texts in total, texts per second of this run)
Progress = Callable[[int, int, float], None]


def encoder_key(encoder) -> str:
    """What decides an embedding: the model (and the weights it was built from), precision, prefix and how a
    text is prepared for it (textprep.py)."""
    info = encoder.info
    return (f"{info.name}|{getattr(info, 'source', '') or ''}|{info.precision}|{info.prefix}|{info.max_tokens}"
            f"|{PREP_VERSION}")


def _slug(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in key.split("|")[0])[-60:]
    return f"{readable}-{digest}"


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def open_cache_file(key: str, folder: str | Path | None, kind: str, table_sql: str) -> tuple[Path, sqlite3.Connection]:
    """The SQLite file of one cache (`kind`: its folder under the model cache) for one key, with its table made.
    Shared by the embedding cache and the fine-tuning's hidden-state cache, so both live and lock alike."""
    if folder is None:
        from listener.nlp.encoder import cache_dir

        folder = cache_dir() / kind
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(key)}.sqlite"
    db = sqlite3.connect(path, timeout=120)  # several processes may fill one cache
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
    db.execute(table_sql)
    db.execute("INSERT OR IGNORE INTO meta VALUES ('key', ?)", (key,))
    db.commit()
    return path, db


class EmbeddingCache:
    """A persistent text -> embedding map for one encoder key."""

    def __init__(self, key: str, folder: str | Path | None = None):
        self.key = key
        self.path, self._db = open_cache_file(
            key, folder, "embeddings", "CREATE TABLE IF NOT EXISTS emb (h BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM emb").fetchone()[0])

    def get(self, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(hashes), 900):  # SQLite's bound-parameter limit
            part = list(hashes[start:start + 900])
            marks = ",".join("?" * len(part))
            for h, v in self._db.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", part):
                found[bytes(h)] = np.frombuffer(v, dtype=np.float32)
        return found

    def put(self, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors)]
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)
        self._db.commit()


def cached_embed(encoder, texts: Sequence[str], cache: EmbeddingCache | None = None, chunk: int = 512,
                 progress: Progress | None = None) -> np.ndarray:
    """(n, dim) embeddings of `texts`: the cached ones read back, the others embedded and stored chunk by chunk."""
    texts = list(texts)
    own = cache is None
    if own:  # (not `cache or ...`: an empty cache is falsy through __len__)
        cache = EmbeddingCache(encoder_key(encoder))
    try:
        hashes = [text_hash(t) for t in texts]
        found = cache.get(hashes)
        todo: dict[bytes, str] = {}
        for h, t in zip(hashes, texts):
            if h not in found and h not in todo:
                todo[h] = t
        missing = list(todo.items())
        done, start_time = len(texts) - len(missing), time.perf_counter()
        if progress:
            progress(done, len(texts), 0.0)
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            vectors = encoder.embed([t for _, t in part])
            cache.put([h for h, _ in part], vectors)
            found.update({h: v for (h, _), v in zip(part, vectors)})
            done += len(part)
            if progress:
                progress(done, len(texts), (start + len(part)) / max(time.perf_counter() - start_time, 1e-9))
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = found[h]
        return out
    finally:
        if own:
            cache.close()
