"""`listener worker`, `listener beat`, `listener status` and `listener dlq list|retry|drop`: the distributed
runtime's commands. They join the CLI through the `listener.commands` entry point; Celery is imported only
when one of them runs."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.console import Console
from listener.cli.render import shown
from rich.table import Table

from listener.cli.common import UserInputError, fail, handle_errors, print_json, settings

_out = Console()
_err = Console(stderr=True)
dlq_app = typer.Typer(help="Dead letters: tasks that failed for good, kept with their error.", no_args_is_help=True)


def _app():
    from workers.config import broker_url

    # Checked on every call, not only when workers.app is first imported: the app module reads the
    # environment once, and a command must not run against a broker the environment no longer names.
    broker_url()
    from workers.app import app

    return app


@contextlib.contextmanager
def broker_errors():
    """handle_errors, plus one clear line when Redis cannot be reached."""
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout

    with handle_errors():
        try:
            yield
        except (RedisConnectionError, RedisTimeout, OperationalError) as err:
            from workers.config import broker_url

            _err.print(f"error: cannot reach Redis at LISTENER_BROKER_URL={broker_url()}: {err}; start it or fix "
                       "the URL", highlight=False, markup=False)
            raise typer.Exit(2) from None


def _redis():
    from workers import runtime

    return runtime.redis_client()


def register(app: typer.Typer) -> None:
    """Add the distributed runtime's commands to the listener app."""
    app.command()(worker)
    app.command()(beat)
    app.command()(status)
    app.add_typer(dlq_app, name="dlq")


def worker(
    queues: str = typer.Option("gather,score,alerts", "--queues", "-Q",
                               help="Comma-separated queues to serve: gather, score, alerts."),
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1,
                                    help="Processes; each score process loads the model once."),
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning or error."),
):
    """Run a Celery worker (needs LISTENER_BROKER_URL); same as `celery -A workers.app worker -Q ...`."""
    from workers.config import QUEUES

    chosen = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in chosen if q not in QUEUES]
    if not chosen or unknown:
        fail("--queues", f"unknown queue {', '.join(unknown) or '(none)'}; known: {', '.join(QUEUES)}")
    with handle_errors():
        _app()  # refuse early, with a clear message, when the broker URL is missing or wrong
    argv = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", ",".join(chosen),
            "--concurrency", str(concurrency), "--loglevel", loglevel, "-n", f"{'-'.join(chosen)}@%h"]
    os.execv(sys.executable, argv)


def beat():
    """Run Celery beat: gathers each source and checks alerts at the intervals of the project file's schedule."""
    with handle_errors():
        _app()
        schedule_file = settings().data_dir / "celerybeat-schedule"
        schedule_file.parent.mkdir(parents=True, exist_ok=True)
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "-s", str(schedule_file)])


def status(json_output: bool = typer.Option(False, "--json", help="Print as JSON.")):
    """Queue depths, live workers, dead letters, and each source's last run, outcome and error."""
    from workers.status import collect_status

    with broker_errors():
        client = _redis()
        client.ping()  # a clear error before Celery's app connects and retries
        report = collect_status(_app(), client)
    if json_output:
        print_json(report)
        return
    queues = ", ".join(f"{name} {depth}" for name, depth in report["queues"].items())
    _out.print(f"queues: {queues}; taken, not yet acknowledged: {report['unacknowledged']}; sent, not yet "
               f"finished: {report['ledger']}", highlight=False)
    if report["workers"]:
        for name, served in report["workers"].items():
            _out.print(f"worker {shown(name)}: {', '.join(served)}", highlight=False)
    else:
        _out.print("[yellow]no worker answered[/yellow] (start one with `listener worker`)")
    _out.print(f"dead letters: {report['dead_letters']}" + (" (see `listener dlq list`)" if report["dead_letters"]
                                                            else ""), highlight=False)
    if report["sources"]:
        table = Table(title="sources", title_justify="left")
        for column in ("source", "last run (UTC)", "outcome", "new", "error"):
            table.add_column(column)
        for name, run in sorted(report["sources"].items()):
            errors = run.get("errors") or ([run["error"]] if run.get("error") else [])
            colour = {"ok": "green", "failed": "red"}.get(run["outcome"], "yellow")
            table.add_row(shown(name), _when(run.get("finished")), f"[{colour}]{run['outcome']}[/{colour}]",
                          str(run.get("new", "")), shown(str(errors[0]))[:120] if errors else
                          shown(str(run.get("not_run", ""))))
        _out.print(table)


def _when(timestamp) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if timestamp else ""


def _letters():
    from workers.deadletters import DeadLetters

    return DeadLetters(_redis())


@dlq_app.command("list")
def dlq_list(json_output: bool = typer.Option(False, "--json", help="Print as JSON (with tracebacks)."),
             show_traceback: bool = typer.Option(False, "--traceback", help="Show each traceback.")):
    """The dead letters, oldest first: id, task, queue, when, retries, error."""
    with broker_errors():
        letters = _letters().all()
    if json_output:
        print_json([{**letter.summary(), "traceback": letter.traceback} for letter in letters])
        return
    if not letters:
        _out.print("no dead letters")
        return
    for letter in letters:
        _out.print(f"{letter.id}  {letter.task} ({letter.queue})  {_when(letter.failed_at)}  "
                   f"after {letter.retries} retr{'y' if letter.retries == 1 else 'ies'}: {shown(letter.error)}",
                   highlight=False, markup=False)
        if show_traceback:
            _out.print(letter.traceback, highlight=False, markup=False)


def _ids(ids: list[str], every: bool) -> list[str] | None:
    if every == bool(ids):
        raise UserInputError("name dead letter ids, or --all (not both)")
    return None if every else ids


@dlq_app.command("retry")
def dlq_retry(ids: list[str] = typer.Argument(None, help="Dead letter ids (from `listener dlq list`)."),
              every: bool = typer.Option(False, "--all", help="Retry every dead letter.")):
    """Send dead letters' tasks again with their original arguments; they leave the list once sent."""
    with broker_errors():
        try:
            sent = _letters().retry(_app(), _ids(ids or [], every))
        except KeyError as err:
            raise UserInputError(err.args[0]) from None
    _out.print(f"sent {len(sent)} task(s) again")


@dlq_app.command("drop")
def dlq_drop(ids: list[str] = typer.Argument(None, help="Dead letter ids (from `listener dlq list`)."),
             every: bool = typer.Option(False, "--all", help="Drop every dead letter.")):
    """Delete dead letters for good."""
    with broker_errors():
        try:
            dropped = _letters().take(_ids(ids or [], every))
        except KeyError as err:
            raise UserInputError(err.args[0]) from None
    _out.print(f"dropped {len(dropped)} dead letter(s)")
