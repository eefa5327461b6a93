"""People's corrections of a mention's sentiment and topics: kept, applied to the store, exported for training.

A correction is stored in `corrections.db` in the data folder (a sidecar, so it survives a re-score and works
the same over SQLite and Elasticsearch) and also written into the stored mention, so searches, charts and
alerts count it at once: the person's label, marked `corrected`, beside the model's own probabilities, which
are kept (so the page shows both and the probabilities never pass for the person's). A person's word outlasts the model's: `Corrections.apply` puts it back on mentions that
were just scored again, which the pipeline does for every batch (a mention fetched again from its source) and
`listener rescore` does after a retrain. `export_corrections` writes the labelled JSON Lines that `listener model train --data`
reads (set "corrections", split "train"); the text comes from the store at export time, so a mention deleted
by `listener forget` leaves nothing in the export.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterable

from listener.model import SENTIMENT_LABELS, Mention, Sentiment
from listener.store.base import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    mention_id TEXT PRIMARY KEY,   -- one correction per mention: the latest wins
    sentiment TEXT,                -- NULL: the sentiment was left as the model said
    topics TEXT,                   -- JSON list; NULL: topics left as they were
    corrected_by TEXT NOT NULL,
    corrected_at TEXT NOT NULL
)
"""
MAX_TOPICS = 20


class CorrectionError(ValueError):
    """A correction that cannot be stored; the message says which value and why."""


@dataclass(frozen=True)
class Correction:
    mention_id: str
    sentiment: str | None
    topics: tuple[str, ...] | None
    corrected_by: str
    corrected_at: datetime


class Corrections:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            from listener.privacy import private_file

            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        with self._lock:
            self._db.execute(SCHEMA)

    @classmethod
    def open(cls, settings) -> "Corrections":
        return cls(Path(settings.data_dir) / "corrections.db")

    @classmethod
    def open_existing(cls, settings) -> "Corrections | None":
        """The data folder's corrections, or None where nobody ever corrected anything (no file is created)."""
        path = Path(settings.data_dir) / "corrections.db"
        return cls(path) if path.exists() else None

    def get(self, mention_id: str) -> Correction | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM corrections WHERE mention_id = ?", (mention_id,)).fetchone()
        return _correction(row) if row else None

    def list(self, limit: int | None = None) -> list[Correction]:
        sql = "SELECT * FROM corrections ORDER BY corrected_at DESC, mention_id"
        with self._lock:
            rows = self._db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [_correction(row) for row in rows]

    def record(self, store: Store, mention_id: str, user: str, sentiment: str | None = None,
               topics: Iterable[str] | None = None) -> tuple[Correction, Mention]:
        """Store a correction and write it into the mention (see `person_says`)."""
        if sentiment is not None and sentiment not in SENTIMENT_LABELS:
            raise CorrectionError(f"sentiment: expected one of {', '.join(SENTIMENT_LABELS)}, got {sentiment!r}")
        clean = None
        if topics is not None:
            clean = tuple(dict.fromkeys(t.strip().lower() for t in topics if t.strip()))
            if len(clean) > MAX_TOPICS or any(len(t) > 64 or not t.isprintable() for t in clean):
                raise CorrectionError(f"topics: at most {MAX_TOPICS} printable labels of up to 64 characters")
        if sentiment is None and clean is None:
            raise CorrectionError("give a sentiment, topics, or both")
        mention = store.get(mention_id)
        if mention is None:
            raise LookupError(f"no mention with id {mention_id!r}")
        now = datetime.now(timezone.utc)
        with self._lock:
            self._db.execute(
                "INSERT INTO corrections VALUES (?, ?, ?, ?, ?) ON CONFLICT(mention_id) DO UPDATE SET "
                "sentiment = coalesce(excluded.sentiment, sentiment), topics = coalesce(excluded.topics, topics), "
                "corrected_by = excluded.corrected_by, corrected_at = excluded.corrected_at",
                (mention_id, sentiment, None if clean is None else json.dumps(list(clean)), user,
                 now.isoformat(timespec="seconds")))
        update = {}
        if sentiment is not None:
            update["sentiment"] = person_says(mention.sentiment, sentiment)
        if clean is not None:
            update["topics"] = list(clean)
        mention = mention.model_copy(update=update)
        store.upsert([mention])
        return self.get(mention_id), mention

    def apply(self, mentions: list[Mention]) -> int:
        """Put people's corrections back on freshly scored mentions (in place); returns how many were changed.
        One indexed lookup per batch, so it costs the pipeline next to nothing when nobody corrected anything."""
        ids = [m.id for m in mentions]
        found: dict[str, Correction] = {}
        for start in range(0, len(ids), 500):  # stay far below SQLite's bound-variable limit
            chunk = ids[start:start + 500]
            with self._lock:
                rows = self._db.execute(
                    f"SELECT * FROM corrections WHERE mention_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            found.update((row[0], _correction(row)) for row in rows)
        changed = 0
        for mention in mentions:
            correction = found.get(mention.id)
            if correction is None:
                continue
            if correction.sentiment is not None:
                mention.sentiment = person_says(mention.sentiment, correction.sentiment)
            if correction.topics is not None:
                mention.topics = list(correction.topics)
            changed += 1
        return changed

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Corrections":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def person_says(model: Sentiment | None, label: str) -> Sentiment:
    """A person's label over what the model said: probability 1 for it and `corrected` set, the model's own
    probabilities kept beside it, so the mention shows both and neither is taken for the other."""
    if model is None:
        return Sentiment(label=label, score=1.0, corrected=True)
    return model.corrected_to(label)


def _correction(row) -> Correction:
    return Correction(row[0], row[1], None if row[2] is None else tuple(json.loads(row[2])), row[3],
                      datetime.fromisoformat(row[4]))


def training_lines(corrections: Corrections, store: Store) -> Iterable[dict]:
    """One labelled line per correction whose mention is still stored, in `listener model train`'s format.
    A topics-only correction gives a topic-only line (no label), which training reads as such."""
    for correction in corrections.list():
        mention = store.get(correction.mention_id)
        if mention is None:
            continue
        line: dict = {"text": mention.full_text}
        if correction.sentiment:  # only what a person said: the model's own label would teach it nothing
            line["label"] = correction.sentiment
        if mention.lang:
            line["lang"] = mention.lang
        if correction.topics is not None:
            line["topics"] = list(correction.topics)
        line.update({"set": "corrections", "split": "train"})
        yield line


def export_corrections(corrections: Corrections, store: Store, handle: IO[str]) -> int:
    count = 0
    for line in training_lines(corrections, store):
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count
