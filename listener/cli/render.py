"""Rich rendering of reports, search pages and statistics for the terminal."""

from __future__ import annotations

import html

from rich.console import Console
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text

from listener.safety import safe_link, terminal_text

_SENTIMENT_STYLE = {"negative": "red", "neutral": "yellow", "positive": "green"}


def shown(value) -> str:
    """Scraped text as rich markup that prints as plain text: no markup, no escape sequences, no control
    characters, bidi overrides made visible. Every printer of the CLI passes what it did not write through this."""
    return escape(terminal_text(str(value)))


def link_text(url: str | None) -> Text:
    """A URL to print: a clickable terminal hyperlink for web links; anything else (javascript:, data:, ...)
    is named but neither shown in full nor offered as a link."""
    link = safe_link(url)
    if link:
        return Text(link, style=Style(dim=True, link=link))
    scheme = terminal_text((url or "").split(":", 1)[0])[:20] if ":" in (url or "") else "relative"
    return Text(f"(link not shown: {scheme} URL)", style="dim")


def snippet_markup(snippet: str) -> str:
    """The store's HTML snippet (<mark> around matches) as rich markup."""
    parts = snippet.replace("</mark>", "<mark>").split("<mark>")
    return "".join(f"[bold reverse]{shown(html.unescape(p))}[/]" if i % 2 else shown(html.unescape(p))
                   for i, p in enumerate(parts))


def render_ingest_report(console: Console, report: dict) -> None:
    console.print(f"read {report['lines']} line(s) from {report['file']}: {report['good_lines']} good, "
                  f"{report['bad_line_count']} bad")
    console.print(f"stored {report['inserted']} new, updated {report['updated']}, "
                  f"{report['near_duplicates']} near-duplicate(s) linked, {report['unmatched']} matched no brand, "
                  f"{report['scored']} scored")
    for bad in report["bad_lines"][:50]:
        console.print(f"  [red]line {bad['line']}[/red]: {shown(bad['error'])}", highlight=False)
    if report["bad_line_count"] > 50:
        console.print(f"  … and {report['bad_line_count'] - 50} more bad line(s) (use --json for all)")


def render_page(console: Console, page: dict) -> None:
    plus = "" if page.get("total_exact", True) else "+"
    console.print(f"[bold]{page['total']:,}{plus}[/bold] mention(s)")
    for hit in page["hits"]:
        m = hit["mention"]
        label = m.sentiment.label if m.sentiment else "unscored"
        if m.sentiment and m.sentiment.mixed:
            label += " (mixed)"
        style = _SENTIMENT_STYLE.get(m.sentiment.label if m.sentiment else "unscored", "dim")
        meta = " · ".join(x for x in (m.published_at.strftime("%Y-%m-%d %H:%M"), m.source, m.lang or "?",
                                      m.author_name or "", ", ".join(m.brands), ", ".join(m.topics)) if x)
        rating = f" {'★' * round(m.rating)}" if m.rating is not None else ""
        console.print(f"[{style}]● {label}[/{style}] [dim]{shown(meta)}[/dim]{rating}", highlight=False)
        if m.title:
            console.print(f"  [bold]{shown(m.title)}[/bold]", highlight=False)
        console.print("  " + snippet_markup(hit["snippet"]), highlight=False)
        if m.url:
            console.print(Text("  ").append(link_text(m.url)), highlight=False)
    if page["next_cursor"]:
        console.print(f"[dim]more: --cursor {page['next_cursor']}[/dim]")


MAX_SERIES_ROWS = 200  # a terminal screen or two; --json has every bucket
_BAR_WIDTH = 12


def render_series(console: Console, stats: dict) -> None:
    """Every bucket of the range (up to MAX_SERIES_ROWS, saying what was left out), a bar per bucket, and
    the peak marked: a spike is what a support lead looks for."""
    rows = stats["timeseries"]
    totals = [sum(v for k, v in row.items() if k != "start") for row in rows]
    series = Table(title=f"Volume per {stats['interval']} ({stats['tz']})", show_edge=False, title_justify="left")
    for column in ("start", "all", "negative", "neutral", "positive", ""):
        series.add_column(column, justify="left" if column in ("start", "") else "right", no_wrap=True)
    peak = max(range(len(rows)), key=totals.__getitem__) if rows else None
    cut = max(0, len(rows) - MAX_SERIES_ROWS)
    for index in range(cut, len(rows)):
        row, total = rows[index], totals[index]
        bar = "█" * round(_BAR_WIDTH * total / totals[peak]) if totals[peak] else ""
        series.add_row(row["start"].strftime("%Y-%m-%d %H:%M"), str(total),
                       *(str(row.get(k, 0)) for k in ("negative", "neutral", "positive")),
                       bar + (" [bold]◀ peak[/bold]" if index == peak else ""))
    console.print(series)
    if cut:
        console.print(f"[dim]{cut} earlier bucket(s) not shown (from {rows[0]['start']:%Y-%m-%d %H:%M}); use a "
                      f"larger --interval, a later --since, or --json for all[/dim]", highlight=False)
    if peak is not None and peak < cut:
        console.print(f"peak: {totals[peak]} at {rows[peak]['start']:%Y-%m-%d %H:%M} (in the part not shown)",
                      highlight=False)


def render_stats(console: Console, stats: dict) -> None:
    console.print(f"[bold]{stats['total']}[/bold] mention(s) ({stats['unscored']} unscored, "
                  f"{stats['near_duplicates_hidden']} near-duplicate(s) not counted)")
    render_series(console, stats)
    grid = Table.grid(padding=(0, 3))
    tables = []
    names = {a["id"]: f"{a['name']} ({a['id'][:6]})" for a in stats.get("top_authors", []) if a["name"]}
    for field, values in stats["breakdowns"].items():
        if not values:
            continue
        if field == "author":
            values = [(names.get(value, value), count) for value, count in values]
        table = Table(title=field, show_edge=False)
        table.add_column(field)
        table.add_column("n", justify="right")
        for value, count in values:
            table.add_row(shown(value), str(count))
        tables.append(table)
    for start in range(0, len(tables), 4):
        grid.add_row(*tables[start:start + 4])
    console.print(grid)
    if stats["share_of_voice"]:
        console.print("share of voice: " + ", ".join(f"{shown(s['brand'])} {s['share']:.0%}"
                                                     for s in stats["share_of_voice"]), highlight=False)
    agreement = stats["rating_agreement"]
    if agreement["rated_and_scored"]:
        console.print(f"star ratings vs predicted sentiment: {agreement['agreement']:.0%} agree "
                      f"over {agreement['rated_and_scored']} rated review(s)")


def render_authors(console: Console, name: str, authors: list[dict]) -> None:
    """The preview of `forget --author-name`: each author id the name was found under, per source."""
    if not authors:
        console.print(f"no mention by anyone named {shown(name)}", highlight=False)
        return
    table = Table(title=f"posted as {shown(name)}", show_edge=False, title_justify="left")
    for column in ("source", "author id", "names", "mentions"):
        table.add_column(column, justify="right" if column == "mentions" else "left")
    for author in authors:
        table.add_row(shown(author["source"]), shown(author["author_id"]), shown(", ".join(author["names"])),
                      str(author["mentions"]))
    console.print(table)
