"""SEO rank changes as alerts (metric = "serp"): raised once per question + event + check from the rank
history, explained with the pages that overtook the own page, delivered escaped, scoped to one brand."""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alerts_support import SmtpSink, WebhookSink  # noqa: E402

from listener.alerts.check import check_alerts  # noqa: E402
from listener.alerts.state import AlertState  # noqa: E402
from listener.config import Project  # noqa: E402
from listener.model import Mention, Sentiment  # noqa: E402
from listener.pipeline import host_of  # noqa: E402
from listener.seo.history import RankHistory  # noqa: E402
from listener.seo.model import SerpPage, SerpResult  # noqa: E402
from listener.seo.questions import questions_of  # noqa: E402
from listener.store.sqlite import SqliteStore  # noqa: E402

OWN = "https://help.nimbus.example/articles/reset-password"
ORBIT_OWN = "https://help.orbit.example/reset"
REDDIT = "https://www.reddit.com/r/nimbuswallet/comments/abc123/cant_reset_password/"
FORUM = "https://forum.example.org/t/nimbus-password-loop/5120"
PAYLOAD = ("Evil <script>alert(1)</script> [click](javascript:alert(3)) @channel <!everyone> "
           "<https://evil.example|Slack link>\r\nBcc: victim@evil.example")
T0 = datetime(2026, 11, 19, 8, tzinfo=timezone.utc)
T1 = T0 + timedelta(days=1)


def project(*rules: dict) -> Project:
    return Project.model_validate({
        "brand": [{"name": "Nimbus", "query": "nimbus", "help_center": "https://help.nimbus.example"},
                  {"name": "Orbit", "query": "orbit", "help_center": "https://help.orbit.example"}],
        "serp": [{"question": "nimbus reset password", "brand": "Nimbus", "own_page": OWN},
                 {"question": "orbit reset password", "brand": "Orbit", "own_page": ORBIT_OWN}],
        "alert": list(rules)})


RULE = {"name": "Rankings", "brand": "Nimbus", "metric": "serp"}


def page(question: str, *results: tuple[str, str], at: datetime) -> SerpPage:
    return SerpPage(engine="searxng", query=question, fetched_at=at,
                    results=[SerpResult(position=n, url=url, title=title) for n, (url, title) in enumerate(results, 1)])


def record(history: RankHistory, proj: Project, text: str, *results, at: datetime) -> None:
    [question] = [q for q in questions_of(proj) if q.text == text]
    history.record(question.key, question.brand, page(text, *results, at=at))


def overtaken_history(path, proj: Project, overtakers=((REDDIT, "Can't reset my Nimbus password"),)) -> None:
    """Nimbus: own page #1, then the overtakers above it. Orbit: the same page both times."""
    with RankHistory(path) as history:
        record(history, proj, "nimbus reset password", (OWN, "Reset your password"), (FORUM, "loop"), at=T0)
        record(history, proj, "nimbus reset password", *overtakers, (OWN, "Reset your password"), (FORUM, "loop"),
               at=T1)
        for at in (T0, T1):
            record(history, proj, "orbit reset password", (ORBIT_OWN, "Reset"), (REDDIT, "thread"), at=at)


def check(path, proj: Project, now: datetime, deliver: bool = False):
    with SqliteStore(path) as store, AlertState(path) as state, RankHistory(path) as history:
        return check_alerts(store, state, proj, now, deliver=deliver, history=history)


