"""The web app through FastAPI's TestClient: login, roles, CSRF, escaping of hostile mentions, headers, search."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from listener.alerts.state import AlertRecord, AlertState
from listener.config import Settings
from listener.model import Mention, Sentiment
from listener.store import open_store
from listener.web import create_app
from listener.web.users import Users, hash_password, verify_password

T0 = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"
XSS = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'


def mentions():
    return [
        Mention(source="reddit", native_id="en1", text="Acme charged me twice for one refund", lang="en",
                author_name="Dana", url="https://reddit.example/r/acme/1", published_at=T0, brands=["acme"],
                sentiment=Sentiment(label="negative", score=0.9)),
        Mention(source="forum", native_id="fa1", text="پشتیبانی آکمه بازپرداخت را انجام نداد", lang="fa",
                author_name="سارا", url="https://forum.example/t/2", published_at=T0 + timedelta(hours=1),
                brands=["acme"]),
        # Every field a stranger writes carries a payload; the URL is a javascript: link.
        Mention(source="forum", native_id="xss1", text=f"refund scam {XSS} {IMG}", title=f"Title {XSS}",
                author_name=f"Mallory {IMG}", url="javascript:alert(document.cookie)", lang="en",
                published_at=T0 + timedelta(hours=2), brands=["acme"]),
        Mention(source="forum", native_id="xss2", text="refund via data link", title="data link",
                url="data:text/html,<script>alert(2)</script>", lang="en", published_at=T0 + timedelta(hours=3)),
    ]


@pytest.fixture()
def web(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path)})
    store = open_store(settings.store_url)
    store.upsert(mentions())
    users = Users(tmp_path / "users.db")
    users.add("vera", PASSWORD, "viewer")
    users.add("ed", PASSWORD, "editor")
    state = AlertState(tmp_path / "alerts.db")
    alert = AlertRecord(subject="volume:acme", rule="spike", kind="volume", brand="acme", split="all",
                        window_start=T0, window_end=T0 + timedelta(hours=1), observed=40, expected=3.5, p=1e-6,
                        z=9.0, title=f"Acme volume spike {XSS}")
    stored = state.raise_alert(alert, lambda last, new: True, [])
    app = create_app(settings, store=store, users=users, alert_state=state)
    yield app, stored.id
    state.close()
    users.close()
    store.close()


def login(app, name="vera", password=PASSWORD) -> TestClient:
    client = TestClient(app)
    response = client.post("/login", data={"name": name, "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_nothing_is_shown_before_login(web):
    app, _ = web
    client = TestClient(app)
    for page in ("/", "/alerts", "/seo", "/?q=refund"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    for api in ("/api/search?q=refund", "/api/stats", "/api/alerts", "/api/seo/report"):
        assert client.get(api).status_code == 401
    assert client.post("/api/alerts/1/ack").status_code == 401


def test_wrong_password_refused_and_session_cookie_is_httponly_lax(web):
    app, _ = web
    client = TestClient(app)
    assert client.post("/login", data={"name": "vera", "password": "wrong password!"}).status_code == 401
    assert client.post("/login", data={"name": "nobody", "password": PASSWORD}).status_code == 401
    response = client.post("/login", data={"name": "vera", "password": PASSWORD}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_secure_cookie_behind_tls(tmp_path):
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path)})
    users = Users(tmp_path / "users.db")
    users.add("vera", PASSWORD)
    app = create_app(settings, store=open_store(settings.store_url), users=users, secure_cookies=True)
    response = TestClient(app).post("/login", data={"name": "vera", "password": PASSWORD}, follow_redirects=False)
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_attempts_are_rate_limited(web):
    app, _ = web
    client = TestClient(app)
    for _ in range(5):
        assert client.post("/login", data={"name": "vera", "password": "not the password"}).status_code == 401
    # Even the right password is refused now: a guesser cannot tell when it found it.
    assert client.post("/login", data={"name": "vera", "password": PASSWORD}).status_code == 429


def test_csp_and_security_headers_on_every_response(web):
    app, _ = web
    client = login(app)
    for page in ("/login", "/", "/alerts", "/api/search"):
        headers = client.get(page).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "object-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_search_page_escapes_hostile_mentions_and_never_links_javascript_or_data(web):
    app, _ = web
    html = login(app).get("/", params={"q": "refund"}).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the title and text, shown as text
    assert "Mallory &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert not [h for h in hrefs if h.lower().startswith(("javascript", "data"))]
    assert "https://reddit.example/r/acme/1" in hrefs
    assert "javascript:alert(document.cookie)" in html  # shown as text, so a reader sees what was posted
    assert html.count('class="mention" dir="auto"') == 3


def test_search_highlights_matches_english_and_persian(web):
    app, _ = web
    client = login(app)
    html = client.get("/", params={"q": "charged"}).text
    assert "<mark>charged</mark>" in html and "1 mention<" in html
    html = client.get("/", params={"q": "بازپرداخت"}).text
    assert "<mark>بازپرداخت</mark>" in html and "سارا" in html
    assert 'value="بازپرداخت"' in html  # the query stays in the form, as in the URL


def test_search_api_with_query_language_and_filters(web):
    app, _ = web
    client = login(app)
    body = client.get("/api/search", params={"q": "refund AND NOT scam", "lang": "en"}).json()
    assert {hit["mention"]["native_id"] for hit in body["hits"]} == {"en1", "xss2"}
    body = client.get("/api/search", params={"q": "refund", "sentiment": "negative"}).json()
    assert [hit["mention"]["native_id"] for hit in body["hits"]] == ["en1"]
    assert client.get("/api/search", params={"lang": "fa"}).json()["total"] == 1
    bad = client.get("/api/search", params={"q": "refund AND ("})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("q:")


def test_stats_api_counts_by_day_and_language(web):
    app, _ = web
    body = login(app).get("/api/stats", params={"tz": "UTC"}).json()
    assert body["total"] == 4
    assert dict(body["breakdowns"]["lang"]) == {"en": 3, "fa": 1}
    assert sum(point["negative"] for point in body["timeseries"]) == 1
    assert login(app).get("/api/stats", params={"interval": "fortnight"}).status_code == 400


def test_alert_list_escapes_titles_and_viewer_cannot_ack(web):
    app, alert_id = web
    client = login(app, "vera")
    html = client.get("/alerts").text
    assert "Acme volume spike &lt;script&gt;" in html and "<script>" not in html
    assert "Acknowledge" not in html  # a viewer sees no buttons...
    token = csrf_of(html)
    response = client.post(f"/api/alerts/{alert_id}/ack", headers={"X-CSRF-Token": token})
    assert response.status_code == 403 and "editor" in response.json()["detail"]  # ...and the API refuses too
    assert client.get("/api/alerts").json()[0]["status"] == "open"


def test_editor_acks_and_resolves_with_csrf_token_only(web):
    app, alert_id = web
    client = login(app, "ed")
    token = csrf_of(client.get("/alerts").text)
    assert client.post(f"/alerts/{alert_id}/ack", data={}).status_code == 403
    assert client.post(f"/alerts/{alert_id}/ack", data={"csrf": "forged"}).status_code == 403
    assert client.post(f"/api/alerts/{alert_id}/ack").status_code == 403
    assert client.get("/api/alerts").json()[0]["status"] == "open"
    assert client.post(f"/alerts/{alert_id}/ack", data={"csrf": token}).status_code == 200
    assert client.get("/api/alerts", params={"status": "acknowledged"}).json()[0]["id"] == alert_id
    response = client.post(f"/api/alerts/{alert_id}/resolve", headers={"X-CSRF-Token": token})
    assert response.json()["status"] == "resolved"
    assert client.post("/api/alerts/999/ack", headers={"X-CSRF-Token": token}).status_code == 404


def test_logout_needs_csrf_and_ends_the_session(web):
    app, _ = web
    client = login(app)
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={}).status_code == 403
    client.post("/logout", data={"csrf": token})
    assert client.get("/api/alerts").status_code == 401


def test_seo_page_without_questions_says_how_to_start(web):
    app, _ = web
    client = login(app)
    assert client.get("/api/seo/report").json() == []
    assert "listener seo check" in client.get("/seo").text


def test_openapi_lists_the_api(web):
    app, _ = web
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/stats", "/api/alerts", "/api/alerts/{alert_id}/ack", "/api/seo/report"} <= set(paths)


def test_passwords_are_salted_scrypt_and_checked(tmp_path):
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$") and first != second and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "x", first)
    users = Users(tmp_path / "u.db")
    with pytest.raises(ValueError, match="at least"):
        users.add("short", "abc")
    with pytest.raises(ValueError, match="--role"):
        users.add("x", PASSWORD, "root")


def test_user_commands_add_list_remove(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LISTENER_DATA": str(tmp_path), "LISTENER_NEW_PASSWORD": PASSWORD}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "listener.cli", *args], env=env, capture_output=True, text=True)

    assert cli("user", "add", "ed", "--role", "editor").returncode == 0
    listed = cli("user", "list")
    assert listed.stdout.split() == ["ed", "editor"] and PASSWORD not in listed.stdout + listed.stderr
    bad = cli("user", "add", "x", "--role", "root")
    assert bad.returncode == 2 and "--role" in bad.stderr
    assert Users(tmp_path / "users.db").login("ed", PASSWORD) is not None
    assert cli("user", "remove", "ed").returncode == 0
    gone = cli("user", "remove", "ed")
    assert gone.returncode == 2 and "no user named" in gone.stderr


def test_seo_page_escapes_result_titles_and_links_only_http(tmp_path):
    from listener.seo.history import RankHistory
    from listener.seo.model import SerpPage, SerpResult
    from listener.seo.questions import questions_of
    from listener.config import load_project

    project_file = tmp_path / "project.toml"
    project_file.write_text('[[brand]]\nname = "Acme"\nquery = "acme"\nown_domains = ["acme.example"]\n\n'
                            '[[serp]]\nquestion = "acme refund"\nbrand = "Acme"\n'
                            'own_page = "https://acme.example/help/refunds"\n', encoding="utf-8")
    settings = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_PROJECT": str(project_file)})
    question = questions_of(load_project(project_file))[0]
    results = [SerpResult(position=1, url="https://forum.example/t/acme-refund", title=f"Acme scam {XSS}"),
               SerpResult(position=2, url="javascript:alert(1)//x", title="click me"),
               SerpResult(position=3, url="https://acme.example/help/refunds", title="Refunds")]
    with RankHistory.open(settings) as history:
        history.record(question.key, "Acme", SerpPage(engine="test", query=question.text, fetched_at=T0,
                                                       results=results))
    users = Users(tmp_path / "users.db")
    users.add("vera", PASSWORD)
    app = create_app(settings, store=open_store(settings.store_url), users=users)
    client = login(app)
    report = client.get("/api/seo/report").json()
    assert report[0]["own_position"] == 3 and len(report[0]["outranking"]) == 2
    html = client.get("/seo").text
    assert "Acme scam &lt;script&gt;" in html and "<script>" not in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert "https://forum.example/t/acme-refund" in hrefs
    assert not [h for h in hrefs if "javascript" in h.lower()] and "click me" in html


def test_listener_serve_answers_on_loopback(tmp_path):
    """The real server: `listener serve` under uvicorn on 127.0.0.1, asked over HTTP like a browser would."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LISTENER_DATA": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "listener.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False)
                break
            except httpx.ConnectError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
                time.sleep(0.2)
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert "script-src 'self'" in response.headers["content-security-policy"]
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.parametrize("error, status", [("slow", 422), ("down", 503)])
def test_store_errors_are_one_line_answers_not_server_errors(web, monkeypatch, error, status):
    from listener.store.base import QueryTooSlow, StoreUnavailable

    app, _ = web
    message = {"slow": "the search ran past the 20 s limit: narrow it", "down": "cannot reach the store at x"}[error]

    def fail(*args, **kwargs):
        raise (QueryTooSlow if error == "slow" else StoreUnavailable)(message)

    monkeypatch.setattr(app.state.store, "search", fail)
    response = login(app).get("/api/search", params={"q": "acme"})
    assert response.status_code == status and response.json() == {"detail": message}
