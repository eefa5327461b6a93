"""Rules checked against a real SQLite store: what fires, what stays quiet, exactly once, and the state."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import NOW, WebhookSink, incident, quiet_history  # noqa: E402

from listener.alerts.check import check_alerts  # noqa: E402
from listener.alerts.state import AlertState  # noqa: E402
from listener.config import Project  # noqa: E402
from listener.model import Mention, Sentiment  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def project(*rules: dict, brands=("Nimbus",)) -> Project:
    return Project.model_validate({"brand": [{"name": b, "query": b.lower()} for b in brands], "alert": list(rules)})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "listener.db"
    with SqliteStore(path) as store:
        store.upsert(quiet_history())
    return path


def check(path, proj, now=NOW, **kwargs):
    with SqliteStore(path) as store, AlertState(path) as state:
        return check_alerts(store, state, proj, now, **kwargs)


RULES = [
    {"name": "Volume", "metric": "volume", "window": "1h", "split": ["source"]},
    {"name": "Negative", "metric": "negative", "window": "1h"},
    {"name": "Login", "metric": "topic", "topic": "account_access", "window": "1h"},
    {"name": "Visible", "metric": "engagement", "window": "1h"},
]


def test_quiet_days_raise_nothing(db):
    report = check(db, project(*RULES), deliver=False)
    assert report.checked >= 4 and report.raised == [] and report.failed == []


def test_the_incident_raises_each_kind_once_with_an_explanation(db):
    with SqliteStore(db) as store:
        store.upsert(incident())
    report = check(db, project(*RULES), deliver=False)
    kinds = sorted((r.rule, r.split) for r in report.raised)
    assert ("Volume", "") in kinds and ("Volume", "source=reddit") in kinds
    assert ("Negative", "") in kinds and ("Login", "") in kinds
    assert [r for r in report.raised if r.rule == "Visible" and r.split.startswith("mention=")]
    volume = next(r for r in report.raised if r.rule == "Volume" and r.split == "")
    assert volume.observed >= 40 and volume.expected < 10 and volume.p < 1e-3
    d = volume.details
    assert d["drivers"]["topic"][0]["value"] == "account_access" and d["drivers"]["topic"][0]["baseline_share"] == 0
    assert d["drivers"]["source"][0]["value"] == "reddit"
    assert {"login", "code"} <= {t["term"] for t in d["terms"]}
    assert d["answer_first"][0]["url"] == "https://example.com/inc/3"  # the most visible one comes first
    assert len(d["answer_first"]) == 5 and sum(d["chart"]["counts"]) >= 40
    # a second check sees the same incident: nothing new
    assert check(db, project(*RULES), deliver=False).raised == []


def test_min_volume_keeps_a_small_incident_quiet(db):
    with SqliteStore(db) as store:
        store.upsert(incident(count=22))
    rule = {"name": "Volume", "metric": "volume", "window": "1h", "min_volume": 30, "sensitivity": 3.0}
    assert check(db, project(rule), deliver=False).raised == []
    assert check(db, project({**rule, "min_volume": 10}), deliver=False).raised


def test_cooldown_then_realert_when_clearly_worse(db):
    rule = {"name": "Volume", "metric": "volume", "window": "1h", "cooldown": "6h", "sensitivity": 3.0}
    with SqliteStore(db) as store:
        store.upsert(incident(count=30, end=NOW - timedelta(hours=2)))
    first = check(db, project(rule), now=NOW - timedelta(hours=2), deliver=False).raised
    assert len(first) == 1 and not first[0].realert
    with SqliteStore(db) as store:  # the same size again an hour later: inside the cooldown, not worse
        store.upsert(incident(count=30, end=NOW - timedelta(hours=1), prefix="again"))
    assert check(db, project(rule), now=NOW - timedelta(hours=1), deliver=False).raised == []
    with SqliteStore(db) as store:  # three times as big: re-alert, marked as worse
        store.upsert(incident(count=150, end=NOW, prefix="worse"))
    again = check(db, project(rule), now=NOW, deliver=False).raised
    assert len(again) == 1 and again[0].realert
    assert again[0].id == first[0].id and again[0].details["first"]["observed"] == first[0].observed  # in place


def test_repeat_complainer_across_sources(tmp_path):
    path = tmp_path / "l.db"
    names = [("reddit", "Sara_K"), ("trustpilot", "sara k"), ("appstore", "SARA-K")]
    mentions = quiet_history(days=3)
    for i, (source, name) in enumerate(names):
        mentions.append(Mention(source=source, native_id=f"sara{i}", author_name=name, text="still locked out of nimbus",
                                published_at=NOW - timedelta(hours=3 + i), brands=["Nimbus"],
                                sentiment=Sentiment(label="negative", score=0.9)))
    with SqliteStore(path) as store:
        store.upsert(mentions)
    rule = {"name": "Repeat", "metric": "repeat_author", "window": "1d", "repeat_count": 3}
    raised = check(path, project(rule), deliver=False).raised
    assert len(raised) == 1 and raised[0].split == "author=sara k"
    assert raised[0].details["person"]["sources"] == ["appstore", "reddit", "trustpilot"]
    assert check(path, project({**rule, "repeat_count": 4}), deliver=False).raised == []
    with AlertState(path) as state:  # the person asks to be forgotten: the alert no longer names them
        assert state.forget_author(raised[0].details["person"]["author_ids"][0]) == 1
        anonymised = state.get(raised[0].id)
    assert "Sara" not in anonymised.title and "person" not in anonymised.details


def test_drop_when_a_busy_source_goes_silent(tmp_path):
    path = tmp_path / "l.db"
    mentions = []
    t = NOW - timedelta(days=4)
    i = 0
    while t < NOW:
        silent = t >= NOW - timedelta(hours=4)
        for source in ("reddit", "trustpilot"):
            if source == "trustpilot" and silent:
                continue
            for k in range(8):
                i += 1
                mentions.append(Mention(source=source, native_id=f"d{i}", text="nimbus ok",
                                        published_at=t + timedelta(minutes=7 * k), brands=["Nimbus"]))
        t += timedelta(hours=1)
    with SqliteStore(path) as store:
        store.upsert(mentions)
    raised = check(path, project({"name": "Silence", "metric": "drop", "window": "3h"}), deliver=False).raised
    assert [r.split for r in raised] == ["source=trustpilot"]
    assert raised[0].observed == 0 and raised[0].expected > 10


def test_no_history_no_alert(tmp_path):
    path = tmp_path / "l.db"
    with SqliteStore(path) as store:
        store.upsert(incident())
    assert check(path, project(*RULES[:3]), deliver=False).raised == []


def test_state_ack_resolve_and_list(db):
    with SqliteStore(db) as store:
        store.upsert(incident())
    raised = check(db, project(RULES[0]), deliver=False).raised
    with AlertState(db) as state:
        alert_id = raised[0].id
        assert state.set_status(alert_id, "acknowledged").status == "acknowledged"
        assert [r.id for r in state.list("acknowledged")] == [alert_id]
        state.set_status(alert_id, "resolved")
        assert state.get(alert_id).status == "resolved"
        with pytest.raises(LookupError):
            state.set_status(99999, "resolved")
        with pytest.raises(ValueError):
            state.set_status(alert_id, "closed")


def test_concurrent_checks_in_threads_send_one_alert(db):
    with SqliteStore(db) as store:
        store.upsert(incident())
    with WebhookSink() as hook:
        rule = {"name": "Volume", "metric": "volume", "window": "1h", "channels": [hook.url()]}
        barrier = threading.Barrier(4)
        reports = []

        def worker():
            barrier.wait()
            reports.append(check(db, project(rule), explain=False))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(len(r.raised) for r in reports) == 1
        assert sum(len(r.delivered) for r in reports) == 1
        assert len(hook.bodies) == 1


CHECK_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from alerts_support import NOW
from listener.alerts.check import check_alerts
from listener.alerts.state import AlertState
from listener.config import Project
from listener.store.sqlite import SqliteStore
proj = Project.model_validate({{"brand": [{{"name": "Nimbus", "query": "nimbus"}}], "alert": [
    {{"name": "Volume", "metric": "volume", "window": "1h", "channels": [{url!r}]}}]}})
while time.time() < {start}:
    time.sleep(0.005)
with SqliteStore({db!r}) as store, AlertState({db!r}) as state:
    report = check_alerts(store, state, proj, NOW, explain=False)
print(len(report.raised), len(report.delivered))
"""


