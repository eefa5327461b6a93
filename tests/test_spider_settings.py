"""spiders.settings: polite defaults, the process's facts, and the environment switches."""

import pytest

from listener.config import Settings
from spiders.settings import build_settings


def settings(tmp_path, **env):
    listener = Settings.from_env({"LISTENER_DATA": str(tmp_path), "LISTENER_CONTACT_URL": "https://ops.example/bot"})
    return build_settings(listener, environ=env)


def test_polite_defaults(tmp_path):
    s = settings(tmp_path)
    assert s.getbool("ROBOTSTXT_OBEY") and s.getbool("AUTOTHROTTLE_ENABLED")
    assert s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2 and s.getfloat("DOWNLOAD_DELAY") >= 1
    assert 429 in s.getlist("RETRY_HTTP_CODES") and s.getint("REDIRECT_MAX_TIMES") <= 5
    assert s.getint("DOWNLOAD_MAXSIZE") < 10 * 1024 * 1024  # a 10 MB page is refused, not parsed
    assert not s.getbool("HTTPCACHE_ENABLED") and not s.getbool("TELNETCONSOLE_ENABLED")
    assert not s.getbool("REMOTE_CONTROL_ENABLED")
    assert s["USER_AGENT"].startswith("listener/") and "+https://ops.example/bot" in s["USER_AGENT"]
    middlewares = s.getdict("DOWNLOADER_MIDDLEWARES")
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert middlewares["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    assert s["LISTENER_TRUSTPILOT_URL"] == "https://www.trustpilot.com"


def test_environment_switches(tmp_path):
    s = settings(tmp_path, LISTENER_HTTPCACHE="1", LISTENER_PLAY_URL="http://127.0.0.1:8000/play",
                 LISTENER_SCRAPY_SETTINGS='{"CONCURRENT_REQUESTS": 4}')
    assert s.getbool("HTTPCACHE_ENABLED") and s["HTTPCACHE_DIR"] == str(tmp_path / "httpcache")
    assert s["LISTENER_PLAY_URL"] == "http://127.0.0.1:8000/play"
    assert s.getint("CONCURRENT_REQUESTS") == 4
    with pytest.raises(ValueError, match="LISTENER_SCRAPY_SETTINGS"):
        settings(tmp_path, LISTENER_SCRAPY_SETTINGS="[1, 2]")
