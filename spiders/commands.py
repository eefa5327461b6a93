"""`listener crawl` (the Scrapy spiders once, in a fresh process) and `listener run` (every configured
source once, or every N minutes). They join the CLI through the `listener.commands` entry point."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from listener.cli.render import shown
from listener.cli.common import (
    ProjectOption, UserInputError, handle_errors, print_error, print_json, require_project, settings,
)
from spiders import registry

_out = Console()
_err = Console(stderr=True)
MAX_PROBLEMS_SHOWN = 15


def register(app: typer.Typer) -> None:
    """Add the `crawl` and `run` commands to the listener app."""
    register_run(app)

    @app.command()
    def crawl(
        spider: Optional[str] = typer.Argument(
            None, help=f"{', '.join(registry.spiders())} (default: every spider with a source in the project "
                       "file)."),
        brand: Optional[str] = typer.Option(None, "--brand", "-b", help="Only this brand's sources."),
        project: Optional[Path] = ProjectOption,
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print the crawl report as JSON."),
    ):
        """Crawl review pages, review sites, app stores, feeds and forum pages once; store what is new.

        Each crawl runs in its own process and picks up where the last one stopped. Set
        LISTENER_HTTPCACHE=1 while developing a parser to keep responses for a day."""
        from spiders.crawl import CrawlError, crawl as run_crawl

        with handle_errors():
            current = settings()
            loaded = require_project(project)
            try:
                report = run_crawl(spider, loaded, current, brand=brand, score=score,
                                   stream_logs=verbose() and not json_output)
            except ValueError as err:
                raise UserInputError(str(err)) from None
            except CrawlError as err:
                print_error(str(err))
                raise typer.Exit(1) from None
        report.pop("stderr", None)
        if json_output:
            print_json(report)
        else:
            render_crawl_report(_out, report)
        if not report.get("ok", False):
            raise typer.Exit(1)


def register_run(app: typer.Typer) -> None:
    @app.command()
    def run(
        brand: Optional[str] = typer.Option(None, "--brand", "-b", help="Only this brand's sources."),
        project: Optional[Path] = ProjectOption,
        every: Optional[str] = typer.Option(None, help="Keep going: a pass every 10m, 1h, ... (Ctrl-C stops)."),
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print each pass's report as JSON."),
    ):
        """Gather from every source the project file configures: spiders, Reddit, YouTube.

        With LISTENER_BROKER_URL set, the pass is queued for the Celery workers instead.

        A source without credentials is skipped with a note. Stopping with Ctrl-C is safe: checkpoints
        are written only after a batch is stored, so the next run resumes where this one stopped."""
        from listener.config import parse_duration
        from spiders.run import run_forever

        with handle_errors():
            current = settings()
            loaded = require_project(project)
            try:
                interval = parse_duration(every).total_seconds() if every else 0.0
            except ValueError as err:
                raise UserInputError(f"--every: {err}") from None

            def show(reports: dict) -> None:
                if json_output:
                    print_json(reports)
                else:
                    render_run_report(_out, reports)

            if current.broker_url:  # the distributed runtime: the workers gather (see `listener status`)
                from workers.enqueue import enqueue_pass

                if every:
                    raise UserInputError("--every: with LISTENER_BROKER_URL set, `listener beat` runs passes at "
                                         "the intervals of the project file's [schedule]")
                queued = enqueue_pass(loaded, brand, score)
                if json_output:
                    print_json({"queued": queued})
                else:
                    _out.print(f"queued {len(queued)} gather task(s): {', '.join(queued) or 'none'}; "
                               "follow them with `listener status`", highlight=False)
                return
            failed: list[str] = []

            def on_pass(reports: dict) -> None:
                show(reports)
                from listener.alerts.runner import check_after_pass

                check_after_pass(current, loaded, lambda text: say(shown(text)))  # the rules, after each pass
                failed[:] = failed_sources(reports)
                for name in failed:
                    _err.print(f"[bold red]failed[/bold red]: {shown(name)}: {shown(failure_of(reports[name]))}",
                               highlight=False)

            say = (lambda text: None) if json_output else (lambda text: _err.print(text, highlight=False))
            try:
                run_forever(current, loaded, interval, on_pass=on_pass, stop_after=None if every else 1,
                            brand=brand, score=score, say=say, stream_logs=verbose() and not json_output)
            except KeyboardInterrupt:
                _err.print("stopped; every stored batch is checkpointed, the next run resumes from there")
        if failed:  # the last pass's failures: a source that failed is never reported as success
            raise typer.Exit(1)


def verbose() -> bool:
    """`listener -v` sets INFO logging; only then does Scrapy's own log reach the terminal."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def failed_sources(reports: dict) -> list[str]:
    """The sources of a pass that failed: an error, a crawl that logged errors or crashed, an API source
    whose streams failed. Skipped sources (no credentials) are not failures: they say what to set."""
    failed = []
    for name, report in reports.items():
        if "skipped" in report:
            continue
        if "error" in report or report.get("errors") or (name == "crawl" and not report.get("ok", True)):
            failed.append(name)
    return failed


