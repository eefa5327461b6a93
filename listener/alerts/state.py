"""Alert records, kept beside the mentions: a table in the SQLite file (here), an index in Elasticsearch
(listener.alerts.state_elastic, the same interface and semantics).

Exactly once, under concurrent checks (threads or processes):
- An alert is *raised* by `raise_alert`, which re-reads the subject's last alert (for the cooldown) and
  inserts the new one inside ONE write transaction (BEGIN IMMEDIATE: SQLite lets one writer in at a time),
  under a unique `dedupe_key` (rule, subject, triggering bucket). Two checks that see the same spike: the
  second finds the first's record and inserts nothing.
- A clearly worse window of an alert that is not resolved yet (`realert`) *updates* that alert in place
  (`as_update`): same id, the worse window's numbers and explanation, where it started and how it grew
  kept in `details`, and each of its deliveries queued again, so the support lead gets one alert that says
  "worse" rather than a second alert about the same incident.
- Each (alert, channel) pair is a *delivery* row. A sender *claims* a due delivery with one conditional
  UPDATE (status pending -> sending); only the process whose UPDATE changed the row sends. A delivery left
  in `sending` by a process that died is retried after `CLAIM_TIMEOUT` (at least once beats never; the
  window for a double send is a crash between the SMTP server's "250 OK" and the next write).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Literal

Status = Literal["open", "acknowledged", "resolved"]
STATUSES = ("open", "acknowledged", "resolved")
CLAIM_TIMEOUT = timedelta(minutes=10)

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,              -- rule name | brand | split field=value: what the cooldown is per
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- volume, negative, topic, drop, repeat_author, engagement, or a
                                        -- rank change (third_party_overtook, own_left_page_one, ...)
    brand TEXT,
    split TEXT,                         -- "source=reddit", "topic=account_access" or ""
    status TEXT NOT NULL DEFAULT 'open',
    realert INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    observed REAL NOT NULL,
    expected REAL NOT NULL,
    p REAL NOT NULL,
    z REAL NOT NULL,
    title TEXT NOT NULL,
    details TEXT NOT NULL               -- the explanation, JSON
);
CREATE INDEX IF NOT EXISTS alerts_subject ON alerts(subject, window_end);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts(id),
    channel TEXT NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending, sending, sent, failed
    claimed_by TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    error TEXT,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries(status, due_at);
"""


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class AlertRecord:
    """One raised alert, as stored."""

    subject: str
    rule: str
    kind: str
    brand: str | None
    split: str
    window_start: datetime
    window_end: datetime
    observed: float
    expected: float
    p: float
    z: float
    title: str
    details: dict[str, Any] = field(default_factory=dict)
    realert: bool = False
    status: str = "open"
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    id: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.subject}@{_iso(self.window_end)}"

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("details")
        return data


def is_update(last: "AlertRecord | None", new: "AlertRecord") -> bool:
    """Whether `new` (a decided re-alert) updates `last` in place rather than being an alert of its own."""
    return bool(new.realert and last is not None and last.status != "resolved" and last.kind == new.kind)


def as_update(last: "AlertRecord", new: "AlertRecord") -> "AlertRecord":
    """`new`, a clearly worse window of the incident `last` is about, folded into `last`: its id, status and
    creation time; the worse window's numbers, title and explanation; where the alert started (`first`) and
    each update (`updates`) kept in the details, so it can say how the incident grew."""
    first = last.details.get("first") or {"window_start": _iso(last.window_start),
                                           "window_end": _iso(last.window_end), "observed": last.observed,
                                           "expected": last.expected, "created_at": _iso(last.created_at)}
    updates = [*last.details.get("updates", []), {"window_start": _iso(new.window_start),
                                                  "window_end": _iso(new.window_end), "observed": new.observed,
                                                  "expected": new.expected}]
    new.details = {**new.details, "first": first, "updates": updates}
    new.id, new.status, new.created_at, new.realert = last.id, last.status, last.created_at, True
    return new


@dataclass
class Delivery:
    alert_id: int
    channel: str
    due_at: datetime
    status: str


