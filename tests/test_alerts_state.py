"""One test suite for every alert-state back end: SQLite (AlertState) and Elasticsearch (ElasticAlertState,
against tests/fake_elastic.py, which answers compare-and-set writes with 409s as a real cluster does).

What every back end must do: an alert is raised once per dedupe key and per cooldown decision even when
checks race (threads and processes), each delivery is claimed by exactly one sender, statuses change, purge
and forget work, and a full `check_alerts` run concurrently sends one e-mail/webhook."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import NOW, WebhookSink, incident, quiet_history  # noqa: E402
from fake_elastic import FakeElasticsearch  # noqa: E402

from listener.alerts.check import check_alerts  # noqa: E402
from listener.alerts.state import CLAIM_TIMEOUT, AlertRecord, AlertState  # noqa: E402
from listener.alerts.state_elastic import ElasticAlertState  # noqa: E402
from listener.config import Project  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "elastic")


class Backend:
    """Opens new states on one back end (each open is like another process's connection)."""

    def __init__(self, kind: str, tmp_path: Path, server: FakeElasticsearch | None):
        self.kind = kind
        self.path = tmp_path / "listener.db"
        self.server = server

    def open(self):
        if self.kind == "sqlite":
            return AlertState(self.path)
        return ElasticAlertState("alerts-test", hosts=[self.server.url])

    def opener_code(self) -> str:
        """Python that opens a state of this back end in another process."""
        if self.kind == "sqlite":
            return f"from listener.alerts.state import AlertState\nstate = AlertState({str(self.path)!r})"
        return ("from listener.alerts.state_elastic import ElasticAlertState\n"
                f"state = ElasticAlertState('alerts-test', hosts=[{self.server.url!r}])")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path, None)
        return
    with FakeElasticsearch() as server:
        yield Backend("elastic", tmp_path, server)
        assert server.errors == []


def record(subject="rule|Nimbus", end=NOW, observed=40.0, **extra) -> AlertRecord:
    return AlertRecord(subject=subject, rule="rule", kind="volume", brand="Nimbus", split="",
                       window_start=end - timedelta(hours=1), window_end=end, observed=observed, expected=5.0,
                       p=1e-9, z=6.0, title=f"Nimbus: {observed:.0f} mentions", details=extra.pop("details", {}),
                       **extra)


def always(last, new) -> bool:
    return True


def cooldown(hours: float):
    """decide(): fire unless the last alert ended less than `hours` before this one."""
    def decide(last, new) -> bool:
        return last is None or (new.window_end - last.window_end) >= timedelta(hours=hours)
    return decide


def test_raise_stores_once_per_dedupe_key(backend):
    with backend.open() as state:
        first = state.raise_alert(record(), always, [("mailto:a@example.com", NOW)])
        assert first is not None and first.id is not None
        assert state.raise_alert(record(), always, []) is None  # the same subject and window end
        again = state.get(first.id)
        assert again.title == first.title and again.window_end == NOW and again.status == "open"
        assert state.last_alert("rule|Nimbus").id == first.id and state.last_alert("other") is None
        # a key raised before is never raised again, even when it is no longer the subject's last
        later = state.raise_alert(record(end=NOW + timedelta(hours=9)), always, [])
        assert later is not None and later.id != first.id
        assert state.raise_alert(record(), always, []) is None
        assert state.last_alert("rule|Nimbus").id == later.id


def test_decide_sees_the_last_alert_and_a_cooldown_refuses(backend):
    seen = []

    def decide(last, new):
        seen.append(last.id if last else None)
        return cooldown(6)(last, new)

    with backend.open() as state:
        first = state.raise_alert(record(), decide, [])
        assert state.raise_alert(record(end=NOW + timedelta(hours=2)), decide, []) is None
        assert state.raise_alert(record(end=NOW + timedelta(hours=7)), decide, []) is not None
        assert seen == [None, first.id, first.id]