def failure_of(report: dict) -> str:
    """One line saying why a source failed."""
    if "error" in report:
        return str(report["error"])
    if report.get("errors"):
        errors = report["errors"]
        return str(errors[0]) + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    bad = [name for name, stats in (report.get("spiders") or {}).items()
           if stats.get("errors") or stats.get("finish_reason") not in (None, "finished")]
    return "the crawl logged errors" + (f" in {', '.join(bad)}" if bad else "") + " (see --json or -v)"


def render_run_report(console: Console, reports: dict) -> None:
    if not reports:
        console.print("no source is configured for these brands (see docs/project-file.md)")
    for name, report in reports.items():
        if "skipped" in report:
            console.print(f"{name}: skipped ({report['skipped']})", highlight=False)
        elif "error" in report:
            console.print(f"[red]{name}: failed[/red]: {shown(report['error'])}", highlight=False)
        elif name == "crawl":
            totals = report.get("totals", {})
            console.print(f"crawl: {totals.get('inserted', 0)} new, {totals.get('updated', 0)} updated, "
                          f"{totals.get('unmatched', 0)} matched no brand ({', '.join(report['spiders'])})",
                          highlight=False)
        else:
            pipeline = report.get("pipeline", {})
            console.print(f"{name}: {report.get('new', 0)} new item(s), stored {pipeline.get('inserted', 0)} new, "
                          f"{pipeline.get('unmatched', 0)} matched no brand", highlight=False)


def render_crawl_report(console: Console, report: dict) -> None:
    if not report.get("spiders"):
        console.print(report.get("note", "nothing to crawl"), highlight=False)
        return
    table = Table(title=f"crawl: {report.get('elapsed_s', 0):.1f} s", title_justify="left")
    for column in ("spider", "pages", "items", "new", "updated", "no brand", "skipped", "failed", "retries"):
        table.add_column(column, justify="left" if column == "spider" else "right")
    problems: list[str] = []
    for name, s in report["spiders"].items():
        table.add_row(name, str(s["responses"]), str(s["items"]), str(s["inserted"]), str(s["updated"]),
                      str(s["unmatched"]), str(s["skipped_page_count"] + s["skipped_items"]),
                      str(s["failed_request_count"]), str(s["retries"]))
        for item in s["skipped_pages"]:
            problems.append(f"{name}: skipped {item['url']}: {item['reason']}")
        for item in s["failed_requests"]:
            problems.append(f"{name}: failed {item['url']}: {item['reason']}")
    console.print(table)
    for line in problems[:MAX_PROBLEMS_SHOWN]:
        console.print(f"  [yellow]{shown(line)}[/yellow]", highlight=False)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN} more (see --json)", highlight=False)