@pytest.mark.slow  # two interpreters started, then a rendezvous a few seconds later
def test_concurrent_checks_in_two_processes_send_one_alert(db):
    import time

    with SqliteStore(db) as store:
        store.upsert(incident())
    with WebhookSink() as hook:
        start = time.time() + 4.0  # both processes are started and waiting by then
        script = CHECK_SCRIPT.format(tests=str(ROOT / "tests"), url=hook.url(), start=start, db=str(db))
        procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in procs]
        for (out, err), proc in zip(outputs, procs):
            assert proc.returncode == 0, err
        counts = [tuple(map(int, out.split())) for out, _ in outputs]
        assert sum(c[0] for c in counts) == 1 and sum(c[1] for c in counts) == 1
        assert len(hook.bodies) == 1


def test_forgetting_an_author_removes_their_quotes_from_alerts(db):
    with SqliteStore(db) as store:
        store.upsert(incident())
    [record] = check(db, project({"name": "Volume", "metric": "volume", "window": "1h"}), deliver=False).raised
    quoted = record.details["answer_first"][0]
    assert quoted["author_id"]
    with AlertState(db) as state:
        assert state.forget_author(quoted["author_id"]) == 1
        kept = state.get(record.id).details["answer_first"]
    assert quoted["author_id"] not in {m["author_id"] for m in kept} and len(kept) == 4


def test_a_volume_spike_with_the_usual_mix_is_not_a_negative_or_topic_surge(db):
    burst = [Mention(source="reddit", native_id=f"launch-{i}", text="nimbus launched a new card, nice",
                     published_at=NOW - timedelta(minutes=50) + timedelta(seconds=35 * i), brands=["Nimbus"],
                     sentiment=Sentiment(label="negative" if i % 5 == 0 else "positive", score=0.9),
                     topics=[["payments", "features", "pricing", "customer_service"][i % 4]]) for i in range(80)]
    with SqliteStore(db) as store:
        store.upsert(burst)
    rules = [RULES[1], RULES[2], {"name": "Volume", "metric": "volume", "window": "1h", "split": ["topic"]}]
    raised = {(r.rule, r.split) for r in check(db, project(*rules), deliver=False).raised}
    assert ("Volume", "") in raised and ("Volume", "topic=features") in raised
    assert not any(rule in ("Negative", "Login") for rule, _ in raised)
