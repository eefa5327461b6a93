"""Settings (environment) and the project file (TOML: brands, sources, topics, alerts, SERP questions).

Defaults live in code, overrides in the project file and the environment, and everything is checked at
start-up: a bad project file raises `ConfigError`, whose message names the file, the field path and what
was expected, and the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says where and how."""


# ---------------------------------------------------------------- environment settings


class Settings(BaseModel):
    """Process settings from the environment (LISTENER_*), with defaults that work on a fresh machine."""

    data_dir: Path
    store_url: str
    project_file: Path | None
    model: str | None  # a Hugging Face name or local path; None = the bundled multilingual-e5-small
    reddit_url: str | None  # a Reddit-compatible base URL (tests, the demo); None = reddit.com
    youtube_url: str | None  # YouTube Data API v3 base URL; None = googleapis.com
    user_agent_contact: str
    # The distributed runtime's Redis (Celery broker and results, source checkpoints, dead letters);
    # None = the embedded runtime: everything runs in this process.
    broker_url: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LISTENER_DATA") or user_data_dir("listener")).expanduser()
        store_url = env.get("LISTENER_STORE") or f"sqlite:///{data_dir / 'listener.db'}"
        project = env.get("LISTENER_PROJECT")
        return cls(
            data_dir=data_dir,
            store_url=store_url,
            project_file=Path(project).expanduser() if project else None,
            model=env.get("LISTENER_MODEL") or None,
            reddit_url=env.get("LISTENER_REDDIT_URL") or None,
            youtube_url=env.get("LISTENER_YOUTUBE_URL") or None,
            user_agent_contact=env.get("LISTENER_CONTACT_URL") or "https://github.com/listener-project/listener",
            broker_url=env.get("LISTENER_BROKER_URL") or None,
        )


# ---------------------------------------------------------------- the project file

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=365)  # windows, cooldowns and intervals longer than a year are typos