def test_a_third_party_page_overtaking_the_own_page_raises_one_alert_explained(tmp_path):
    path = tmp_path / "listener.db"
    proj = project(RULE)
    overtaken_history(path, proj)
    with SqliteStore(path) as store:  # what the thread says, as `listener seo fetch` stores it
        store.upsert([Mention(source="reddit", native_id=f"{REDDIT}#{n}", url=REDDIT, domain=host_of(REDDIT),
                              text=f"nimbus never sends the code {n}", published_at=T0, brands=["Nimbus"],
                              sentiment=Sentiment(label=label, score=0.8), topics=["account_access"])
                      for n, label in enumerate(["negative", "negative", "positive"])])
    report = check(path, proj, T1 + timedelta(hours=1))
    assert report.failed == []
    [alert] = report.raised
    assert alert.kind == "third_party_overtook" and alert.brand == "Nimbus"
    assert "nimbus reset password" in alert.title and "reddit.com" in alert.title
    serp = alert.details["serp"]
    assert (serp["own_before"], serp["own_after"]) == (1, 2) and serp["own_url"] == OWN
    [above] = serp["pages"]
    assert (above["url"], above["position"], above["before"], above["kind"]) == (REDDIT, 1, None, "forum")
    assert above["mentions"] == 3 and above["negativity"] == pytest.approx(1.6 / 3, abs=1e-3)
    # the same check again, and later ones: the change is raised once
    assert check(path, proj, T1 + timedelta(hours=1)).raised == []
    assert check(path, proj, T1 + timedelta(hours=20)).raised == []
    with AlertState(path) as state:
        assert [a.kind for a in state.list()] == ["third_party_overtook"]


def test_a_new_check_raises_its_own_events_and_old_changes_stay_history(tmp_path):
    path = tmp_path / "listener.db"
    proj = project({**RULE, "events": ["third_party_overtook", "own_left_page_one"]})
    overtaken_history(path, proj)
    # the rule is first checked a week later: the overtaking two checks ago is history, not news
    later = T1 + timedelta(days=7)
    with RankHistory(path) as history:
        record(history, proj, "nimbus reset password", (REDDIT, "thread"),
               *[(f"https://s{n}.example/", f"s{n}") for n in range(10)], (OWN, "Reset"), at=later)
    kinds = sorted(a.kind for a in check(path, proj, later + timedelta(minutes=5)).raised)
    assert kinds == ["own_left_page_one", "third_party_overtook"]
    assert check(path, proj, later + timedelta(minutes=6)).raised == []


def test_a_rule_for_another_brand_raises_nothing(tmp_path):
    path = tmp_path / "listener.db"
    proj = project({**RULE, "brand": "Orbit"})
    overtaken_history(path, proj)
    report = check(path, proj, T1 + timedelta(hours=1))
    assert report.checked == 1 and report.raised == [] and report.failed == []


def test_a_rule_for_one_question_ignores_the_others(tmp_path):
    path = tmp_path / "listener.db"
    proj = project({**RULE, "brand": None, "question": "orbit reset password"})
    overtaken_history(path, proj)
    assert check(path, proj, T1 + timedelta(hours=1)).raised == []
    proj = project({**RULE, "brand": None, "question": "Nimbus  Reset Password"})
    assert [a.kind for a in check(path, proj, T1 + timedelta(hours=1)).raised] == ["third_party_overtook"]