class AlertState:
    """Alert records and deliveries in a SQLite file (the store's own file in the embedded runtime)."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0):
        self.path = str(path)
        if self.path != ":memory:":
            from listener.privacy import private_file

            private_file(self.path)  # alerts quote other people's words: owner-only, like the store
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")  # a forgotten author's quotes are zeroed, not just unlinked
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ raising

    def last_alert(self, subject: str) -> AlertRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM alerts WHERE subject = ? ORDER BY window_end DESC, id DESC "
                                   "LIMIT 1", (subject,)).fetchone()
        return _record(row) if row else None

    def raise_alert(self, record: AlertRecord, decide, channels: list[tuple[str, datetime]]) -> AlertRecord | None:
        """Store `record` if `decide(last_alert_of_subject)` still says so, atomically; None when another
        check raised it (or a cooldown now forbids it). `channels`: (channel URL, due time) deliveries."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT * FROM alerts WHERE subject = ? ORDER BY window_end DESC, id DESC "
                                       "LIMIT 1", (record.subject,)).fetchone()
                last = _record(row) if row else None
                if (last is not None and last.dedupe_key == record.dedupe_key) or not decide(last, record):
                    self._db.execute("ROLLBACK")
                    return None
                if is_update(last, record):
                    return self._update(last, record, channels)
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO alerts (dedupe_key, subject, rule, kind, brand, split, status, realert, "
                    "created_at, window_start, window_end, observed, expected, p, z, title, details) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (record.dedupe_key, record.subject, record.rule, record.kind, record.brand, record.split,
                     record.status, int(record.realert), _iso(record.created_at), _iso(record.window_start),
                     _iso(record.window_end), record.observed, record.expected, record.p, record.z, record.title,
                     json.dumps(record.details, default=str, ensure_ascii=False)))
                if cursor.rowcount != 1:
                    self._db.execute("ROLLBACK")
                    return None
                record.id = cursor.lastrowid
                for channel, due in channels:
                    self._db.execute("INSERT OR IGNORE INTO alert_deliveries (alert_id, channel, due_at) "
                                     "VALUES (?,?,?)", (record.id, channel, _iso(due)))
                self._db.execute("COMMIT")
                return record
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _update(self, last: AlertRecord, record: AlertRecord, channels: list[tuple[str, datetime]]) -> AlertRecord | None:
        """The update path of raise_alert, inside its transaction (which it ends)."""
        as_update(last, record)
        try:
            self._db.execute(
                "UPDATE alerts SET dedupe_key = ?, realert = 1, window_start = ?, window_end = ?, observed = ?, "
                "expected = ?, p = ?, z = ?, title = ?, details = ? WHERE id = ?",
                (record.dedupe_key, _iso(record.window_start), _iso(record.window_end), record.observed,
                 record.expected, record.p, record.z, record.title,
                 json.dumps(record.details, default=str, ensure_ascii=False), record.id))
        except sqlite3.IntegrityError:  # this window was an alert of its own before: nothing new
            self._db.execute("ROLLBACK")
            return None
        for channel, due in channels:
            # queued again: a sender still busy with the older version finds its claim gone (finish is a no-op)
            self._db.execute("INSERT OR IGNORE INTO alert_deliveries (alert_id, channel, due_at) VALUES (?,?,?)",
                             (record.id, channel, _iso(due)))
            self._db.execute("UPDATE alert_deliveries SET status = 'pending', due_at = ?, claimed_by = NULL, "
                             "claimed_at = NULL, sent_at = NULL, error = NULL WHERE alert_id = ? AND channel = ?",
                             (_iso(due), record.id, channel))
        self._db.execute("COMMIT")
        return record

    # ------------------------------------------------------------ delivering

    def claim_due(self, now: datetime | None = None) -> list[Delivery]:
        """Claim every delivery that is due (pending, or stuck in `sending` past CLAIM_TIMEOUT): each one
        is returned to exactly one caller."""
        now = now or datetime.now(timezone.utc)
        stale = _iso(now - CLAIM_TIMEOUT)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT alert_id, channel, due_at FROM alert_deliveries WHERE due_at <= ? AND "
                    "(status = 'pending' OR (status = 'sending' AND claimed_at < ?)) ORDER BY due_at, alert_id",
                    (_iso(now), stale)).fetchall()
                for row in rows:
                    self._db.execute("UPDATE alert_deliveries SET status = 'sending', claimed_by = ?, claimed_at = ? "
                                     "WHERE alert_id = ? AND channel = ?",
                                     (self._owner, _iso(now), row["alert_id"], row["channel"]))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [Delivery(r["alert_id"], r["channel"], _dt(r["due_at"]), "sending") for r in rows]

    def finish(self, delivery: Delivery, error: str | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE alert_deliveries SET status = ?, sent_at = ?, error = ? "
                             "WHERE alert_id = ? AND channel = ? AND claimed_by = ?",
                             ("failed" if error else "sent", _iso(datetime.now(timezone.utc)), error,
                              delivery.alert_id, delivery.channel, self._owner))

    def deliveries(self, alert_id: int) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._db.execute(
                "SELECT channel, due_at, status, sent_at, error FROM alert_deliveries WHERE alert_id = ? "
                "ORDER BY channel", (alert_id,))]

    # ------------------------------------------------------------ reading and status

    def get(self, alert_id: int) -> AlertRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _record(row) if row else None

    def list(self, status: str | None = None, limit: int = 50) -> list[AlertRecord]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM alerts {where} ORDER BY id DESC LIMIT ?", [*params, limit])
            return [_record(r) for r in rows]

    def set_status(self, alert_id: int, status: Status) -> AlertRecord:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        with self._lock:
            changed = self._db.execute("UPDATE alerts SET status = ? WHERE id = ?", (status, alert_id)).rowcount
        if not changed:
            raise LookupError(f"no alert with id {alert_id} (see `listener alerts list`)")
        return self.get(alert_id)

    def purge(self, before: datetime | None = None) -> int:
        """Delete alerts (and their deliveries) whose window ended before `before`, or all; returns how many."""
        cutoff = _iso(before) if before else None
        where, params = ("WHERE window_end < ?", [cutoff]) if cutoff else ("", [])
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(f"DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id FROM alerts {where})",
                                 params)
                removed = self._db.execute(f"DELETE FROM alerts {where}", params).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return removed

    def forget_author(self, author_id: str) -> int:
        """Remove an author's quoted mentions and name from stored explanations (privacy requests: the
        mentions are deleted from the store, their copies in alerts go too); returns alerts changed."""
        changed = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute("SELECT id, details FROM alerts WHERE details LIKE ?",
                                        (f"%{author_id}%",)).fetchall()
                for row in rows:
                    details = json.loads(row["details"])
                    details["answer_first"] = [m for m in details.get("answer_first", [])
                                               if m.get("author_id") != author_id]
                    drivers = details.get("drivers", {})
                    if "author" in drivers:
                        drivers["author"] = [r for r in drivers["author"] if r.get("value") != author_id]
                    title = None
                    if author_id in (details.get("person") or {}).get("author_ids", []):
                        details.pop("person")  # a repeat-complainer alert is about this person: anonymise it
                        title = "a person who has since asked to be forgotten complained repeatedly"
                    self._db.execute("UPDATE alerts SET details = ?, title = coalesce(?, title) WHERE id = ?",
                                     (json.dumps(details, default=str, ensure_ascii=False), title, row["id"]))
                    changed += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return changed

    def iter_all(self) -> Iterator[AlertRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM alerts ORDER BY id").fetchall()
        return iter([_record(r) for r in rows])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "AlertState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _record(row: sqlite3.Row) -> AlertRecord:
    return AlertRecord(
        id=row["id"], subject=row["subject"], rule=row["rule"], kind=row["kind"], brand=row["brand"],
        split=row["split"] or "", status=row["status"], realert=bool(row["realert"]),
        created_at=_dt(row["created_at"]), window_start=_dt(row["window_start"]), window_end=_dt(row["window_end"]),
        observed=row["observed"], expected=row["expected"], p=row["p"], z=row["z"], title=row["title"],
        details=json.loads(row["details"]))


def open_alert_state(settings):
    """The alert state beside the store: tables in the store's own SQLite file in the embedded runtime, the
    index `alerts-<index>` in the same cluster with an Elasticsearch store (listener.alerts.state_elastic),
    so exactly once holds across every host that checks."""
    if settings.store_url.startswith("sqlite:"):
        from listener.store.sqlite import _path_of

        return AlertState(_path_of(settings.store_url))
    if settings.store_url.startswith("elasticsearch"):
        from listener.alerts.state_elastic import open_elastic_alert_state

        return open_elastic_alert_state(settings.store_url)
    return AlertState(Path(settings.data_dir) / "alerts.db")  # another registered back end: a file beside it