def parse_duration(text: str) -> timedelta:
    """'90s', '10m', '6h', '1d', '2w' -> timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration like 10m, 6h or 1d, got {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():  # also keeps timedelta and datetime arithmetic from overflowing
        raise ValueError(f"{text.strip()!r} is longer than {MAX_DURATION.days} days; use at most 365d")
    return timedelta(seconds=seconds)


class _Strict(BaseModel):
    # Unknown keys are errors: a typo ("subredits") must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppRef(_Strict):
    """An app in a store: App Store numeric id + country, or a Google Play package name."""

    id: str
    country: str = "us"
    lang: str = "en"


class BrandSources(_Strict):
    """Where to look for a brand. Generic sources (feeds, review pages, forum pages) are plain URLs."""

    reddit_search: bool = True  # search all of Reddit with the brand's query
    subreddits: list[str] = Field(default_factory=list)
    # Subreddits about this brand only (r/yourbrand): watched like `subreddits`, and everything posted there
    # counts as the brand's even when it does not name it ("same here, 3 days now").
    own_subreddits: list[str] = Field(default_factory=list)
    review_pages: list[str] = Field(default_factory=list)  # any page with schema.org reviews
    trustpilot: list[str] = Field(default_factory=list)  # company review page URLs
    app_store: list[AppRef] = Field(default_factory=list)
    google_play: list[AppRef] = Field(default_factory=list)
    feeds: list[str] = Field(default_factory=list)  # RSS/Atom, incl. Google Alerts feeds
    forum_pages: list[str] = Field(default_factory=list)  # article or forum thread URLs
    youtube_searches: list[str] = Field(default_factory=list)

    @field_validator("subreddits", "own_subreddits")
    @classmethod
    def _subreddit_names(cls, value: list[str]) -> list[str]:
        cleaned = [name.strip().removeprefix("/").removeprefix("r/") for name in value]
        for name in cleaned:
            if not re.fullmatch(r"[A-Za-z0-9_]{2,21}", name):
                raise ValueError(f"{name!r} is not a subreddit name (letters, digits, _; 2-21 long)")
        return cleaned

    @field_validator("review_pages", "trustpilot", "feeds", "forum_pages")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value


class Brand(_Strict):
    name: str = Field(min_length=1)
    query: str = Field(min_length=1, description="boolean query that finds this brand's mentions")
    competitor: bool = False
    own_domains: list[str] = Field(default_factory=list)  # the brand's own sites, e.g. help center
    help_center: str | None = None
    sources: BrandSources = Field(default_factory=BrandSources)

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str) -> str:
        from listener.query import QuerySyntaxError, parse

        try:
            parse(value)
        except QuerySyntaxError as err:
            raise ValueError(f"query does not parse: {err}") from None
        return value


class Topic(_Strict):
    """A topic of the taxonomy. One with only a description works at once (zero-shot); one with examples is
    learned from them (listener.nlp.fewshot)."""

    label: str = Field(pattern=r"^[a-z0-9_]+$", description="lower-case id: letters, digits, _")
    description: str = Field(min_length=3)
    examples: list[str] = Field(default_factory=list)


class AlertRule(_Strict):
    """One alert rule; listener.alerts.check evaluates it (docs/project-file.md describes every field)."""

    name: str = Field(min_length=1)
    brand: str | None = None  # None = every brand
    metric: Literal["volume", "negative", "topic", "drop", "repeat_author", "engagement", "serp"] = "volume"
    topic: str | None = None
    # serp: the rank changes (listener.seo.changes) that raise an alert, and optionally one [[serp]] question
    events: list[Literal["third_party_overtook", "own_left_page_one", "own_reached_page_one", "own_moved"]] = \
        Field(default_factory=lambda: ["third_party_overtook", "own_left_page_one"])
    question: str | None = None
    split: list[Literal["source", "topic"]] = Field(default_factory=list)  # also per brand x source / topic
    window: str = "1h"
    sensitivity: float = Field(default=4.0, gt=0)
    min_volume: int = Field(default=10, ge=0)
    cooldown: str = "6h"
    repeat_count: int = Field(default=3, ge=2)  # repeat_author: this many complaints within the window
    channels: list[str] = Field(default_factory=list)  # mailto:ADDRESS (SMTP), or Apprise URLs: slack://, json://

    @model_validator(mode="before")
    @classmethod
    def _serp_window(cls, data: Any) -> Any:
        # SEO checks run about daily: a serp rule looks back two days unless told otherwise (the window is how
        # long a check's changes are still news; older ones are history, `listener seo history`).
        if isinstance(data, dict) and data.get("metric") == "serp" and "window" not in data:
            return {**data, "window": "2d"}
        return data

    @field_validator("window", "cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("window")
    @classmethod
    def _window_size(cls, value: str) -> str:
        seconds = parse_duration(value).total_seconds()
        if seconds < 300 or seconds % 300:
            raise ValueError(f"window {value!r} must be a multiple of 5 minutes (5m, 15m, 1h, 6h, 1d)")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^[a-z][a-z0-9+.-]*:", url):
                raise ValueError(f"{url!r} is not a channel URL (mailto:ADDRESS, slack://..., json://HOST/PATH)")
            digest = re.search(r"[?&]digest=([^&]*)", url)
            if digest and digest.group(1) not in ("hourly", "daily"):
                raise ValueError(f"{url!r}: digest must be hourly or daily, not {digest.group(1)!r}")
        return value

    @model_validator(mode="after")
    def _topic_needed(self) -> "AlertRule":
        if self.metric == "topic" and not self.topic:
            raise ValueError("metric = 'topic' needs topic = '<label>'")
        if self.metric != "serp" and self.question:
            raise ValueError("question = '...' is for metric = 'serp' rules only; remove it or set metric = 'serp'")
        if self.metric == "serp" and self.split:
            raise ValueError("metric = 'serp' rules are per question already; remove split")
        if self.metric == "serp" and not self.events:
            raise ValueError("metric = 'serp' needs at least one of events = ['third_party_overtook', "
                             "'own_left_page_one', 'own_reached_page_one', 'own_moved']")
        return self


class SerpQuestion(_Strict):
    """A question customers search, in one market (language, country); listener.seo reads these."""

    question: str = Field(min_length=2)
    brand: str
    own_page: str | None = None  # the brand's self-service page that should rank first
    # More self-service locations for this question: URL prefixes ("https://nimbus.example/support/") or bare
    # domains ("community.nimbus.example"). The brand's help_center and own_page count already.
    self_service: list[str] = Field(default_factory=list)
    lang: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    country: str = Field(default="us", pattern=r"^[a-z]{2}$")
    depth: int = Field(default=20, ge=1, le=100)  # how many results to read (further pages where allowed)

    @field_validator("own_page")
    @classmethod
    def _own_page_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class ProjectSettings(_Strict):
    name: str = "listener project"
    timezone: str = "UTC"
    model: str | None = None  # overrides the default encoder (a Hugging Face name or local path)
    languages: list[str] = Field(default_factory=list)  # expected languages; detection chooses among them

    @field_validator("languages")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"{code!r} is not an ISO 639 language code like 'en', 'fa' or 'ar'")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/London'") from None
        return value


class Schedule(_Strict):
    """How often the distributed runtime's beat runs each source and the alert check."""

    default: str = "1h"  # every source not named in `sources`
    sources: dict[str, str] = Field(default_factory=dict)  # source name -> interval, e.g. reddit = "10m"
    alerts: str = "1m"
    serp: str = "1d"  # the SEO check of the [[serp]] questions (each question is searched at most this often)

    @field_validator("default", "alerts", "serp")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("sources")
    @classmethod
    def _durations(cls, value: dict[str, str]) -> dict[str, str]:
        for name, every in value.items():
            try:
                parse_duration(every)
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        return value


