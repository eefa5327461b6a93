"""Alert records and deliveries in an Elasticsearch index beside the mentions' index: exactly once across hosts.

Same interface and semantics as the SQLite `AlertState` (tests/alert_state_contract.py runs against both).
Elasticsearch has no multi-document transaction, so "re-read the subject's last alert, decide, insert" is
made atomic with optimistic concurrency on ONE document per subject, its *head*:

- `raise_alert` reads the head (the subject's last alert, with its `_seq_no`/`_primary_term`), decides, and
  writes the new head with `if_seq_no`/`if_primary_term` (`op_type=create` for a subject's first alert).
  Of two checks that decide at once, one write succeeds and the other gets 409 and starts over: it re-reads
  the head, now sees the first one's alert, and the cooldown or the dedupe key says no. Only the winner then
  writes the alert, its dedupe-key document (`op_type=create`: a key raised before, even if it is no longer
  the last, is never raised again) and its deliveries.
- Alert ids are small integers like SQLite's (`listener alerts ack 12`): a counter document incremented
  with the same compare-and-set.
- A delivery is claimed by rewriting it as `sending` with `if_seq_no`/`if_primary_term` from the search that
  found it: of two senders only one write succeeds, and only that one sends. A claim left by a process that
  died is taken over after CLAIM_TIMEOUT, as in SQLite.

The head holds the whole record but its explanation, so the cooldown holds even if a process dies between
writing the head and the alert (the alert is then missing from `list`, never sent twice).
Reads by id are real-time in Elasticsearch; writes that a later search must see use refresh=wait_for.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

from listener.alerts.state import (
    CLAIM_TIMEOUT, STATUSES, AlertRecord, Delivery, Status, _dt, _iso, as_update, is_update,
)

#: the alert state of the store `NAME` is the index `alerts-NAME`: outside the mentions' index template
#: (`NAME*`, strict mapping), and granted by deploy/elasticsearch/api-key.json
ALERT_INDEX_PREFIX = "alerts-"
#: compare-and-set attempts before giving up (each loses only to another writer that succeeded)
MAX_ATTEMPTS = 100
PAGE = 500

MAPPINGS = {
    "dynamic": False,  # everything is kept in _source; only what is searched or sorted on is indexed
    "properties": {
        "doc": {"type": "keyword"},  # alert, head, key, delivery, counter
        "id": {"type": "long"},
        "alert_id": {"type": "long"},
        "subject": {"type": "keyword"},
        "status": {"type": "keyword"},
        "window_end": {"type": "date"},
        "channel": {"type": "keyword"},
        "due_at": {"type": "date"},
        "claimed_at": {"type": "date"},
    },
}


def _digest(text: str) -> str:
    # document ids are at most 512 bytes; subjects and channel URLs are not bounded
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _fields(record: AlertRecord) -> dict[str, Any]:
    return {"id": record.id, "subject": record.subject, "rule": record.rule, "kind": record.kind,
            "brand": record.brand, "split": record.split, "status": record.status, "realert": record.realert,
            "created_at": _iso(record.created_at), "window_start": _iso(record.window_start),
            "window_end": _iso(record.window_end), "observed": record.observed, "expected": record.expected,
            "p": record.p, "z": record.z, "title": record.title, "dedupe_key": record.dedupe_key}


def _record(source: dict) -> AlertRecord:
    return AlertRecord(
        id=source["id"], subject=source["subject"], rule=source["rule"], kind=source["kind"], brand=source["brand"],
        split=source.get("split") or "", status=source["status"], realert=bool(source["realert"]),
        created_at=_dt(source["created_at"]), window_start=_dt(source["window_start"]),
        window_end=_dt(source["window_end"]), observed=source["observed"], expected=source["expected"],
        p=source["p"], z=source["z"], title=source["title"], details=json.loads(source.get("details") or "{}"))


class ElasticAlertState:
    """Alert records and deliveries in the index `alerts-<store index>` (its own small index: the mentions'
    index template and mapping are for mentions)."""

    def __init__(self, index: str, *, client=None, where: str = "", **client_options):
        from listener.store.elastic_connect import connect

        hosts = client_options.pop("hosts", ["http://127.0.0.1:9200"])
        self.where = where or ", ".join(hosts)
        self._own_client = client is None
        self.client = client if client is not None else connect(hosts, **client_options)
        self.index = index
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._create_index()

    def _errors(self):
        from listener.store.elastic_connect import translate_errors

        return translate_errors(self.where)

    def _create_index(self) -> None:
        from elasticsearch import BadRequestError

        with self._errors():
            if self.client.indices.exists(index=self.index):
                return
            try:
                self.client.indices.create(index=self.index, mappings=MAPPINGS,
                                           settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})
            except BadRequestError as error:  # two processes opened it at once: fine
                if error.error != "resource_already_exists_exception":
                    raise

    # ------------------------------------------------------------ documents

    def _get(self, doc_id: str) -> tuple[dict, int, int] | None:
        """(source, seq_no, primary_term), or None: a real-time read, no refresh needed."""
        from elasticsearch import NotFoundError

        with self._errors():
            try:
                found = self.client.get(index=self.index, id=doc_id)
            except NotFoundError:
                return None
        return found["_source"], found["_seq_no"], found["_primary_term"]

    def _put(self, doc_id: str, source: dict, *, seq: tuple[int, int] | None = None, create: bool = False,
             refresh: bool = False) -> bool:
        """Write a document; False when the compare-and-set (`seq`) or `create` lost to another writer."""
        from elasticsearch import ConflictError

        options: dict[str, Any] = {"refresh": "wait_for"} if refresh else {}
        if create:
            options["op_type"] = "create"
        elif seq is not None:
            options.update(if_seq_no=seq[0], if_primary_term=seq[1])
        with self._errors():
            try:
                self.client.index(index=self.index, id=doc_id, document=source, **options)
            except ConflictError:
                return False
        return True

    def _delete(self, doc_id: str) -> None:
        from elasticsearch import NotFoundError

        with self._errors():
            try:
                self.client.delete(index=self.index, id=doc_id)
            except NotFoundError:
                pass

    def _search(self, query: dict, sort: list, size: int = PAGE, seq: bool = False) -> Iterator[dict]:
        """Every hit of the query, page by page (search_after on the sort, which ends with a unique field)."""
        after = None
        while True:
            with self._errors():
                response = self.client.search(index=self.index, query=query, sort=sort, size=size,
                                              search_after=after, seq_no_primary_term=seq or None)
            hits = response["hits"]["hits"]
            yield from hits
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def _refresh(self) -> None:
        with self._errors():
            self.client.indices.refresh(index=self.index)

    @staticmethod
    def _doc(kind: str, *clauses: dict) -> dict:
        return {"bool": {"filter": [{"term": {"doc": kind}}, *clauses]}}

    # ------------------------------------------------------------ raising

    def last_alert(self, subject: str) -> AlertRecord | None:
        head = self._get(f"head-{_digest(subject)}")
        if head is None:
            return None
        record = _record(head[0]["record"])
        full = self._get(f"alert-{record.id}")
        return _record(full[0]) if full else record

    def _next_id(self) -> int:
        for _ in range(MAX_ATTEMPTS):
            found = self._get("counter")
            if found is None:
                if self._put("counter", {"doc": "counter", "value": 1}, create=True):
                    return 1
                continue
            source, seq_no, term = found
            value = int(source["value"]) + 1
            if self._put("counter", {"doc": "counter", "value": value}, seq=(seq_no, term)):
                return value
        raise RuntimeError(f"could not allocate an alert id in {self.index!r}: too many concurrent writers")

    def raise_alert(self, record: AlertRecord, decide, channels: list[tuple[str, datetime]]) -> AlertRecord | None:
        """Store `record` if `decide(last_alert_of_subject, record)` still says so, once across every process
        and host; None when another check raised it (or a cooldown now forbids it)."""
        head_id = f"head-{_digest(record.subject)}"
        key_id = f"key-{_digest(record.dedupe_key)}"
        for _ in range(MAX_ATTEMPTS):
            head = self._get(head_id)
            last = _record(head[0]["record"]) if head else None
            if last is not None and last.dedupe_key == record.dedupe_key:
                return None
            if last is not None:  # its status and explanation live in the alert itself
                full = self._get(f"alert-{last.id}")
                last = _record(full[0]) if full and full[0].get("dedupe_key") == last.dedupe_key else last
            if self._get(key_id) is not None or not decide(last, record):
                return None
            update = is_update(last, record)
            if update:
                as_update(last, record)
            else:
                record.id = self._next_id()
            fields = _fields(record)
            if not self._put(head_id, {"doc": "head", "subject": record.subject, "record": fields},
                             seq=(head[1], head[2]) if head else None, create=head is None):
                continue  # another check raised for this subject meanwhile: decide again against it
            if not self._put(key_id, {"doc": "key", "alert_id": record.id}, create=True):
                return None  # cannot happen while every raise goes through the head; kept as a guard
            document = {"doc": "alert", **fields,
                        "details": json.dumps(record.details, default=str, ensure_ascii=False)}
            if update:  # compare-and-set, so an acknowledgement made meanwhile is kept
                self._rewrite_alert(record.id, lambda source: dict(document, status=source["status"]))
            else:
                self._put(f"alert-{record.id}", document, create=True, refresh=True)
            for channel, due in channels:
                # (queued again on an update: a sender busy with the older version finds its claim gone)
                self._put(self._delivery_id(record.id, channel),
                          {"doc": "delivery", "alert_id": record.id, "channel": channel, "due_at": _iso(due),
                           "status": "pending", "claimed_by": None, "claimed_at": None, "sent_at": None,
                           "error": None}, create=not update, refresh=True)
            return record
        raise RuntimeError(f"could not raise an alert for {record.subject!r}: too many concurrent writers")

    @staticmethod
    def _delivery_id(alert_id: int, channel: str) -> str:
        return f"delivery-{alert_id}-{_digest(channel)}"

    # ------------------------------------------------------------ delivering

    def claim_due(self, now: datetime | None = None) -> list[Delivery]:
        """Claim every delivery that is due (pending, or stuck in `sending` past CLAIM_TIMEOUT): each one is
        returned to exactly one caller, whichever process or host it runs in."""
        now = now or datetime.now(timezone.utc)
        stale = _iso(now - CLAIM_TIMEOUT)
        query = self._doc("delivery", {"range": {"due_at": {"lte": _iso(now)}}}, {"bool": {"should": [
            {"term": {"status": "pending"}},
            {"bool": {"filter": [{"term": {"status": "sending"}}, {"range": {"claimed_at": {"lt": stale}}}]}}]}})
        claimed = []
        for hit in list(self._search(query, [{"due_at": "asc"}, {"alert_id": "asc"}, {"channel": "asc"}], seq=True)):
            source = dict(hit["_source"], status="sending", claimed_by=self._owner, claimed_at=_iso(now))
            if self._put(hit["_id"], source, seq=(hit["_seq_no"], hit["_primary_term"]), refresh=True):
                claimed.append(Delivery(source["alert_id"], source["channel"], _dt(source["due_at"]), "sending"))
        return claimed

    def finish(self, delivery: Delivery, error: str | None = None) -> None:
        doc_id = self._delivery_id(delivery.alert_id, delivery.channel)
        for _ in range(MAX_ATTEMPTS):
            found = self._get(doc_id)
            if found is None or found[0].get("claimed_by") != self._owner:
                return  # another sender took it over (ours was stale): its outcome is the one kept
            source = dict(found[0], status="failed" if error else "sent", sent_at=_iso(datetime.now(timezone.utc)),
                          error=error)
            if self._put(doc_id, source, seq=(found[1], found[2]), refresh=True):
                return

    def deliveries(self, alert_id: int) -> list[dict]:
        hits = self._search(self._doc("delivery", {"term": {"alert_id": alert_id}}), [{"channel": "asc"}])
        return [{k: h["_source"].get(k) for k in ("channel", "due_at", "status", "sent_at", "error")} for h in hits]

    # ------------------------------------------------------------ reading and status

    def get(self, alert_id: int) -> AlertRecord | None:
        found = self._get(f"alert-{int(alert_id)}")
        return _record(found[0]) if found else None

    def list(self, status: str | None = None, limit: int = 50) -> list[AlertRecord]:
        clauses = [{"term": {"status": status}}] if status else []
        with self._errors():
            response = self.client.search(index=self.index, query=self._doc("alert", *clauses),
                                          sort=[{"id": "desc"}], size=limit)
        return [_record(h["_source"]) for h in response["hits"]["hits"]]

    def _rewrite_alert(self, alert_id: int, change) -> AlertRecord | None:
        """Apply change(source) to an alert with compare-and-set, retrying when another writer got there first."""
        doc_id = f"alert-{int(alert_id)}"
        for _ in range(MAX_ATTEMPTS):
            found = self._get(doc_id)
            if found is None:
                return None
            source = change(dict(found[0]))
            if self._put(doc_id, source, seq=(found[1], found[2]), refresh=True):
                return _record(source)
        raise RuntimeError(f"could not update alert {alert_id}: too many concurrent writers")

    def set_status(self, alert_id: int, status: Status) -> AlertRecord:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        changed = self._rewrite_alert(alert_id, lambda source: dict(source, status=status))
        if changed is None:
            raise LookupError(f"no alert with id {alert_id} (see `listener alerts list`)")
        return changed

    def purge(self, before: datetime | None = None) -> int:
        """Delete alerts (and their deliveries) whose window ended before `before`, or all; returns how many."""
        clauses = [{"range": {"window_end": {"lt": _iso(before)}}}] if before else []
        alerts = [h["_source"] for h in self._search(self._doc("alert", *clauses), [{"id": "asc"}])]
        ids = [a["id"] for a in alerts]
        for start in range(0, len(ids), PAGE):
            chunk = ids[start:start + PAGE]
            for hit in list(self._search(self._doc("delivery", {"terms": {"alert_id": chunk}}),
                                         [{"alert_id": "asc"}, {"channel": "asc"}])):
                self._delete(hit["_id"])
        for source in alerts:
            self._delete(f"key-{_digest(source['dedupe_key'])}")
            self._delete(f"alert-{source['id']}")
        self._refresh()
        # each affected subject's head becomes its latest remaining alert (the cooldown reads it), or goes
        for subject in sorted({a["subject"] for a in alerts}):
            head_id = f"head-{_digest(subject)}"
            remaining = next(iter(self._search(self._doc("alert", {"term": {"subject": subject}}),
                                               [{"window_end": "desc"}, {"id": "desc"}], size=1)), None)
            if remaining is None:
                self._delete(head_id)
            else:
                fields = {k: v for k, v in remaining["_source"].items() if k not in ("doc", "details")}
                self._put(head_id, {"doc": "head", "subject": subject, "record": fields})
        if before is None:  # heads of alerts that were never written (a process died in between) go too
            for hit in list(self._search(self._doc("head"), [{"subject": "asc"}])):
                self._delete(hit["_id"])
        self._refresh()
        return len(alerts)

    def forget_author(self, author_id: str) -> int:
        """Remove an author's quoted mentions and name from stored explanations; returns alerts changed."""
        changed = 0
        for hit in list(self._search(self._doc("alert"), [{"id": "asc"}])):
            if author_id not in (hit["_source"].get("details") or ""):
                continue

            def scrub(source: dict) -> dict:
                details = json.loads(source.get("details") or "{}")
                details["answer_first"] = [m for m in details.get("answer_first", [])
                                           if m.get("author_id") != author_id]
                drivers = details.get("drivers", {})
                if "author" in drivers:
                    drivers["author"] = [r for r in drivers["author"] if r.get("value") != author_id]
                if author_id in (details.get("person") or {}).get("author_ids", []):
                    details.pop("person")  # a repeat-complainer alert is about this person: anonymise it
                    source["title"] = "a person who has since asked to be forgotten complained repeatedly"
                source["details"] = json.dumps(details, default=str, ensure_ascii=False)
                return source

            if self._rewrite_alert(hit["_source"]["id"], scrub) is not None:
                changed += 1
        # the heads keep titles too (never explanations): a repeat-complainer's title names the person
        for hit in list(self._search(self._doc("head"), [{"subject": "asc"}])):
            record = hit["_source"]["record"]
            alert = self._get(f"alert-{record['id']}")
            if alert is not None and alert[0]["title"] != record["title"]:
                self._put(hit["_id"], dict(hit["_source"], record=dict(record, title=alert[0]["title"])))
        return changed

    def iter_all(self) -> Iterator[AlertRecord]:
        return iter([_record(h["_source"]) for h in self._search(self._doc("alert"), [{"id": "asc"}])])

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> "ElasticAlertState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_elastic_alert_state(url: str) -> ElasticAlertState:
    """The alert state beside the Elasticsearch store of `url` (same cluster, credentials and TLS settings)."""
    from listener.store.elastic_connect import client_options

    index, options = client_options(url)
    return ElasticAlertState(ALERT_INDEX_PREFIX + index, **options)