@pytest.mark.parametrize("sink_kind", ["webhook", "email"])
def test_channels_receive_the_rank_alert_escaped(tmp_path, monkeypatch, sink_kind):
    path = tmp_path / "listener.db"
    hostile = (("javascript:alert(1)", PAYLOAD), ('https://evil.example/"><script>alert(2)</script>', PAYLOAD),
               (FORUM.replace("5120", "9"), "@here <b>bold</b> thread"))
    sink = WebhookSink() if sink_kind == "webhook" else SmtpSink()
    with sink:
        for key, value in (sink.env().items() if sink_kind == "email" else []):
            monkeypatch.setenv(key, value)
        url = sink.url("alerts") if sink_kind == "webhook" else "mailto:seo@example.com"
        proj = project({**RULE, "channels": [url]})
        overtaken_history(path, proj, overtakers=hostile)
        report = check(path, proj, T1 + timedelta(hours=1), deliver=True)
        assert report.failed == [] and len(report.raised) == 1 and len(report.delivered) == 1
        if sink_kind == "webhook":
            [body] = sink.bodies
            title, bodies = body["title"], {"text": body["message"]}
        else:
            [message] = sink.messages
            assert message["Bcc"] is None
            title = str(message["Subject"])
            bodies = {part.get_content_subtype(): part.get_content() for part in message.walk()
                      if part.get_content_maintype() == "text"}
    assert "nimbus reset password" in title and "\n" not in title and "\r" not in title
    for kind, text in [("title", title), *bodies.items()]:
        lowered = text.lower()
        assert "javascript:" not in lowered and "@channel" not in text and "@here" not in text
        assert "<!everyone>" not in text and "<https://evil.example|" not in text
        if kind in ("html", "title"):
            assert "<script" not in lowered and "<b>bold" not in lowered
    text = bodies.get("plain") or bodies["text"]
    assert "Now above the own page" in text and "nimbus reset password" in text and "#1 -> #4" in text
    assert "other on no web address" in text  # a javascript: URL is not shown as if it were a site
    if sink_kind == "email":
        html = bodies["html"]
        assert "&lt;script&gt;" in html and 'href="javascript' not in html and "evil.example/&quot;" not in html
        assert f'href="{FORUM.replace("5120", "9")}"' in html and f'href="{OWN}"' in html


def test_rule_fields_are_checked():
    rule = project(RULE).alert[0]
    assert rule.window == "2d" and rule.events == ["third_party_overtook", "own_left_page_one"]
    with pytest.raises(ValidationError, match="not a \\[\\[serp\\]\\] question of Nimbus"):
        project({**RULE, "question": "orbit reset password"})
    with pytest.raises(ValidationError, match="for metric = 'serp' rules only"):
        project({"name": "Volume", "metric": "volume", "question": "nimbus reset password"})
    with pytest.raises(ValidationError, match="remove split"):
        project({**RULE, "split": ["source"]})
    with pytest.raises(ValidationError):
        project({**RULE, "events": ["own_vanished"]})


CLI_PROJECT = """
[[brand]]
name = "Nimbus"
query = "nimbus"
help_center = "https://help.nimbus.example"

[[serp]]
question = "nimbus reset password"
brand = "Nimbus"

[[alert]]
name = "Rankings"
metric = "serp"
"""


def test_alerts_check_and_list_through_the_cli(tmp_path, run):
    project_file = tmp_path / "project.toml"
    project_file.write_text(CLI_PROJECT)
    proj = Project.model_validate(tomllib.loads(CLI_PROJECT))
    now = datetime.now(timezone.utc)
    with RankHistory(tmp_path / "data" / "listener.db") as history:  # where `listener seo check` records
        record(history, proj, "nimbus reset password", (OWN, "Reset"), at=now - timedelta(days=1))
        record(history, proj, "nimbus reset password", (REDDIT, "thread"), (OWN, "Reset"),
               at=now - timedelta(minutes=5))
    first = run("alerts", "check", "--project", str(project_file))
    assert first.exit_code == 0, first.output
    assert "1 new alert(s)" in first.stdout and "Now above the own page" in first.stdout
    again = run("alerts", "check", "--project", str(project_file), "--json")
    assert json.loads(again.stdout)["raised"] == []
    [listed] = json.loads(run("alerts", "list", "--json").stdout)
    assert listed["kind"] == "third_party_overtook" and listed["rule"] == "Rankings"
    assert "reddit.com now #1" in run("alerts", "list").stdout


def test_concurrent_checks_raise_the_rank_change_once(tmp_path):
    import threading

    path = tmp_path / "listener.db"
    proj = project(RULE)
    overtaken_history(path, proj)
    raised, start = [], threading.Barrier(4)

    def one_check():
        start.wait()
        raised.extend(check(path, proj, T1 + timedelta(hours=1)).raised)

    threads = [threading.Thread(target=one_check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.kind for a in raised] == ["third_party_overtook"]