class Project(_Strict):
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    brand: list[Brand] = Field(min_length=1)
    topic: list[Topic] = Field(default_factory=list)
    alert: list[AlertRule] = Field(default_factory=list)
    serp: list[SerpQuestion] = Field(default_factory=list)
    schedule: Schedule = Field(default_factory=Schedule)

    @model_validator(mode="after")
    def _references(self) -> "Project":
        names = [b.name for b in self.brand]
        if len(set(names)) != len(names):
            raise ValueError(f"brand names must be unique, got {names}")
        for section, items in (("alert", self.alert), ("serp", self.serp)):
            for item in items:
                if item.brand is not None and item.brand not in names:
                    raise ValueError(f"{section} refers to brand {item.brand!r}, which is not defined; "
                                     f"brands: {', '.join(names)}")
        for rule in self.alert:
            if rule.metric == "serp" and rule.question:
                wanted = " ".join(rule.question.split()).casefold()
                asked = [q.question for q in self.serp if rule.brand in (None, q.brand)]
                if not any(" ".join(text.split()).casefold() == wanted for text in asked):
                    raise ValueError(f"alert {rule.name!r}: question {rule.question!r} is not a [[serp]] question"
                                     f"{' of ' + rule.brand if rule.brand else ''}; questions: "
                                     f"{'; '.join(asked) or 'none'}")
        return self

    @property
    def brands(self) -> list[Brand]:
        return self.brand

    @property
    def topics(self) -> list[Topic]:
        return self.topic


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: {err.error_count()} problem(s) in the project file:"]
    for item in err.errors():
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown field (a typo?); remove it or check the spelling against examples/project.toml"
        elif item["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"  {_field_path(item['loc'])}: {msg}")
    return "\n".join(lines)


def load_project(path: str | Path) -> Project:
    """Read and validate a project file; raise ConfigError with a message a user can act on."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; --project (or LISTENER_PROJECT) takes the project's TOML file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: project file not found (set LISTENER_PROJECT or pass --project)") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the project file: {err.strerror}") from None
    try:
        # utf-8-sig: Windows editors start UTF-8 files with a BOM, which TOML itself does not allow
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return Project.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err)) from None
