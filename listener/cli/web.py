"""`listener serve`, `listener user add|list|remove|token`, `listener corrections export|list`: the web app, who may
log in to it or call its API, and the corrections people make in it."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from listener.cli.common import ProjectOption, fail, handle_errors, settings

user_app = typer.Typer(help="Add, list and remove the users who may log in to the web app.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts: made for a user, acting with the user's role.",
                        no_args_is_help=True)
corrections_app = typer.Typer(help="Sentiment and topic corrections made in the web app.", no_args_is_help=True)
_out = Console()


def _say(text: str) -> None:
    """Print a line as it is: names, labels and tokens are the user's text, never rich markup."""
    _out.print(text, markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(user_app, name="user")
    user_app.add_typer(token_app, name="token")
    app.add_typer(corrections_app, name="corrections")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (only this machine by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    behind_tls: bool = typer.Option(False, "--behind-tls", help="Mark session cookies Secure (a TLS proxy in front)."),
    project: Optional[Path] = ProjectOption,
):
    """Serve the web app (overview, search, mentions, alerts, SEO report, admin) over the configured store."""
    import uvicorn

    from listener.web import create_app

    with handle_errors():
        current = settings()
        if project is not None:
            current = current.model_copy(update={"project_file": project})
        app = create_app(current, secure_cookies=behind_tls)
    # proxy_headers off: the client address the login rate limit counts must not come from a header
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")


@contextmanager
def _users(command: str):
    """The users file for one command: a UserError becomes that command's one-line error, and it is closed."""
    from listener.web.users import UserError, Users

    users = Users.open(settings())
    try:
        yield users
    except UserError as err:
        fail(command, str(err))
    finally:
        users.close()


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The login name."),
    role: str = typer.Option("viewer", help="viewer (read), editor (also ack/resolve alerts) or admin."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="LISTENER_NEW_PASSWORD", help="Asked for when not given (never echoed)."),
):
    """Add a user, or change an existing user's role and password."""
    with _users("user add") as users:
        users.add(name, password, role)
    _say(f"user {name} saved as {role}")


@user_app.command("list")
def user_list():
    """List the users and their roles."""
    with _users("user list") as users:
        for name, role in users.list():
            _say(f"{name}\t{role}")


@user_app.command("remove")
def user_remove(name: str = typer.Argument(..., help="The login name.")):
    """Remove a user and end their sessions."""
    with _users("user remove") as users:
        users.remove(name)
    _say(f"user {name} removed")


@token_app.command("add")
def token_add(
    name: str = typer.Argument(..., help="The user the token acts for (with that user's role)."),
    label: str = typer.Option("", help="What the token is for, e.g. 'nightly export'."),
):
    """Make an API token and print it once (only its hash is kept). Send it as `Authorization: Bearer TOKEN`."""
    with _users("user token add") as users:
        token_id, token = users.add_token(name, label)
    _say(f"token {token_id} for {name} (shown once, keep it secret):")
    print(token)


@token_app.command("list")
def token_list():
    """List API tokens (id, user, the token's first characters, label, last used); the tokens are not kept."""
    from datetime import datetime, timezone

    with _users("user token list") as users:
        for t in users.tokens():
            used = datetime.fromtimestamp(t.last_used, timezone.utc).isoformat(timespec="seconds") \
                if t.last_used else "never"
            _say(f"{t.id}\t{t.name}\t{t.prefix + '…' if t.prefix else '-'}\t{t.label}\t{used}")


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., help="The token's id (see `listener user token list`).")):
    """Revoke an API token: it stops working at once."""
    with _users("user token revoke") as users:
        users.revoke_token(token_id)
    _say(f"token {token_id} revoked")


@corrections_app.command("export")
def corrections_export(
    output: Path = typer.Option(..., "-o", "--output", help="The JSON Lines file to write."),
):
    """Write the corrections as labelled JSON Lines for `listener model train --data FILE` (set "corrections",
    split "train"); mentions deleted since are left out."""
    from listener.corrections import Corrections, export_corrections
    from listener.runtime import open_settings_store

    with handle_errors():
        current = settings()
        with Corrections.open(current) as corrections, open_settings_store(current) as store, \
                open(output, "w", encoding="utf-8") as handle:
            count = export_corrections(corrections, store, handle)
    _say(f"{count} correction(s) written to {output}")


@corrections_app.command("list")
def corrections_list():
    """List the corrections: mention id, sentiment, topics, who and when."""
    from listener.corrections import Corrections

    with Corrections.open(settings()) as corrections:
        for c in corrections.list():
            topics = ",".join(c.topics) if c.topics is not None else "-"
            _say(f"{c.mention_id}\t{c.sentiment or '-'}\t{topics}\t{c.corrected_by}\t"
                 f"{c.corrected_at.isoformat()}")
