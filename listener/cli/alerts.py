"""`listener alerts check|list|ack|resolve|test-email`: thin commands over listener.alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from listener.cli.common import ProjectOption, UserInputError, handle_errors, print_json, require_project, settings

alerts_app = typer.Typer(help="Check the project's alert rules, list alerts, acknowledge and resolve them.",
                         no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def print_alerts(console: Console, records, tz: str = "UTC") -> None:
    """Each alert as a support lead reads it (plain text: scraped text never becomes console markup)."""
    from listener.alerts.render import render

    for record in records:
        _, body = render([record], "text", tz)
        console.print(body, markup=False, highlight=False)
        console.print()


@alerts_app.command()
def check(
    project: Optional[Path] = ProjectOption,
    send: bool = typer.Option(True, help="Deliver what is due to the rules' channels."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Evaluate every alert rule now; raise what fires (once) and send it."""
    from listener.alerts.runner import check_now

    with handle_errors():
        loaded = require_project(project)
        try:
            report = check_now(settings(), loaded, deliver=send)
        except ValueError as err:
            raise UserInputError(str(err)) from None
    if json_output:
        print_json(report.summary())
    else:
        print_alerts(_out, report.raised, loaded.project.timezone)
        _out.print(f"checked {report.checked} subject(s): {len(report.raised)} new alert(s), "
                   f"{len(report.delivered)} delivered, {len(report.failed)} failed", highlight=False)
        for failure in report.failed:
            _err.print(f"failed: {failure}", markup=False, highlight=False)
    if report.failed:
        raise typer.Exit(1)


def _state():
    from listener.alerts.state import open_alert_state

    return open_alert_state(settings())


@alerts_app.command("list")
def list_alerts(
    status: Optional[str] = typer.Option(None, help="open, acknowledged or resolved (default: all)."),
    limit: int = typer.Option(50, min=1, help="At most this many, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
):
    """The alerts raised so far, newest first."""
    from listener.alerts.state import STATUSES

    with handle_errors():
        if status and status not in STATUSES:
            raise UserInputError(f"--status: expected one of {', '.join(STATUSES)}, got {status!r}")
        with _state() as state:
            records = state.list(status, limit)
            deliveries = {r.id: state.deliveries(r.id) for r in records}
    if json_output:
        print_json([{**r.summary(), "deliveries": deliveries[r.id]} for r in records])
        return
    if not records:
        _out.print("no alerts")
        return
    table = Table(title_justify="left")
    for column in ("id", "status", "raised for", "rule", "alert", "sent"):
        table.add_column(column)
    from listener.cli.render import shown

    for r in records:
        sent = ", ".join(f"{d['status']}" for d in deliveries[r.id]) or "-"
        table.add_row(str(r.id), r.status, r.window_end.strftime("%Y-%m-%d %H:%M"), shown(r.rule),
                      shown(r.title), sent)
    _out.print(table)


def _set(alert_id: int, status: str) -> None:
    with handle_errors():
        with _state() as state:
            try:
                record = state.set_status(alert_id, status)
            except LookupError as err:
                raise UserInputError(str(err)) from None
    _out.print(f"alert {record.id} is now {record.status}: {record.title}", markup=False, highlight=False)


@alerts_app.command()
def ack(alert_id: int = typer.Argument(..., help="The alert id (see `listener alerts list`).")):
    """Acknowledge an alert: someone is on it."""
    _set(alert_id, "acknowledged")


@alerts_app.command()
def resolve(alert_id: int = typer.Argument(..., help="The alert id (see `listener alerts list`).")):
    """Resolve an alert: it is over."""
    _set(alert_id, "resolved")


@alerts_app.command("test-email")
def test_email(address: str = typer.Argument(..., help="Where to send a sample alert e-mail.")):
    """Send a sample alert e-mail with the SMTP settings from the environment (LISTENER_SMTP_*)."""
    from listener.alerts.channels.email import SmtpSettings, build_email, recipient_of, send_email
    from listener.alerts.runner import sample_alert

    with handle_errors():
        smtp = SmtpSettings.from_env()
        to = recipient_of(f"mailto:{address}")
        try:
            send_email(build_email([sample_alert()], to, smtp.sender, "listener", "UTC"), smtp)
        except (OSError, Exception) as err:  # smtplib errors are OSError or SMTPException
            _err.print(f"error: {smtp.host}:{smtp.port} ({smtp.security}) did not accept the e-mail: "
                       f"{type(err).__name__}: {err}", markup=False, highlight=False)
            raise typer.Exit(1) from None
    _out.print(f"sent a test alert to {to} via {smtp.host}:{smtp.port} ({smtp.security})", markup=False,
               highlight=False)
