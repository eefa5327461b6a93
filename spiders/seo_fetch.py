"""`listener seo fetch`: gather the third-party pages that outrank the brand's self-service pages into the
store as mentions, so the outrank report can say how negative they are and what about.

The pages come from the outrank report (listener.seo.report); each goes to the spider that reads its kind:
Trustpilot pages to the Trustpilot spider, other review sites to the schema.org review spider, forum
threads, Q&A, news and the rest to the article spider (one mention per post, else the main text). Videos
are left to the YouTube client. The crawl is the ordinary one (robots.txt, checkpoints, scoring), on a copy
of the project whose brands list these pages as their sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import typer

from listener.config import Project, Settings
from listener.seo.classify import registrable_domain

#: third-party kind -> the BrandSources field (and so the spider) that reads such a page
FIELD_OF_KIND = {"review": "review_pages", "forum": "forum_pages", "qa": "forum_pages", "news": "forum_pages",
                 "other": "forum_pages", "social": "forum_pages"}
SPIDER_OF_FIELD = {"trustpilot": "trustpilot", "review_pages": "review", "forum_pages": "article"}


def pages_to_fetch(rows) -> dict[str, dict[str, list[str]]]:
    """brand -> BrandSources field -> the outranking page URLs of the report rows, each once."""
    wanted: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        for page in row.outranking:
            if registrable_domain(page.url) == "trustpilot.com":
                field = "trustpilot"
            else:
                field = FIELD_OF_KIND.get(page.kind or "other")
            if field is None:  # a video: the YouTube client's job
                continue
            urls = wanted.setdefault(row.brand, {}).setdefault(field, [])
            if page.url not in urls:
                urls.append(page.url)
    return wanted


def project_for_pages(project: Project, wanted: dict[str, dict[str, list[str]]]) -> Project:
    """A copy of the project whose brands' sources are exactly these pages (nothing else is crawled)."""
    from listener.config import BrandSources

    brands = [brand.model_copy(update={"sources": BrandSources(reddit_search=False, **wanted.get(brand.name, {}))})
              for brand in project.brands]
    return project.model_copy(update={"brand": brands})


def fetch_outranking(project: Project, settings: Settings, *, score: bool = False,
                     overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                     timeout: float = 3600) -> dict[str, Any]:
    """Crawl the pages that outrank the own pages (from the latest checks) into the store; the crawl report,
    with `pages` (how many were asked for)."""
    from listener.runtime import open_settings_store
    from listener.seo.history import RankHistory
    from listener.seo.questions import questions_of
    from listener.seo.report import outrank_report
    from spiders.crawl import crawl

    with RankHistory.open(settings) as history, open_settings_store(settings) as store:
        rows = outrank_report(questions_of(project), history, store)
    wanted = pages_to_fetch(rows)
    count = sum(len(urls) for fields in wanted.values() for urls in fields.values())
    if not count:
        return {"ok": True, "pages": 0, "spiders": {}, "note": "no third-party page outranks an own page "
                                                              "(or nothing checked yet: run `listener seo check`)"}
    spiders = sorted({SPIDER_OF_FIELD[field] for fields in wanted.values() for field in fields})
    report = crawl(spiders, project_for_pages(project, wanted), settings, score=score, overrides=overrides,
                   env=env, timeout=timeout)
    report["pages"] = count
    return report


def register(app: typer.Typer) -> None:
    """Add `fetch` to the `listener seo` group (listener.cli.seo), which the library registers itself."""
    from listener.cli.common import (
        ProjectOption, handle_errors, print_error, print_json, require_project, settings,
    )
    from listener.cli.seo import register as register_seo_group, seo_app

    register_seo_group(app)  # whichever plug-in comes first adds the group; the other finds it
    if any(command.name == "fetch" for command in seo_app.registered_commands):
        return

    @seo_app.command()
    def fetch(
        project: Optional[Path] = ProjectOption,
        score: bool = typer.Option(True, help="Score sentiment and topics with the transformer."),
        json_output: bool = typer.Option(False, "--json", help="Print the crawl report as JSON."),
    ):
        """Crawl the third-party pages that outrank the own pages into the store, scored, for the report."""
        from spiders.commands import render_crawl_report
        from spiders.crawl import CrawlError

        with handle_errors():
            try:
                report = fetch_outranking(require_project(project), settings(), score=score)
            except CrawlError as err:
                print_error(str(err))  # a crawl error may quote a page: printed terminal-safe
                raise typer.Exit(1) from None
        report.pop("stderr", None)
        if json_output:
            print_json(report)
        elif report.get("pages"):
            from rich.console import Console

            console = Console()
            console.print(f"fetched {report['pages']} outranking page(s)")
            render_crawl_report(console, report)
        else:
            typer.echo(report["note"])
        if not report.get("ok", False):
            raise typer.Exit(1)
