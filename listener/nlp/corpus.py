"""A training corpus from labelled JSON Lines files or folders: train and dev per set, deduplicated, sampled.

Rules (MODEL_CARD.md repeats them):
- A set is the lines' `set` field (else the file's name). A set with both train and dev lines keeps its own
  dev split. A set with only one split (only train, or only dev as a public validation file) is carved into
  train and dev by a fixed seed: `dev_fraction` of its lines, stratified by label, at most `max_dev`.
- Dev lines are never trained on: a train line whose text (lower-cased, white space folded) is also a dev
  line of any set is dropped, so overlapping sets (e.g. two Arabic tweet sets) cannot leak.
- Train duplicates across files are kept once; a text with conflicting labels is dropped altogether.
- `mixed` lines are not trained on (the 3-way head has no such class); in dev they are kept and reported.
- Each set's train part is sampled down to `max_per_set` lines (stratified by label, fixed seed), and each
  dev part to `max_dev`, so a big set neither drowns the others nor makes a re-train slow.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from listener.nlp.data import MIXED, Example, read_labelled

SEED = 13
_SPACE = re.compile(r"\s+")


class TrainingDataError(ValueError):
    """The training data cannot be used as given; the message says what to change."""


def labelled_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their *.jsonl files (sorted). Raises for a path that is neither."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise FileNotFoundError(f"{path}: no *.jsonl files in this folder")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder (pass labelled .jsonl files or folders)")
    return out


def text_key(text: str) -> str:
    return _SPACE.sub(" ", text.strip().lower())


@dataclass
class Corpus:
    train: list[Example] = field(default_factory=list)
    dev: list[Example] = field(default_factory=list)
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)
    sets: dict[str, dict] = field(default_factory=dict)  # per set: what was read, carved, dropped, kept


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _stratified_take(rows: Sequence[Example], k: int, rng: np.random.Generator) -> tuple[list, list]:
    """(k rows chosen with each label's share kept, the rest), order-independent given the rng."""
    if k >= len(rows):
        return list(rows), []
    by_label: dict[str | None, list[int]] = defaultdict(list)
    for i, e in enumerate(rows):
        by_label[e.label].append(i)
    chosen: list[int] = []
    labels = sorted(by_label, key=str)
    # largest remainders: the quotas keep each label's share and add up to exactly k
    exact = {lab: k * len(by_label[lab]) / len(rows) for lab in labels}
    quotas = {lab: int(exact[lab]) for lab in labels}
    for lab in sorted(labels, key=lambda lab: (-(exact[lab] - quotas[lab]), str(lab)))[:k - sum(quotas.values())]:
        quotas[lab] += 1
    for lab in labels:
        idx = np.array(by_label[lab])
        rng.shuffle(idx)
        chosen.extend(idx[:quotas[lab]].tolist())
    picked = set(chosen)
    return [rows[i] for i in sorted(picked)], [rows[i] for i in range(len(rows)) if i not in picked]


def build_corpus(paths: Sequence[str | Path], max_per_set: int | None = 4000, max_dev: int = 2000,
                 dev_fraction: float = 0.2, seed: int = SEED) -> Corpus:
    data = read_labelled(labelled_files(paths))
    corpus = Corpus(bad_lines=data.bad_lines)
    by_set: dict[str, list[Example]] = defaultdict(list)
    for e in data.examples:
        by_set[e.set or "?"].append(e)
    train_parts: dict[str, list[Example]] = {}
    for name in sorted(by_set):
        rows = by_set[name]
        rng = _rng(name, seed)
        own_dev = [e for e in rows if e.held_out]
        own_train = [e for e in rows if not e.held_out]
        info: dict = {"lang": Counter(e.lang or "?" for e in rows).most_common(1)[0][0], "read": len(rows)}
        if own_dev and own_train:
            dev, train = own_dev, own_train
            info["dev_from"] = "own dev split"
        else:
            k = min(max_dev, int(round(dev_fraction * len(rows))))
            dev, train = _stratified_take(rows, k, rng)
            info["dev_from"] = f"carved: {len(dev)} lines by seed {seed}"
        if len(dev) > max_dev:
            dev, _ = _stratified_take(dev, max_dev, rng)
            info["dev_sampled_to"] = max_dev
        corpus.dev.extend(dev)
        train_parts[name] = train
        corpus.sets[name] = info
    dev_keys = {text_key(e.text) for e in corpus.dev}
    labels_of: dict[str, set] = defaultdict(set)
    for rows in train_parts.values():
        for e in rows:
            labels_of[text_key(e.text)].add(e.label)
    seen: set[str] = set()
    for name, rows in train_parts.items():
        info = corpus.sets[name]
        kept, dropped = [], Counter()
        for e in rows:
            key = text_key(e.text)
            if key in dev_keys:
                dropped["in a dev split"] += 1
            elif len(labels_of[key]) > 1:
                dropped["conflicting labels"] += 1
            elif key in seen:
                dropped["duplicate"] += 1
            elif e.label == MIXED:
                dropped["mixed"] += 1
            else:
                seen.add(key)
                kept.append(e)
        if max_per_set and len(kept) > max_per_set:
            kept, _ = _stratified_take(kept, max_per_set, _rng(name + ":train", seed))
            info["train_sampled_to"] = max_per_set
        info["dropped"] = dict(dropped)
        info["train"] = dict(sorted(Counter(e.label for e in kept).items(), key=lambda kv: str(kv[0])))
        info["dev"] = dict(sorted(Counter(e.label for e in corpus.dev if e.set == name).items(),
                                  key=lambda kv: str(kv[0])))
        corpus.train.extend(kept)
    return corpus
