"""`listener reddit` and `listener youtube`: one incremental pass of an API source into the store (they join
the CLI through the `listener.commands` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from listener.cli.render import shown
from listener.cli.common import ProjectOption, handle_errors, print_json, settings

_out = Console(emoji=False)
_err = Console(stderr=True, emoji=False)


def register(app: typer.Typer) -> None:
    """Add the `reddit` and `youtube` commands to the listener app."""

    @app.command()
    def reddit(
        brand: Optional[str] = typer.Option(None, "--brand", "-b", help="Only this brand (default: all)."),
        project: Optional[Path] = ProjectOption,
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ):
        """Search Reddit for each brand, read its subreddits and matched threads: what is new since last time.

        Needs LISTENER_REDDIT_CLIENT_ID and LISTENER_REDDIT_CLIENT_SECRET (a read-only "script" app);
        LISTENER_REDDIT_URL points the client at another Reddit-compatible server."""
        from spiders.reddit import run_reddit

        _run(lambda: run_reddit(settings(), project, brand=brand, score=score), json_output)

    @app.command()
    def youtube(
        brand: Optional[str] = typer.Option(None, "--brand", "-b", help="Only this brand (default: all)."),
        project: Optional[Path] = ProjectOption,
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ):
        """Comments on the videos each brand's `youtube_searches` find: what is new since last time.

        Needs LISTENER_YOUTUBE_KEY (YouTube Data API v3); LISTENER_YOUTUBE_URL points at another server."""
        from spiders.youtube import run_youtube

        _run(lambda: run_youtube(settings(), project, brand=brand, score=score), json_output)


def _run(pass_, json_output: bool) -> None:
    from spiders.sources import SourceError

    with handle_errors():
        try:
            report = pass_()
        except SourceError as err:
            _err.print(f"[bold red]error[/bold red]: {shown(str(err))}", highlight=False)
            raise typer.Exit(1) from None
    summary = report.summary()
    if json_output:
        print_json(summary)
    else:
        pipeline = summary.get("pipeline", {})
        _out.print(f"{report.source}: {report.new} new mention(s) in {report.requests} request(s), "
                   f"{summary['seconds']}s; stored {pipeline.get('inserted', 0)} new, "
                   f"{pipeline.get('updated', 0)} updated, {pipeline.get('unmatched', 0)} matched no brand",
                   highlight=False, markup=False)
        for key, count in summary["streams"].items():
            if count:
                _out.print(f"  {key}: {count}", highlight=False, markup=False)
        if report.rate_limit:
            _out.print(f"  rate limit / quota: {report.rate_limit}", highlight=False, markup=False)
    for error in report.errors:
        _err.print(f"[yellow]warning[/yellow]: {shown(error)}", highlight=False)
    if report.stopped:
        _err.print(f"[yellow]stopped early[/yellow]: {shown(report.stopped)}", highlight=False)
    if report.errors or report.stopped:
        raise typer.Exit(1)
