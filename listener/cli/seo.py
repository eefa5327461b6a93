"""`listener seo …`: search the project's questions, show which third-party pages outrank the own pages,
import saved result pages, and show a question's rank history. Thin: each command calls listener.seo."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from listener.cli.common import (
    ProjectOption, UserInputError, handle_errors, print_error, print_json, require_project, settings, to_jsonable,
)
from listener.cli.render import shown

seo_app = typer.Typer(name="seo", help="Which third-party pages outrank the help center, and what they say.",
                      no_args_is_help=True)
_out = Console()


def register(app: typer.Typer) -> None:
    """Add the `seo` group (once: spiders.seo_fetch adds its `fetch` command to the same group)."""
    if not any(group.typer_instance is seo_app for group in app.registered_groups):
        app.add_typer(seo_app, name="seo")


@contextlib.contextmanager
def serp_errors():
    """A provider problem as one line: a missing key is a setup problem (exit 2), the rest exit 1."""
    from listener.seo.model import MissingKeyError, SerpError, UnknownProviderError

    try:
        yield
    except (MissingKeyError, UnknownProviderError) as err:
        print_error(str(err))
        raise typer.Exit(2) from None
    except SerpError as err:
        print_error(f"({err.kind}) {err}")
        raise typer.Exit(1) from None


def _questions(project):
    from listener.seo.questions import questions_of

    found = questions_of(project)
    if not found:
        raise UserInputError("the project file has no [[serp]] questions; add some (docs/project-file.md)")
    return found


@seo_app.command()
def check(
    project: Optional[Path] = ProjectOption,
    provider: Optional[str] = typer.Option(None, help="searxng, serpapi, brave or duckduckgo "
                                                      "(default: LISTENER_SERP_PROVIDER, else the best available)."),
    force: bool = typer.Option(False, "--force", help="Search again even when checked within the interval."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Search every SERP question of the project with the provider and record the classified results (rank history)."""
    import dataclasses

    from listener.seo.check import check_questions
    from listener.seo.history import RankHistory
    from listener.seo.settings import SeoSettings

    with handle_errors(), serp_errors():
        questions = _questions(require_project(project))
        seo = SeoSettings.from_env()
        if provider:
            seo = dataclasses.replace(seo, provider=provider)
        with RankHistory.open(settings()) as history:
            report = check_questions(questions, history, seo, force=force)
    if json_output:
        print_json({**dataclasses.asdict(report), "ok": report.ok})
    else:
        _out.print(f"{report.provider}: searched {len(report.checked)} question(s) with {report.requests} "
                   f"request(s); {len(report.cached)} checked within the interval (cached)")
        for key, problem in report.failed.items():
            _out.print(f"  [red]failed[/red] {shown(key)}: {shown(problem)}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@seo_app.command()
def report(
    project: Optional[Path] = ProjectOption,
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
):
    """Per question: the best own position and every third-party page above it, how negative, and the
    visibility-weighted negative exposure."""
    from listener.runtime import open_settings_store
    from listener.seo.history import RankHistory
    from listener.seo.report import outrank_report

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter(f"expected table, csv or json, got {format!r}", param_hint="--format")
    with handle_errors(), serp_errors():
        questions = _questions(require_project(project))
        current = settings()
        with RankHistory.open(current) as history, open_settings_store(current) as store:
            rows = outrank_report(questions, history, store)
    handle = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if format == "json":
            handle.write(json.dumps(to_jsonable(rows), ensure_ascii=False, indent=2) + "\n")
        elif format == "csv":
            from listener.seo.output import write_csv

            write_csv(rows, handle)
        else:
            render_report(Console(file=handle) if output else _out, rows)
    finally:
        if output:
            handle.close()


def render_report(console: Console, rows) -> None:
    for row in rows:
        title = f"[bold]{shown(row.question)}[/bold] ({shown(row.brand)}, {row.lang}-{row.country})"
        if row.status != "ok":
            console.print(f"{title}: not checked yet (run `listener seo check`)")
            continue
        own = f"own page #{row.own_position}" if row.own_position else "own page not in the results"
        console.print(f"{title}: {own} · negative exposure {row.negative_exposure:.1%} of clicks"
                      + (f" · unscored {row.unscored_weight:.1%}" if row.unscored_weight else "")
                      + (f" · features: {', '.join(row.features)}" if row.features else ""), highlight=False)
        if not row.outranking:
            console.print("  no third-party page above it")
            continue
        table = Table(show_edge=False, pad_edge=False)
        for column in ("#", "page", "kind", "clicks", "mentions", "negative", "topics"):
            table.add_column(column)
        for page in row.outranking:
            negative = "?" if page.negativity is None else f"{page.negativity:.0%}"
            style = "red" if (page.negativity or 0) >= 0.5 else ""
            table.add_row(str(page.position), shown(f"{page.title[:60]}\n{page.url[:90]}"), page.kind or "",
                          f"{page.click_share:.1%}", str(page.mentions), negative, shown(", ".join(page.topics)),
                          style=style)
        console.print(table)


@seo_app.command("import")
def import_page(
    file: Path = typer.Argument(..., help="A result page saved from the browser (HTML)."),
    engine: str = typer.Option(..., "--engine", "-e", help="google, bing or duckduckgo."),
    query: str = typer.Option(..., "--query", "-q", help="The search the page shows."),
    lang: str = typer.Option("en", help="Search language."),
    country: str = typer.Option("us", help="Search country."),
    project: Optional[Path] = ProjectOption,
    record: bool = typer.Option(False, "--record", help="Store it in the rank history of the matching question."),
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON."),
):
    """Parse a saved Google, Bing or DuckDuckGo result page into the same results a provider returns."""
    from listener.seo.imports import import_saved_page
    from listener.seo.questions import Question, find_question, questions_of

    with handle_errors(), serp_errors():
        from listener.runtime import resolve_project

        loaded = require_project(project) if record else resolve_project(settings(), project)
        matches = [q for q in find_question(questions_of(loaded), query) if (q.lang, q.country) == (lang, country)] \
            if loaded else []
        if record and not matches:
            raise UserInputError(f"--record: no [[serp]] question {query!r} for {lang}-{country} in the project")
        question = matches[0] if matches else Question(text=query, brand="", lang=lang, country=country)
        page = import_saved_page(file, engine, query, lang, country, question)
        if record:
            from listener.seo.history import RankHistory

            with RankHistory.open(settings()) as history:
                history.record(question.key, question.brand, page)
    if json_output:
        print_json(page)
        return
    _out.print(f"{len(page.organic)} organic result(s) from {shown(str(file))}"
               + (f"; features: {', '.join(page.features)}" if page.features else ""), highlight=False)
    for result in page.organic:
        label = result.category if result.category != "third_party" else f"third-party {result.kind}"
        _out.print(f"{result.position:>3}. {shown(result.title[:80])}  [dim]{shown(result.url[:100])}[/dim] "
                   f"({label})", highlight=False)


@seo_app.command()
def history(
    question: str = typer.Argument(..., help="The question as written in the project file."),
    project: Optional[Path] = ProjectOption,
    limit: int = typer.Option(30, min=1, help="The last this-many checks."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
):
    """A question's checks over time: the own page's position, what outranked it, and what changed."""
    from listener.seo.changes import question_changes
    from listener.seo.classify import classify_page
    from listener.seo.history import RankHistory
    from listener.seo.questions import find_question

    with handle_errors(), serp_errors():
        matches = find_question(_questions(require_project(project)), question)
        if not matches:
            raise UserInputError(f"no [[serp]] question {question!r} in the project file")
        result = []
        with RankHistory.open(settings()) as store:
            for q in matches:
                checks = store.checks(q.key, limit=limit)
                rows = []
                for check in checks:
                    page = classify_page(q, check.page)
                    own = next((r for r in page.organic if r.category == "own_self_service"), None)
                    above = [r for r in page.organic if r.category == "third_party"
                             and (own is None or r.position < own.position)]
                    rows.append({"checked_at": page.fetched_at, "engine": page.engine,
                                 "own_position": own.position if own else None,
                                 "third_party_above": len(above), "first_third_party": above[0].url if above else None})
                result.append({"question": q.key, "checks": rows, "changes": question_changes(q, checks)})
    if json_output:
        print_json(result)
        return
    for item in result:
        _out.print(f"[bold]{shown(item['question'])}[/bold]: {len(item['checks'])} check(s)", highlight=False)
        for row in item["checks"]:
            own = f"#{row['own_position']}" if row["own_position"] else "—"
            _out.print(f"  {row['checked_at']:%Y-%m-%d %H:%M} {row['engine']}: own {own}, "
                       f"{row['third_party_above']} third-party above", highlight=False)
        for change in item["changes"]:
            _out.print(f"  [yellow]{change.at:%Y-%m-%d %H:%M} {change.kind}[/yellow]: {shown(change.message)}",
                       highlight=False)
