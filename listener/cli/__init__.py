"""The `listener` command: thin commands that parse arguments and call one library function each."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from listener.cli.common import (
    ProjectOption, SinceOption, UntilOption, build_filters, fail, handle_errors, print_json, require_project,
    settings,
)

app = typer.Typer(
    name="listener",
    help="Social listening and third-party review monitoring: gather mentions, score them, search them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (INFO level).")):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def ingest(
    file: Path = typer.Argument(..., help="JSON Lines file, one mention object per line ('-' for stdin)."),
    project: Optional[Path] = ProjectOption,
    score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
    batch_size: int = typer.Option(500, min=1, help="Mentions per pipeline batch."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Import mentions from JSON Lines: bad lines are reported with their line numbers, good ones kept."""
    from listener.ingest import ingest_jsonl

    with handle_errors():
        report = ingest_jsonl(settings(), file, project_path=project, score=score, batch_size=batch_size,
                              console=None if json_output else err_console)
    if json_output:
        print_json(report)
    else:
        from listener.cli.render import render_ingest_report

        render_ingest_report(console, report)
    if report["bad_lines"] and not report["inserted"] and not report["updated"]:
        raise typer.Exit(1)


@app.command()
def search(
    query: str = typer.Argument("", help='Boolean query, e.g. \'nimbus AND (login OR "reset password") -test\'.'),
    brand: list[str] = typer.Option([], "--brand", "-b", help="Only these brands (repeatable)."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only these sources: reddit, trustpilot, ..."),
    lang: list[str] = typer.Option([], "--lang", "-l", help="Only these languages: en, fa, ar, ..."),
    sentiment: list[str] = typer.Option([], "--sentiment", help="negative, neutral, positive or unscored."),
    topic: list[str] = typer.Option([], "--topic", "-t", help="Only these topics."),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    rating_min: Optional[float] = typer.Option(None, help="Minimum review rating (0-5)."),
    rating_max: Optional[float] = typer.Option(None, help="Maximum review rating (0-5)."),
    duplicates: bool = typer.Option(False, "--duplicates", help="Include near-duplicates (reposts)."),
    sort: str = typer.Option("date", help="date (newest first) or relevance."),
    limit: int = typer.Option(10, min=1, max=1000, help="Results per page."),
    cursor: Optional[str] = typer.Option(None, help="Continue from the cursor a previous page printed."),
    json_output: bool = typer.Option(False, "--json", help="Print results as JSON."),
):
    """Search stored mentions with the boolean query language and filters."""
    from listener.search import run_search

    if sort not in ("date", "relevance"):
        fail("--sort", f"expected 'date' or 'relevance', got {sort!r}")
    with handle_errors():
        filters = build_filters(query, brand, source, lang, sentiment, topic, since, until, rating_min,
                                rating_max, duplicates)
        page = run_search(settings(), filters, sort=sort, limit=limit, cursor=cursor)
    if json_output:
        print_json(page)
    else:
        from listener.cli.render import render_page

        render_page(console, page)


@app.command()
def stats(
    query: str = typer.Argument("", help="Optional boolean query to narrow the statistics."),
    brand: list[str] = typer.Option([], "--brand", "-b", help="Only these brands."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only these sources."),
    lang: list[str] = typer.Option([], "--lang", "-l", help="Only these languages."),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    interval: str = typer.Option("1d", help="Time bucket: 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1d."),
    tz: str = typer.Option("UTC", help="Time zone of the buckets (IANA name)."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
):
    """Volume over time, sentiment, topics, sources, brands, languages, authors, domains, share of voice."""
    from listener.stats import collect_stats

    with handle_errors():
        filters = build_filters(query, brand, source, lang, [], [], since, until, None, None, False)
        result = collect_stats(settings(), filters, interval=interval, tz=tz)
    if json_output:
        print_json(result)
    else:
        from listener.cli.render import render_stats

        render_stats(console, result)


@app.command()
def export(
    format: str = typer.Option("jsonl", "--format", "-f", help="csv or jsonl."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    query: str = typer.Option("", "--query", "-q", help="Boolean query to narrow the export."),
    brand: list[str] = typer.Option([], "--brand", "-b"),
    source: list[str] = typer.Option([], "--source", "-s"),
    lang: list[str] = typer.Option([], "--lang", "-l"),
    sentiment: list[str] = typer.Option([], "--sentiment"),
    topic: list[str] = typer.Option([], "--topic", "-t"),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    duplicates: bool = typer.Option(False, "--duplicates", help="Include near-duplicates."),
):
    """Export mentions as CSV or JSON Lines (JSON Lines re-imports with `listener ingest`)."""
    from listener.export import export_mentions

    if format not in ("csv", "jsonl"):
        fail("--format", f"expected csv or jsonl, got {format!r}")
    with handle_errors():
        filters = build_filters(query, brand, source, lang, sentiment, topic, since, until, None, None, duplicates)
        count = export_mentions(settings(), filters, format, output)
    if output:
        err_console.print(f"wrote {count} mentions to {output}")


@app.command()
def forget(author: str = typer.Option(..., "--author", help="The author id (as shown by search --json)."),
           json_output: bool = typer.Option(False, "--json")):
    """Delete everything of one author (privacy requests) and say how many mentions were removed."""
    from listener.runtime import open_settings_store

    from listener.alerts.state import open_alert_state

    with handle_errors(), open_settings_store(settings()) as store, open_alert_state(settings()) as alerts:
        removed = store.forget_author(author)
        alerts.forget_author(author)  # alerts quote mentions: those copies go too
    if json_output:
        print_json({"author": author, "removed": removed})
    else:
        console.print(f"removed {removed} mention(s) of author {author}")


@app.command()
def check(project: Optional[Path] = ProjectOption):
    """Validate a project file and print what it defines."""
    with handle_errors():
        loaded = require_project(project)
    console.print(f"[green]ok[/green]: {len(loaded.brands)} brand(s), {len(loaded.topics)} extra topic(s), "
                  f"{len(loaded.alert)} alert rule(s), {len(loaded.serp)} SERP question(s)")


def _register_plugins() -> None:
    """Command groups that live beside their subject (the model, the sources, the demo, the workers) join
    through the `listener.commands` entry points (listener.cli.plugins)."""
    from listener.cli.plugins import register_all

    register_all(app)


_register_plugins()


def main() -> None:
    app(prog_name="listener")


if __name__ == "__main__":
    sys.exit(main())
