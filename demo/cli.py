"""`listener demo`: joins the CLI through the `listener.commands` entry point (see listener.cli.plugins)."""

from __future__ import annotations

import typer
from rich.console import Console

from listener.cli.common import handle_errors, print_json, settings

_out = Console()


def register(app: typer.Typer) -> None:
    """Add the `demo` command to the listener app."""

    @app.command()
    def demo(
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ):
        """Gather the bundled sample data through the real pipeline, offline, and show what listener finds."""
        from demo.run import run_demo

        with handle_errors():
            summary = run_demo(settings(), score=score, console=None if json_output else _out)
        if json_output:
            print_json(summary)
