"""`listener serve` and `listener user add|list|remove`: the web app and who may log in to it."""

from __future__ import annotations

import typer
from rich.console import Console

from listener.cli.common import fail, handle_errors, settings

user_app = typer.Typer(help="Add, list and remove the users who may log in to the web app.", no_args_is_help=True)
_out = Console()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(user_app, name="user")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (only this machine by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    behind_tls: bool = typer.Option(False, "--behind-tls", help="Mark session cookies Secure (a TLS proxy in front)."),
):
    """Serve the web app (search, alerts, SEO report) over the configured store."""
    import uvicorn

    from listener.web import create_app

    with handle_errors():
        app = create_app(settings(), secure_cookies=behind_tls)
    # proxy_headers off: the client address the login rate limit counts must not come from a header
    uvicorn.run(app, host=host, port=port, proxy_headers=False, log_level="info")


def _users():
    from listener.web.users import Users

    return Users.open(settings())


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The login name."),
    role: str = typer.Option("viewer", help="viewer (read), editor (also ack/resolve alerts) or admin."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="LISTENER_NEW_PASSWORD", help="Asked for when not given (never echoed)."),
):
    """Add a user, or change an existing user's role and password."""
    from listener.web.users import UserError

    users = _users()
    try:
        users.add(name, password, role)
    except UserError as err:
        fail("user add", str(err))
    finally:
        users.close()
    _out.print(f"user {name} saved as {role}", markup=False, highlight=False)


@user_app.command("list")
def user_list():
    """List the users and their roles."""
    users = _users()
    try:
        for name, role in users.list():
            _out.print(f"{name}\t{role}", markup=False, highlight=False)
    finally:
        users.close()


@user_app.command("remove")
def user_remove(name: str = typer.Argument(..., help="The login name.")):
    """Remove a user and end their sessions."""
    from listener.web.users import UserError

    users = _users()
    try:
        users.remove(name)
    except UserError as err:
        fail("user remove", str(err))
    finally:
        users.close()
    _out.print(f"user {name} removed", markup=False, highlight=False)
