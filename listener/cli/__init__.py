"""The `listener` command: thin commands that parse arguments and call one library function each."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from listener.cli.common import (
    ProjectOption, SinceOption, UntilOption, UserInputError, build_filters, check_interval, check_tz, fail, handle_errors,
    print_json, require_project, settings,
)

def _hide_flag_types(command, ctx) -> None:
    """A flag takes no value, so help shows no type for it (typer prints `<bool>` beside every flag)."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False):
            param.metavar = ""
    if isinstance(command, TyperGroup) and not isinstance(command, ListenerGroup):
        command.__class__ = ListenerGroup  # command groups registered by other modules (model, ...) too


class ListenerGroup(TyperGroup):
    """The command group; it only tidies help output (see _hide_flag_types)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command, ctx)
        return command


app = typer.Typer(
    name="listener",
    cls=ListenerGroup,
    help="Social listening and third-party review monitoring: gather mentions, score them, search them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("listener")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "unknown (not installed)"
        typer.echo(f"listener {number}")
        raise typer.Exit()


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (INFO level)."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # the Elasticsearch transport logs every retried connection failure as a WARNING with a traceback;
        # the store turns the final failure into one clear line, so the CLI shows only that unless -v
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)


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
    mixed: bool = typer.Option(False, "--mixed", help="Only mixed mentions: praise and complaint together."),
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
                                rating_max, duplicates, mixed)
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
        result = collect_stats(settings(), filters, interval=check_interval(interval), tz=check_tz(tz))
    if json_output:
        print_json(result)
    else:
        from listener.cli.render import render_stats

        render_stats(console, result)


@app.command()
def export(
    query: str = typer.Argument("", help="Optional boolean query, as for `listener search`."),
    format: str = typer.Option("jsonl", "--format", "-f", help="csv or jsonl."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    query_option: str = typer.Option("", "--query", "-q", hidden=True,
                                     help="The query, the older way (the argument is the same)."),
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
    mixed: bool = typer.Option(False, "--mixed", help="Only mixed mentions: praise and complaint together."),
    bom: bool = typer.Option(False, "--bom", help="Start the file with a UTF-8 BOM, so Excel shows Persian and "
                                                  "Arabic correctly."),
):
    """Export mentions as CSV or JSON Lines (JSON Lines re-imports with `listener ingest`)."""
    from listener.export import export_mentions

    if format not in ("csv", "jsonl"):
        fail("--format", f"expected csv or jsonl, got {format!r}")
    if query.strip() and query_option.strip():
        fail("--query", "give the query once: as the argument or with --query, not both")
    with handle_errors():
        filters = build_filters(query or query_option, brand, source, lang, sentiment, topic, since, until,
                                rating_min, rating_max, duplicates, mixed)
        count = export_mentions(settings(), filters, format, output, bom=bom)
    if output:
        err_console.print(f"wrote {count} mentions to {output}", markup=False, highlight=False)


@app.command()
def forget(
    author: Optional[str] = typer.Option(None, "--author", help="An author id (as shown by search --json)."),
    author_name: Optional[str] = typer.Option(None, "--author-name",
                                              help="The name a person posts under, on every source: shows what "
                                                   "will go and asks before deleting."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking (for scripts)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Delete everything of one person (privacy requests), leaving no trace in the database files."""
    from listener.privacy import authors_named, forget_authors
    from listener.runtime import open_settings_store

    if (author is None) == (author_name is None):
        fail("forget", "give exactly one of --author ID or --author-name NAME")
    with handle_errors(), open_settings_store(settings()) as store:
        if author is not None:
            ids, shown_as = [author], f"author {author}"
        else:
            try:
                found = authors_named(store, author_name)
            except ValueError as err:
                raise UserInputError(f"--author-name: {err}") from None
            ids, shown_as = [a["author_id"] for a in found], f"the name {author_name!r}"
            if not json_output:
                from listener.cli.render import render_authors

                render_authors(err_console, author_name, found)
            if found and not yes and not typer.confirm(
                    f"delete all {sum(a['mentions'] for a in found)} mention(s) of these "
                    f"{len(found)} author id(s)?", err=True):
                err_console.print("nothing deleted")
                raise typer.Exit(1)
        removed = forget_authors(store, ids)
        from listener.alerts.state import open_alert_state

        with open_alert_state(settings()) as alerts:  # alerts quote mentions: those copies go too
            for author_id in ids:
                alerts.forget_author(author_id)
    if json_output:
        print_json({"author" if author is not None else "author_name": author or author_name,
                    "author_ids": ids, "removed": removed})
    else:
        from listener.cli.render import shown

        console.print(f"removed {removed} mention(s) of {shown(shown_as)}", highlight=False)


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
