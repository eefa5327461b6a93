"""Shared pieces of the CLI: options, filter building, error handling, JSON output."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

from listener.config import ConfigError, Settings
from listener.store.base import INTERVALS, CursorError, Filters, QueryTooSlow, SeriesTooLong

_err = Console(stderr=True)

ProjectOption = typer.Option(None, "--project", "-p", help="Project file (TOML). Default: $LISTENER_PROJECT.")
SinceOption = typer.Option(None, help="From this time: 2026-11-01, 2026-11-01T08:00, or 7d / 12h ago.")
UntilOption = typer.Option(None, help="Up to this time (exclusive); same forms as --since.")


def settings() -> Settings:
    return Settings.from_env()


def print_error(message: str) -> None:
    """One line on stderr: a red "error:" and the message as plain text (it may quote what a user or a page
    wrote, so it is never read as markup and never carries control characters)."""
    from listener.cli.render import shown

    _err.print(f"[bold red]error[/bold red]: {shown(message)}", highlight=False, soft_wrap=True)


def fail(where: str, message: str, code: int = 2) -> NoReturn:
    print_error(f"{where}: {message}")
    raise typer.Exit(code)


def require_project(path):
    """The project file from --project or LISTENER_PROJECT; a clear exit 2 when there is none."""
    from listener.runtime import resolve_project

    project = resolve_project(settings(), path)
    if project is None:
        fail("--project", "no project file given (pass --project FILE or set LISTENER_PROJECT)")
    return project


@contextlib.contextmanager
def handle_errors():
    """Turn the errors a user can fix into one clear message and exit code 2, never a traceback."""
    from listener.query import QuerySyntaxError
    from listener.store.base import StoreError

    try:
        yield
    except ConfigError as err:
        print_error(str(err))
        raise typer.Exit(2) from None
    except QuerySyntaxError as err:
        print_error(f"query: {err}")
        if err.caret():
            _err.print(err.caret(), highlight=False, markup=False)
        raise typer.Exit(2) from None
    except UserInputError as err:
        print_error(str(err))
        raise typer.Exit(2) from None
    except CursorError as err:
        print_error(f"--cursor: {err}")
        raise typer.Exit(2) from None
    except SeriesTooLong as err:
        print_error(f"stats: {err}")
        raise typer.Exit(2) from None
    except QueryTooSlow as err:
        print_error(str(err))
        raise typer.Exit(2) from None
    except StoreError as err:  # unreachable store, refused query, schema to migrate: the message says what to do
        from rich.markup import escape

        # a server's reason may quote a scraped document: no markup, no control or bidi characters reach the
        # terminal, and they stay visible as \uXXXX (one line, whatever the server sent)
        text = _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(err))
        _err.print(f"[bold red]error[/bold red]: store: {escape(text)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class UserInputError(ValueError):
    """An argument a user gave is wrong; the message says which and how to fix it."""


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_time(text: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """'2026-11-01', '2026-11-01T08:00[+03:30]' or a relative '7d' / '12h' / '30m' / '2w' (ago)."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        try:
            return now - timedelta(**{unit: int(match.group(1))})
        except (OverflowError, ValueError):
            raise UserInputError(f"{option}: {text.strip()} reaches back before year 1; "
                                 "give a date like 2020-01-01 instead") from None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserInputError(f"{option}: expected a date like 2026-11-01, a time like 2026-11-01T08:00, "
                             f"or an age like 7d, got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        raise UserInputError(f"--interval: expected one of {', '.join(INTERVALS)}, got {interval!r}")
    return interval


def check_tz(tz: str) -> str:
    """An IANA time-zone name that this machine knows."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; "../x" is a ValueError
        raise UserInputError(f"--tz: unknown time zone {tz!r}; use an IANA name like UTC, Europe/Berlin or "
                             "Asia/Tehran") from None
    return tz


_SENTIMENTS = ("negative", "neutral", "positive", "unscored")


def build_filters(query: str, brands, sources, langs, sentiments, topics, since, until, rating_min, rating_max,
                  duplicates: bool) -> Filters:
    """Filters from CLI options; the query is parsed now so a syntax error is reported before any work."""
    from listener.query import parse

    if query.strip():
        parse(query)
    for option, value in (("--rating-min", rating_min), ("--rating-max", rating_max)):
        if value is not None and not 0 <= value <= 5:  # also refuses nan, which compares false to everything
            raise UserInputError(f"{option}: expected a rating from 0 to 5, got {value}")
    for value in sentiments:
        if value not in _SENTIMENTS:
            raise UserInputError(f"--sentiment: expected one of {', '.join(_SENTIMENTS)}, got {value!r}")
    return Filters(
        query=query.strip() or None,
        brands=tuple(brands), sources=tuple(s.lower() for s in sources), langs=tuple(l.lower() for l in langs),
        sentiments=tuple(sentiments), topics=tuple(topics),
        since=parse_time(since, "--since"), until=parse_time(until, "--until"),
        rating_min=rating_min, rating_max=rating_max, include_duplicates=duplicates,
    )


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


# json.dumps escapes C0 controls but writes C1 controls (U+0080-U+009F, which some terminals obey) and
# bidi overrides raw; escaping them too keeps the output valid JSON with the same values, and safe to print.
_JSON_UNSAFE = re.compile("[\u007f-\u009f\u202a-\u202e\u2066-\u2069]")


def print_json(value: Any) -> None:
    text = json.dumps(to_jsonable(value), ensure_ascii=False, indent=2)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