def test_concurrent_raises_in_threads_store_one(backend):
    """Eight checks see the same spike at slightly different moments (different window ends): the cooldown,
    decided against whatever the others stored, lets exactly one through."""
    barrier = threading.Barrier(8)
    raised = []
    states = [backend.open() for _ in range(8)]

    def worker(i):
        barrier.wait()
        got = states[i].raise_alert(record(end=NOW + timedelta(minutes=i)), cooldown(6), [("json://x", NOW)])
        if got is not None:
            raised.append(got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for state in states:
        state.close()
    assert len(raised) == 1
    with backend.open() as state:
        assert [r.id for r in state.iter_all()] == [raised[0].id]
        assert len(state.claim_due(NOW + timedelta(hours=1))) == 1


RAISE_SCRIPT = """
import sys, time
from datetime import datetime, timedelta, timezone
{opener}
from listener.alerts.state import AlertRecord
end = datetime(2026, 11, 20, 14, 40, tzinfo=timezone.utc) + timedelta(minutes={minute})
rec = AlertRecord(subject="rule|Nimbus", rule="rule", kind="volume", brand="Nimbus", split="",
                  window_start=end - timedelta(hours=1), window_end=end, observed=40, expected=5, p=1e-9, z=6,
                  title="t")
decide = lambda last, new: last is None or new.window_end - last.window_end >= timedelta(hours=6)
while time.time() < {start}:
    time.sleep(0.002)
print(1 if state.raise_alert(rec, decide, []) is not None else 0)
"""


@pytest.mark.slow  # three interpreters started, then a rendezvous a few seconds later
def test_concurrent_raises_in_processes_store_one(backend):
    with backend.open():
        pass  # the schema / index exists before the race
    start = time.time() + 4.0
    procs = [subprocess.Popen([sys.executable, "-c", RAISE_SCRIPT.format(opener=backend.opener_code(), minute=i,
                                                                         start=start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for i in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for (out, err), proc in zip(outputs, procs):
        assert proc.returncode == 0, err
    assert sum(int(out) for out, _ in outputs) == 1
    with backend.open() as state:
        assert len(list(state.iter_all())) == 1


def test_each_delivery_is_claimed_by_one_sender_and_finished(backend):
    with backend.open() as state:
        a = state.raise_alert(record(), always, [("mailto:a@example.com", NOW),
                                                 ("json://hook", NOW + timedelta(minutes=5))])
    states = [backend.open() for _ in range(4)]
    barrier = threading.Barrier(4)
    claims = []

    def worker(s):
        barrier.wait()
        claims.extend((d.alert_id, d.channel) for d in s.claim_due(NOW))

    threads = [threading.Thread(target=worker, args=(s,)) for s in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert claims == [(a.id, "mailto:a@example.com")]  # the digest one is not due yet
    owner = next(s for s in states if s.deliveries(a.id)[1]["status"] == "sending")
    mail = owner.claim_due(NOW + timedelta(minutes=6))  # the other one is due now; the first is being sent
    assert [d.channel for d in mail] == ["json://hook"]
    for delivery in mail:
        owner.finish(delivery)
    rows = {d["channel"]: d for d in owner.deliveries(a.id)}
    assert rows["json://hook"]["status"] == "sent" and rows["mailto:a@example.com"]["status"] == "sending"
    # a sender that died: its claim is taken over after CLAIM_TIMEOUT, once
    other = next(s for s in states if s is not owner)
    retried = other.claim_due(NOW + CLAIM_TIMEOUT + timedelta(hours=3))
    assert [d.channel for d in retried] == ["mailto:a@example.com"]
    other.finish(retried[0], error="550 mailbox unavailable")
    owner.finish(retried[0])  # the stale owner's late report does not overwrite the new owner's outcome
    assert {d["channel"]: d["status"] for d in owner.deliveries(a.id)}["mailto:a@example.com"] == "failed"
    for s in states:
        s.close()


def worse(last, new) -> bool:
    """decide() as the policy says "clearly worse" during a cooldown: a re-alert."""
    new.realert = last is not None
    return True


def test_a_worse_window_updates_the_open_alert_in_place_and_sends_it_again(backend):
    with backend.open() as state:
        first = state.raise_alert(record(observed=30), always, [("json://hook", NOW)])
        [claim] = state.claim_due(NOW)
        state.finish(claim)
        state.set_status(first.id, "acknowledged")
        grown = state.raise_alert(record(end=NOW + timedelta(hours=1), observed=90), worse,
                                  [("json://hook", NOW + timedelta(hours=1))])
        assert grown.id == first.id and grown.realert
        stored = state.get(first.id)
        assert stored.observed == 90 and stored.status == "acknowledged" and stored.window_end == grown.window_end
        assert stored.details["first"]["observed"] == 30 and [u["observed"] for u in stored.details["updates"]] == [90]
        assert [r.id for r in state.iter_all()] == [first.id]  # one alert, not two
        assert [d["status"] for d in state.deliveries(first.id)] == ["pending"]  # the update is sent again
        assert [d.alert_id for d in state.claim_due(NOW + timedelta(hours=1))] == [first.id]
        assert state.raise_alert(record(end=NOW + timedelta(hours=1), observed=90), worse, []) is None  # once
        # once resolved, a worse window is news again: an alert of its own
        state.set_status(first.id, "resolved")
        again = state.raise_alert(record(end=NOW + timedelta(hours=2), observed=300), worse, [])
        assert again.id != first.id and len(list(state.iter_all())) == 2


def test_status_list_and_errors(backend):
    with backend.open() as state:
        a = state.raise_alert(record(), always, [])
        b = state.raise_alert(record(subject="rule|Kestrel"), always, [])
        assert [r.id for r in state.list()] == [b.id, a.id]
        assert state.set_status(a.id, "acknowledged").status == "acknowledged"
        assert [r.id for r in state.list("acknowledged")] == [a.id]
        state.set_status(a.id, "resolved")
        assert state.get(a.id).status == "resolved" and [r.id for r in state.list("open")] == [b.id]
        with pytest.raises(LookupError):
            state.set_status(99999, "resolved")
        with pytest.raises(ValueError):
            state.set_status(a.id, "closed")
        assert state.get(99999) is None


def test_purge_before_a_time_and_all(backend):
    with backend.open() as state:
        old = state.raise_alert(record(end=NOW - timedelta(days=10)), always, [("json://x", NOW)])
        new = state.raise_alert(record(end=NOW), always, [])
        other = state.raise_alert(record(subject="rule|Kestrel", end=NOW - timedelta(days=9)), always, [])
        assert state.purge(NOW - timedelta(days=5)) == 2
        assert [r.id for r in state.iter_all()] == [new.id]
        assert state.deliveries(old.id) == [] and state.last_alert("rule|Kestrel") is None
        assert state.last_alert("rule|Nimbus").id == new.id and other.id != new.id
        assert state.purge() == 1 and list(state.iter_all()) == []
        # a purged alert can be raised again (the demo re-raises its sample's alert on each run)
        assert state.raise_alert(record(end=NOW), always, []) is not None


def test_forget_author_scrubs_quotes_and_anonymises_a_person(backend):
    details = {"answer_first": [{"author_id": "reddit:t2_abc", "text": "x"}, {"author_id": "reddit:t2_zzz"}],
               "drivers": {"author": [{"value": "reddit:t2_abc", "count": 3}]},
               "person": {"author_ids": ["reddit:t2_abc"], "name": "Sara K"}}
    with backend.open() as state:
        a = state.raise_alert(record(details=details, subject="repeat|Nimbus|author=sara k"), always, [])
        b = state.raise_alert(record(subject="rule|Kestrel"), always, [])
        assert state.forget_author("reddit:t2_abc") == 1
        kept = state.get(a.id)
        assert [m["author_id"] for m in kept.details["answer_first"]] == ["reddit:t2_zzz"]
        assert "person" not in kept.details and "Sara" not in kept.title and kept.details["drivers"]["author"] == []
        assert "Sara" not in state.last_alert("repeat|Nimbus|author=sara k").title
        assert state.get(b.id).title == b.title


def test_concurrent_checks_send_one_alert(backend, tmp_path):
    """The whole check (detect, raise, deliver) from four threads, each with its own state connection."""
    db = tmp_path / "mentions.db"
    with SqliteStore(db) as store:
        store.upsert(quiet_history() + incident())
    with WebhookSink() as hook:
        project = Project.model_validate({"brand": [{"name": "Nimbus", "query": "nimbus"}], "alert": [
            {"name": "Volume", "metric": "volume", "window": "1h", "channels": [hook.url()]}]})
        barrier = threading.Barrier(4)
        reports = []

        def worker():
            with SqliteStore(db) as store, backend.open() as state:
                barrier.wait()
                reports.append(check_alerts(store, state, project, NOW, explain=False))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(reports) == 4
        assert sum(len(r.raised) for r in reports) == 1
        assert sum(len(r.delivered) for r in reports) == 1 and len(hook.bodies) == 1


def test_the_elastic_state_uses_compare_and_set_writes(tmp_path):
    """Not a contract item: how the Elasticsearch back end gets it (so a refactor cannot drop the guards)."""
    with FakeElasticsearch() as server, ElasticAlertState("alerts-test", hosts=[server.url]) as state:
        state.raise_alert(record(), always, [("json://x", NOW)])
        state.raise_alert(record(end=NOW + timedelta(hours=8)), always, [])
        heads = [r for r in server.calls("PUT", r"/alerts-test/_(doc|create)/head-")]
        assert heads[0].path.startswith("/alerts-test/_create/") or heads[0].query.get("op_type") == "create"
        assert {"if_seq_no", "if_primary_term"} <= set(heads[1].query)
        claims = state.claim_due(NOW)
        assert len(claims) == 1
        claim = server.calls("PUT", r"/alerts-test/_doc/delivery-")[-1]
        assert {"if_seq_no", "if_primary_term"} <= set(claim.query)


def test_an_elasticsearch_store_keeps_its_alert_state_in_the_same_cluster(tmp_path):
    from listener.alerts.state import open_alert_state
    from listener.config import Settings

    with FakeElasticsearch() as server:
        settings = Settings.from_env({"LISTENER_DATA": str(tmp_path),
                                      "LISTENER_STORE": server.store_url("acme-mentions")})
        with open_alert_state(settings) as state:
            assert isinstance(state, ElasticAlertState) and state.index == "alerts-acme-mentions"
            raised = state.raise_alert(record(), always, [])
        with open_alert_state(settings) as state:  # another process, another host: the same state
            assert state.get(raised.id).title == raised.title
    assert not (tmp_path / "alerts.db").exists()
