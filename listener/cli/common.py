"""Shared pieces of the CLI: options, error handling, JSON output. Filter building lives in listener.filters
(the web API shares it) and is re-exported here for the commands."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from listener.config import ConfigError, Settings
from listener.store.base import CursorError, QueryTooSlow, SeriesTooLong
from listener.filters import (  # noqa: F401  (the CLI's commands import these from here)
    UserInputError, build_filters, check_interval, check_tz, parse_time,
)
from listener.jsonable import to_jsonable

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


# json.dumps escapes C0 controls but writes C1 controls (U+0080-U+009F, which some terminals obey) and
# bidi overrides raw; escaping them too keeps the output valid JSON with the same values, and safe to print.
_JSON_UNSAFE = re.compile("[\u007f-\u009f\u202a-\u202e\u2066-\u2069]")


def print_json(value: Any) -> None:
    text = json.dumps(to_jsonable(value), ensure_ascii=False, indent=2)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
