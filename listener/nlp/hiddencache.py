"""Hidden states of the base encoder at one layer, cached on disk, so fine-tuning the top layers is cheap.

Fine-tuning the sentiment branch (`listener.nlp.branch`) trains only the top k layers of the encoder. The
layers below them never change, so their output for a training text is computed once, stored here, and
every epoch starts from it: an epoch then costs k/12 of a full forward and backward pass instead of all 12
layers. One SQLite file per (encoder, layer, token cap) under `$LISTENER_CACHE/hidden/`, one row per text
(sha256 of the text -> token count and the (tokens, hidden) matrix in bf16). Rows are committed per chunk,
so an interrupted fill resumes where it stopped. It lives in the cache folder (about 30 kB a tweet), never
in git.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.nlp.embcache import Progress, encoder_key, open_cache_file, text_hash

#: Training texts are cut to this many tokens (with <s> and </s>): tweets, review sentences and posts fit;
#: the tail of a long review adds cost and little signal for its polarity.
TRAIN_TOKENS = 128


def _to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> the upper 16 bits (bf16, rounded to nearest even) as uint16: half the disk and RAM."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def bf16_bits_to_float(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


class HiddenCache:
    """A persistent text -> (tokens, hidden) bf16 matrix map for one encoder, layer and token cap."""

    def __init__(self, key: str, folder: str | Path | None = None):
        self.key = key
        self.path, self._db = open_cache_file(
            key, folder, "hidden",
            "CREATE TABLE IF NOT EXISTS hid (h BLOB PRIMARY KEY, n INTEGER NOT NULL, v BLOB NOT NULL) WITHOUT ROWID")

    def close(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM hid").fetchone()[0])

    def missing(self, hashes: Sequence[bytes]) -> set[bytes]:
        have: set[bytes] = set()
        for start in range(0, len(hashes), 900):
            part = list(hashes[start:start + 900])
            marks = ",".join("?" * len(part))
            have.update(bytes(h) for (h,) in self._db.execute(f"SELECT h FROM hid WHERE h IN ({marks})", part))
        return set(hashes) - have

    def get(self, hashes: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """uint16 (bf16 bits) matrices of shape (tokens, dim)."""
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(hashes), 900):
            part = list(hashes[start:start + 900])
            marks = ",".join("?" * len(part))
            for h, n, v in self._db.execute(f"SELECT h, n, v FROM hid WHERE h IN ({marks})", part):
                found[bytes(h)] = np.frombuffer(v, dtype=np.uint16).reshape(int(n), dim)
        return found

    def put(self, rows: Sequence[tuple[bytes, np.ndarray]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO hid VALUES (?, ?, ?)",
                             [(h, int(m.shape[0]), _to_bf16_bits(m).tobytes()) for h, m in rows])
        self._db.commit()


def hidden_key(encoder, layer: int, max_tokens: int = TRAIN_TOKENS) -> str:
    return f"{encoder_key(encoder)}|hidden@{layer}|{max_tokens}"


def lower_states(encoder, ids: list[list[int]], layer: int) -> list[np.ndarray]:
    """The output of the first `layer` layers for each tokenised input (with specials), unpadded, float32."""
    import torch

    model = encoder.model
    out: list[np.ndarray] = [np.zeros(0)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with encoder._lock, torch.inference_mode():
        for start in range(0, len(order), 32):
            chunk = order[start:start + 32]
            width = max(len(ids[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), encoder.tokenizer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                input_ids[row, :len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                mask[row, :len(ids[i])] = 1
            hidden = run_lower(model, input_ids, mask, layer).float().numpy()
            for row, i in enumerate(chunk):
                out[i] = hidden[row, :len(ids[i])]
    return out


def run_lower(model, input_ids, mask, layer: int):
    """Embeddings and layers 0..layer-1 of a transformers BertModel: (batch, width, hidden)."""
    from transformers.masking_utils import create_bidirectional_mask

    hidden = model.embeddings(input_ids=input_ids)
    attn = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)
    for block in model.encoder.layer[:layer]:
        hidden = block(hidden, attn)
    return hidden


def train_ids(encoder, texts: Sequence[str], max_tokens: int = TRAIN_TOKENS) -> list[list[int]]:
    """"query: " + text, tokenised, cut to max_tokens with <s> and </s>."""
    tok = encoder.tokenizer
    return [[tok.bos_id, *ids[:max_tokens - 2], tok.eos_id] for ids in encoder.token_ids(list(texts))]


def fill_hidden(encoder, texts: Sequence[str], layer: int, cache: HiddenCache, chunk: int = 256,
                max_tokens: int = TRAIN_TOKENS, progress: Progress | None = None) -> None:
    """Compute and store the layer-`layer` states of every text not cached yet (resumable)."""
    hashes = [text_hash(t) for t in texts]
    todo_set = cache.missing(hashes)
    todo: dict[bytes, str] = {}
    for h, t in zip(hashes, texts):
        if h in todo_set and h not in todo:
            todo[h] = t
    items = list(todo.items())
    done, started = len(set(hashes)) - len(items), time.perf_counter()
    total = len(set(hashes))
    if progress:
        progress(done, total, 0.0)
    for start in range(0, len(items), chunk):
        part = items[start:start + chunk]
        states = lower_states(encoder, train_ids(encoder, [t for _, t in part], max_tokens), layer)
        cache.put([(h, s) for (h, _), s in zip(part, states)])
        done += len(part)
        if progress:
            progress(done, total, (start + len(part)) / max(time.perf_counter() - started, 1e-9))


def lift_hidden(encoder, texts: Sequence[str], source: HiddenCache, from_layer: int, target: HiddenCache,
                to_layer: int, chunk: int = 256, progress: Progress | None = None) -> int:
    """Fill `target` (states at `to_layer`) from the states at `from_layer` already in `source`, running only
    the layers in between: moving to a smaller k after a cache was filled for a larger one costs those few
    layers, not the whole encoder again. Texts missing from `source` are skipped; returns how many were lifted."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    dim = encoder.dim
    hashes = list(dict.fromkeys(text_hash(t) for t in texts))
    todo = sorted(target.missing(hashes) & (set(hashes) - source.missing(hashes)))
    model, done, started = encoder.model, 0, time.perf_counter()
    dtype = next(model.parameters()).dtype
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        rows = source.get(part, dim)
        part = sorted(part, key=lambda h: rows[h].shape[0])
        out = []
        with encoder._lock, torch.inference_mode():
            for b in range(0, len(part), 32):
                batch = part[b:b + 32]
                width = max(rows[h].shape[0] for h in batch)
                x = torch.zeros((len(batch), width, dim), dtype=torch.float32)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for i, h in enumerate(batch):
                    n = rows[h].shape[0]
                    x[i, :n] = torch.from_numpy(bf16_bits_to_float(rows[h]))
                    mask[i, :n] = 1
                x = x.to(dtype)
                attn = create_bidirectional_mask(config=model.config, inputs_embeds=x, attention_mask=mask)
                for block in model.encoder.layer[from_layer:to_layer]:
                    x = block(x, attn)
                x = x.float().numpy()
                out.extend((h, x[i, :rows[h].shape[0]]) for i, h in enumerate(batch))
        target.put(out)
        done += len(part)
        if progress:
            progress(done, len(todo), done / max(time.perf_counter() - started, 1e-9))
    return done
