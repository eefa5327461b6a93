"""The web app's pages and API beyond search (through FastAPI's TestClient, on tests/web_support.py's data):
overview charts and breakdowns, share of voice, the mention page with its thread, corrections, the alert page,
export, API tokens, the admin page, reader-formatted numbers and dates. Every page is checked for escaping."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from listener.corrections import export_corrections
from listener.model import Mention
from listener.store.base import Filters
from listener.threads import arrange
from tests.web_support import PASSWORD, XSS_URL, build


@pytest.fixture()
def web(tmp_path):
    fixture = build(tmp_path)
    yield fixture
    fixture.close()


def login(app, name="vera", headers=None) -> TestClient:
    client = TestClient(app, headers=headers or {})
    response = client.post("/login", data={"name": name, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def assert_inert(html: str) -> None:
    """No payload survives as markup, and no link leads to javascript: or data:."""
    for raw in ("<script>window", "<img src=x", "<svg onload", "<b>Pay</b>"):
        assert raw not in html, raw
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript", "data", "vbscript"))]


def test_overview_draws_volume_with_alert_band_and_spike_and_lists_breakdowns(web):
    html = login(web.app).get("/overview").text
    assert_inert(html)
    svg = re.search(r'<svg viewBox[^>]*id="volume".*?</svg>', html, re.S).group(0)
    assert "<title id=\"volume-title\">Mentions per" in svg and "<desc id=\"volume-desc\">" in svg
    assert f'href="/alerts/{web.alert_id}"' in svg  # the alert window is shaded and links to the alert
    assert 'class="spike"' in svg  # the planted hour of 40 stands out from a few an hour
    bars = re.findall(r'<g class="bar"><title>', svg)
    numbers = re.search(r'<details class="numbers">.*?</details>', html, re.S).group(0)
    assert len(bars) == numbers.count("<tr") - 1  # one table row per bar, besides the header
    assert f"{web.store.count(Filters())} mentions" in html  # all of the data is in the default 30 days
    for heading in ("Topics", "Sources", "Languages", "Authors", "Share of voice"):
        assert f"<h2>{heading}</h2>" in html
    assert "Orbit &lt;b&gt;Pay&lt;/b&gt;" in html  # a brand name is text too
    assert '<option value="Orbit &lt;b&gt;Pay&lt;/b&gt;"' in html  # also in the brand filter


def test_share_of_voice_covers_every_project_brand(web):
    client = login(web.app)
    rows = client.get("/api/share-of-voice", params={"since": "30d"}).json()
    assert {r["brand"] for r in rows} == {"Nimbus", "Kestrel Pay", "Orbit <b>Pay</b>"}
    assert rows[0]["brand"] == "Nimbus"  # the planted incident makes it the loudest
    assert abs(sum(r["share"] for r in rows) - 1) < 1e-9
    nimbus = rows[0]
    assert nimbus["negative"] <= nimbus["mentions"] and nimbus["negative_share"] == nimbus["negative"] / nimbus["mentions"]


def test_mention_page_shows_its_thread_nested(web):
    client = login(web.app)
    html = client.get(f"/mentions/{web.thread_reply}").text
    assert_inert(html)
    assert "3 mentions" in html
    html = html[html.index("<h2>Thread"):]  # the mention itself is shown first, then its conversation
    root = html.index("Has anyone had their Nimbus refund")
    reply = html.index("Mine took 10 days")
    deeper = html.index("Same here, ten days")
    assert root < reply < deeper
    # the reply to the reply sits in a list inside the reply's item
    between = html[reply:deeper]
    assert '<ul class="thread">' in between
    assert re.search(r'class="post current"[^>]*id="m-' + web.thread_reply, html)
    api = client.get(f"/api/mentions/{web.thread_reply}").json()
    [root_node] = api["thread"]
    assert root_node["mention"]["native_id"] == "t3_root"
    assert root_node["replies"][0]["replies"][0]["mention"]["native_id"] == "t1_deeper"
    assert client.get("/api/mentions/nope").status_code == 404


def test_hostile_mention_page_and_alert_page_show_payloads_as_text(web):
    client = login(web.app, "ed")
    html = client.get(f"/mentions/{web.xss_id}").text
    assert_inert(html)
    assert "Mallory &lt;img src=x" in html and "&lt;script&gt;window.__xss=1" in html
    assert XSS_URL.replace("'", "&#39;") in html  # shown, so a reader sees what was posted, but not a link
    assert 'value="topic&lt;svg onload=alert(&#39;svg&#39;)&gt;"' in html  # even as a form value
    html = client.get(f"/alerts/{web.alert_id}").text
    assert_inert(html)
    assert "Nimbus mentions spiked &lt;script&gt;" in html
    assert f'href="/mentions/{web.xss_id}"' in html  # answer first links to our page, not to the URL
    assert "<svg viewBox" in html and "the alert window" in html
    alerts = client.get("/alerts").text
    assert_inert(alerts)
    assert f'href="/alerts/{web.alert_id}"' in alerts
    seo = client.get("/seo").text
    assert_inert(seo)
    assert "Nimbus scam &lt;script&gt;" in seo


def test_editor_corrects_sentiment_and_topics_and_the_export_trains_on_it(web, tmp_path):
    client = login(web.app, "ed")
    page = client.get(f"/mentions/{web.fa_id}").text
    assert 'name="sentiment" value="positive"' in page
    token = csrf_of(page)
    forged = client.post(f"/mentions/{web.fa_id}/correct", data={"sentiment": "positive", "csrf": "forged"})
    assert forged.status_code == 403 and web.corrections.get(web.fa_id) is None
    response = client.post(f"/mentions/{web.fa_id}/correct",
                           data={"csrf": token, "sentiment": "positive", "topics_shown": "1", "topic": ["fees"]})
    assert response.status_code == 200 and "Correction saved" in response.text
    stored = web.store.get(web.fa_id)
    assert stored.sentiment.label == "positive" and stored.topics == ["fees"]
    assert web.corrections.get(web.fa_id).corrected_by == "ed"
    # the API corrects the topics only; the sentiment correction stays
    body = client.post(f"/api/mentions/{web.thread_root}/correction", json={"topics": ["Payments", "fees"]},
                       headers={"X-CSRF-Token": token}).json()
    assert body["mention"]["topics"] == ["payments", "fees"] and body["mention"]["sentiment"]["label"] == "neutral"
    bad = client.post(f"/api/mentions/{web.thread_root}/correction", json={"sentiment": "furious"},
                      headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "sentiment" in bad.json()["detail"]
    assert {c["mention_id"] for c in client.get("/api/corrections").json()} == {web.fa_id, web.thread_root}
    out = io.StringIO()
    assert export_corrections(web.corrections, web.store, out) == 2
    lines = {json.loads(line)["text"]: json.loads(line) for line in out.getvalue().splitlines()}
    persian = lines[web.store.get(web.fa_id).full_text]
    assert persian == {"text": persian["text"], "label": "positive", "lang": "fa", "topics": ["fees"],
                       "set": "corrections", "split": "train"}
    topic_only = lines[web.store.get(web.thread_root).full_text]
    assert "label" not in topic_only and topic_only["topics"] == ["payments", "fees"]
    # the file is what `listener model train --data` reads
    from listener.nlp.data import read_labelled

    path = tmp_path / "corrections.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    read = read_labelled([path])
    assert not read.bad_lines and {e.set for e in read.examples} == {"corrections"}
    assert not any(e.held_out for e in read.examples)


def test_viewer_cannot_correct(web):
    client = login(web.app, "vera")
    page = client.get(f"/mentions/{web.fa_id}").text
    assert "Save correction" not in page
    response = client.post(f"/api/mentions/{web.fa_id}/correction", json={"sentiment": "positive"},
                           headers={"X-CSRF-Token": csrf_of(page)})
    assert response.status_code == 403 and web.corrections.get(web.fa_id) is None


def test_export_csv_is_formula_safe_and_jsonl_reimportable(web):
    web.store.upsert([Mention(source="forum", native_id="formula", text="=HYPERLINK(\"http://x\",\"win\") nimbus",
                              lang="en", published_at=web.now - timedelta(hours=1), url=XSS_URL)])
    client = login(web.app)
    response = client.get("/api/export", params={"q": "hyperlink", "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1 and rows[0]["text"].startswith("'=HYPERLINK") and rows[0]["url"] == ""
    lines = client.get("/api/export", params={"lang": "fa"}).text.splitlines()
    assert len(lines) == web.store.count(Filters(langs=("fa",))) and all(Mention.from_json(line).lang == "fa" for line in lines)
    assert client.get("/api/export", params={"format": "xlsx"}).status_code == 400


def test_api_tokens_are_hashed_role_checked_and_revocable(web, tmp_path):
    token_id, token = web.users.add_token("vera", "script")
    assert token not in (tmp_path / "users.db").read_bytes().decode("latin-1")
    script = TestClient(web.app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/search", params={"q": "refund"}).json()["total"] > 0
    assert script.post(f"/api/mentions/{web.fa_id}/correction", json={"sentiment": "positive"}).status_code == 403
    _, editor_token = web.users.add_token("ed")
    editor = TestClient(web.app, headers={"Authorization": f"Bearer {editor_token}"})
    # a token is not a cookie, so no CSRF token is needed (or possible) for a script
    assert editor.post(f"/api/alerts/{web.alert_id}/ack").json()["status"] == "acknowledged"
    assert web.users.tokens("vera")[0].last_used is not None
    web.users.revoke_token(token_id)
    assert script.get("/api/search").status_code == 401
    assert TestClient(web.app, headers={"Authorization": "Bearer lst_forged"}).get("/api/alerts").status_code == 401
    assert editor.get("/").status_code == 200 and "/login" in str(editor.get("/").url)  # pages need a login


def test_admin_page_manages_users_and_shows_a_new_token_once(web):
    assert login(web.app, "ed").get("/admin").status_code == 403
    admin = login(web.app, "ada")
    page = admin.get("/admin").text
    token = csrf_of(page)
    assert admin.post("/admin/users", data={"name": "newbie", "role": "editor", "password": "short",
                                            "csrf": token}).status_code == 400
    assert admin.post("/admin/users", data={"name": "newbie", "role": "editor", "password": PASSWORD,
                                            "csrf": "forged"}).status_code == 403
    admin.post("/admin/users", data={"name": "newbie", "role": "editor", "password": PASSWORD, "csrf": token})
    assert ("newbie", "editor") in web.users.list()
    made = admin.post("/admin/tokens", data={"name": "newbie", "label": "nightly", "csrf": token}).text
    shown = re.search(r'<code class="token">(lst_[^<]+)</code>', made).group(1)
    assert web.users.token_session(shown).name == "newbie"
    assert shown not in admin.get("/admin").text  # only ever on the page that made it
    admin.post("/admin/users/newbie/remove", data={"csrf": token})
    assert web.users.token_session(shown) is None  # removing a user ends their tokens too


def test_every_user_makes_lists_and_revokes_only_their_own_tokens(web):
    vera = login(web.app)  # a viewer
    page = vera.get("/tokens").text
    assert 'href="/tokens"' in page and "No tokens." in page
    csrf = csrf_of(page)
    assert vera.post("/tokens", data={"label": "nightly"}).status_code == 403  # no CSRF token: nothing made
    assert vera.post("/tokens", data={"label": "x" * 101, "csrf": csrf}).status_code == 400
    assert web.users.tokens("vera") == []
    made = vera.post("/tokens", data={"label": "<img src=x onerror=alert(1)> nightly", "csrf": csrf})
    assert made.status_code == 200
    shown = re.search(r'<code class="token">(lst_[^<]+)</code>', made.text).group(1)
    assert made.text.count(shown) == 1 and "<img src=x" not in made.text
    [info] = web.users.tokens("vera")
    assert info.prefix == shown[:10] and shown.startswith(info.prefix)
    script = TestClient(web.app, headers={"Authorization": f"Bearer {shown}"})
    assert script.get("/api/search", params={"q": "refund"}).status_code == 200
    listed = vera.get("/tokens").text
    assert shown not in listed and f"{info.prefix}…" in listed and "&lt;img src=x" in listed  # never the secret again
    row = re.search(rf"<tr><td>{info.id}</td>.*?</tr>", listed, re.S).group(0)
    assert "never" not in row  # the script above used it: last used is shown
    # a token cannot reach the page, so it cannot make more tokens
    assert "/login" in str(script.post("/tokens", data={"label": "more"}).url)
    assert len(web.users.tokens("vera")) == 1
    # someone else's token is not theirs to see or revoke
    ed = login(web.app, "ed")
    ed_made = ed.post("/tokens", data={"label": "ed's", "csrf": csrf_of(ed.get("/tokens").text)}).text
    ed_token = re.search(r'<code class="token">(lst_[^<]+)</code>', ed_made).group(1)
    [ed_info] = web.users.tokens("ed")
    assert "ed&#39;s" not in vera.get("/tokens").text and ed_info.prefix not in vera.get("/tokens").text
    assert vera.post(f"/tokens/{ed_info.id}/revoke", data={"csrf": csrf}).status_code == 404
    assert web.users.token_session(ed_token) is not None
    assert vera.post(f"/tokens/{info.id}/revoke", data={"csrf": "forged"}).status_code == 403
    revoked = vera.post(f"/tokens/{info.id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/tokens"
    assert script.get("/api/search").status_code == 401 and web.users.tokens("vera") == []
    # an admin still revokes anyone's, and sees every token by its prefix
    admin = login(web.app, "ada")
    admin_page = admin.get("/admin").text
    assert f"{ed_info.prefix}…" in admin_page and ed_token not in admin_page
    admin.post(f"/admin/tokens/{ed_info.id}/revoke", data={"csrf": csrf_of(admin_page)})
    assert web.users.token_session(ed_token) is None


def test_a_users_file_from_before_token_prefixes_still_opens(tmp_path):
    import sqlite3

    from listener.web.users import Users, hash_token

    path = tmp_path / "users.db"
    old = sqlite3.connect(path)
    old.executescript("CREATE TABLE tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
                      "label TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, last_used REAL)")
    old.execute("INSERT INTO tokens (name, label, hash, created) VALUES ('vera', 'old', ?, 1.0)",
                (hash_token("lst_old"),))
    old.commit()
    old.close()
    users = Users(path)
    users.add("vera", PASSWORD)
    assert [(t.label, t.prefix) for t in users.tokens("vera")] == [("old", None)]
    assert users.token_session("lst_old").name == "vera"
    _, token = users.add_token("vera", "new")
    assert users.tokens("vera")[1].prefix == token[:10]
    users.close()


def test_numbers_and_dates_follow_the_readers_language(web):
    record = web.alerts.get(web.alert_id)
    start = record.window_start
    german = login(web.app, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).get("/alerts").text
    assert f"{start.day:02d}.{start.month:02d}.{start.year}" in german and "1,2" in german  # expected 1.2
    english = login(web.app, headers={"Accept-Language": "en-US"}).get("/alerts").text
    assert f"{start.year}" in english and "1.2" in english and f"{start.day:02d}.{start.month:02d}." not in english
    assert '<html lang="en">' in german  # the interface itself stays English


def test_every_new_page_needs_a_login(web):
    client = TestClient(web.app)
    for page in ("/overview", f"/mentions/{web.fa_id}", f"/alerts/{web.alert_id}", "/admin"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    for api in ("/api/share-of-voice", "/api/export", f"/api/mentions/{web.fa_id}", "/api/corrections",
                f"/api/alerts/{web.alert_id}"):
        assert client.get(api).status_code == 401


def test_openapi_lists_the_whole_api(web):
    paths = set(TestClient(web.app).get("/openapi.json").json()["paths"])
    assert {"/api/search", "/api/stats", "/api/share-of-voice", "/api/export", "/api/mentions/{mention_id}",
            "/api/mentions/{mention_id}/correction", "/api/corrections", "/api/alerts",
            "/api/alerts/{alert_id}", "/api/alerts/{alert_id}/ack", "/api/alerts/{alert_id}/resolve",
            "/api/seo/report"} <= paths


def test_thread_arrangement_survives_cycles_and_missing_parents():
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    a = Mention(source="x", native_id="a", text="a", parent_id="b", published_at=t)
    b = Mention(source="x", native_id="b", text="b", parent_id="a", published_at=t + timedelta(minutes=1))
    orphan = Mention(source="x", native_id="c", text="c", parent_id="gone", published_at=t + timedelta(minutes=2))
    roots = arrange([orphan, b, a])
    placed = [roots[0].mention.native_id] + [n.mention.native_id for n in roots[0].replies]
    assert sorted(placed + [r.mention.native_id for r in roots[1:]]) == ["a", "b", "c"]
    assert len(roots) == 2  # a-b (one under the other, not both), and the orphan on its own


def test_sqlite_thread_lookup_matches_the_generic_one(web):
    from listener.store.base import Store

    root = web.store.get(web.thread_root)
    fast = web.store.thread(root.source, root.thread_id)
    slow = Store.thread(web.store, root.source, root.thread_id)
    assert [m.id for m in fast] == [m.id for m in slow] and len(fast) == 3
    assert web.store.thread("forum", root.thread_id) == []  # a thread id is only meaningful within its source


def test_token_and_corrections_commands(run, tmp_path, monkeypatch):
    from listener.config import Settings
    from listener.corrections import Corrections
    from listener.store import open_store

    monkeypatch.setenv("LISTENER_NEW_PASSWORD", PASSWORD)
    assert run("user", "add", "ed", "--role", "editor").exit_code == 0
    made = run("user", "token", "add", "ed", "--label", "nightly")
    assert made.exit_code == 0
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("lst_")
    listed = run("user", "token", "list")
    assert "nightly" in listed.stdout and token not in listed.stdout
    assert run("user", "token", "revoke", "1").exit_code == 0
    assert run("user", "token", "revoke", "1").exit_code == 2
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path / "data")})
    with open_store(settings.store_url) as store, Corrections.open(settings) as corrections:
        store.upsert([Mention(source="forum", native_id="1", text="كيسترل باي ممتاز", lang="ar",
                              published_at=datetime(2026, 11, 1, tzinfo=timezone.utc))])
        mention_id = next(store.iter_mentions(Filters())).id
        corrections.record(store, mention_id, "ed", sentiment="positive")
    out = tmp_path / "corrections.jsonl"
    result = run("corrections", "export", "-o", str(out))
    assert result.exit_code == 0 and "1 correction" in result.stdout
    assert json.loads(out.read_text(encoding="utf-8")) == {"text": "كيسترل باي ممتاز", "label": "positive",
                                                           "lang": "ar", "set": "corrections", "split": "train"}
    assert mention_id in run("corrections", "list").stdout


def test_admin_page_escapes_user_names_and_labels(web):
    web.users.add("<b>bold</b>", PASSWORD, "viewer")
    web.users.add_token("<b>bold</b>", "<img src=x onerror=alert(1)>")
    html = login(web.app, "ada").get("/admin").text
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_chart_geometry_bands_spikes_and_scale():
    from listener.web.charts import bar_chart, spikes
    from listener.web.locale import Formatter, reader_locale

    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    counts = [3, 4, 2, 3, 30, 4, 3, 2, 4, 3]
    series = [(t0 + timedelta(hours=i), {"negative": c - 1, "positive": 1}) for i, c in enumerate(counts)]
    chart = bar_chart(series, 3600, Formatter(reader_locale("en")), "t",
                      [(t0 + timedelta(hours=4), t0 + timedelta(hours=5), "alert", "/alerts/1"),
                       (t0 - timedelta(days=2), t0 - timedelta(days=1), "long before", None)])
    assert [b.spike for b in chart.bars] == [i == 4 for i in range(10)] == spikes(counts)
    [band] = chart.bands  # the one outside the range is not drawn
    step = chart.bars[1].x - chart.bars[0].x
    assert abs(band.x - (chart.bars[4].x - (chart.bars[0].x - 48))) < 1e-6 and abs(band.width - step) < 1e-6
    tallest = max(chart.bars, key=lambda b: b.total)
    top_of_bar = min(s.y for s in tallest.segments)
    assert tallest.total == 30 and chart.y_ticks[-1][1] == "50"  # the axis top is a round number above the peak
    assert abs((chart.plot_bottom - top_of_bar) / (chart.plot_bottom - chart.y_ticks[-1][0]) - 30 / 50) < 1e-3
    assert [k for k, _ in chart.keys] == ["negative", "positive"]


def test_search_pages_on_with_the_filters_kept(web):
    client = login(web.app)
    first = client.get("/", params={"q": "nimbus", "lang": "en", "sort": "date"}).text
    nxt = re.search(r'<a class="next" href="/\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "q=nimbus" in nxt and "lang=en" in nxt and "cursor=" in nxt
    second = client.get("/?" + nxt).text
    def ids(html):
        return re.findall(r'class="open" href="/mentions/([0-9a-f]+)"', html)

    assert len(ids(first)) == 50 and ids(second) and not set(ids(first)) & set(ids(second))
    assert all(web.store.get(i).lang == "en" for i in ids(second))  # the filter held on the next page


def test_times_are_shown_in_the_asked_or_the_projects_time_zone(web):
    from zoneinfo import ZoneInfo

    start = web.alerts.get(web.alert_id).window_start
    client = login(web.app, headers={"Accept-Language": "en-US"})
    utc = client.get("/alerts").text
    assert f"{start.hour % 12 or 12}:{start.minute:02d}:00" in utc and " UTC" in utc  # the project says nothing
    local = start.astimezone(ZoneInfo("Asia/Tehran"))  # +03:30: a different hour and minute
    tehran = client.get("/alerts", params={"tz": "Asia/Tehran"}).text
    assert f"{local.hour % 12 or 12}:{local.minute:02d}:00" in tehran and "Asia/Tehran" in tehran
    assert client.get("/alerts", params={"tz": "../etc/passwd"}).status_code == 200  # a bad zone falls back
    overview = client.get("/overview", params={"tz": "Asia/Tehran", "interval": "1d"}).text
    # day buckets start at Tehran's midnight: the first row of the numbers is a local midnight
    first_row = re.search(r'<details class="numbers">.*?<tbody>\s*<tr[^>]*><td>([^<]+)</td>', overview, re.S).group(1)
    assert "12:00:00" in first_row and "AM" in first_row and "Asia/Tehran" in first_row
