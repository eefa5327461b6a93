"""An alert as a message a support lead acts on: what broke, since when, how bad, why, what to answer first.

One composer, four formats (plain text, HTML, Slack mrkdwn, Markdown). Every piece of text goes through
the format's escaper (listener.alerts.escape) — scraped text and our own labels alike, so nothing that
came from a mention can become markup, a link or a mass mention; links are made only by the format's
link function, which accepts http(s) URLs only.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from listener.alerts import escape
from listener.alerts.state import AlertRecord


class Plain:
    name = "text"
    text = staticmethod(escape.plain)

    def link(self, url, label):
        safe = escape.safe_url(url)
        return f"{escape.plain(label)} <{safe}>" if safe else escape.plain(label)

    def bold(self, text):
        return self.text(text)

    def heading(self, text):
        value = escape.plain(text)
        return f"{value}\n{'=' * min(len(value), 70)}"

    def item(self, text):
        return f"  - {text}"

    def join(self, lines):
        return "\n".join(lines)


class Html(Plain):
    name = "html"
    text = staticmethod(escape.html_text)
    link = staticmethod(escape.html_link)

    def bold(self, text):
        return f"<b>{escape.html_text(text)}</b>"

    def heading(self, text):
        return f'<h2 dir="auto" style="font-size:18px;margin:16px 0 8px">{escape.html_text(text)}</h2>'

    def item(self, text):
        return f'<li dir="auto" style="margin:4px 0">{text}</li>'

    def join(self, lines):
        out, in_list = [], False
        for line in lines:
            is_item = line.startswith("<li")
            if is_item and not in_list:
                out.append("<ul>")
            if not is_item and in_list:
                out.append("</ul>")
            in_list = is_item
            out.append(line if is_item or line.startswith(("<h2", "<img", "<p")) else f'<p dir="auto">{line}</p>')
        if in_list:
            out.append("</ul>")
        return "\n".join(out)


class Slack(Plain):
    name = "slack"
    text = staticmethod(escape.slack)
    link = staticmethod(escape.slack_link)

    def bold(self, text):
        return f"*{escape.slack(text)}*"

    def heading(self, text):
        return f"*{escape.slack(text)}*"

    def item(self, text):
        return f"• {text}"


class Markdown(Plain):
    name = "markdown"
    text = staticmethod(escape.markdown)
    link = staticmethod(escape.markdown_link)

    def bold(self, text):
        return f"**{escape.markdown(text)}**"

    def heading(self, text):
        return f"### {escape.markdown(text)}"

    def item(self, text):
        return f"- {text}"

    def join(self, lines):
        return "\n\n".join(lines)


FORMATS = {f.name: f for f in (Plain(), Html(), Slack(), Markdown())}


def _when(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M %Z")


def _growth(record: AlertRecord, tz: str) -> str:
    """An alert updated in place as its incident grew says where it started."""
    if not record.realert:
        return ""
    first = (record.details or {}).get("first")
    if not first:
        return " Worse than when it was first raised."
    times = len((record.details or {}).get("updates", []))
    return (f" Updated {times} time{'s' if times != 1 else ''} as it got worse: first raised for "
            f"{_when(datetime.fromisoformat(first['window_start']), tz)} to "
            f"{_when(datetime.fromisoformat(first['window_end']), tz)}, {first['observed']:.0f} mentions where "
            f"{first['expected']:.1f} were expected.")


def describe(record: AlertRecord, fmt, tz: str = "UTC", chart_cid: str | None = None) -> list[str]:
    """The lines of one alert in a format."""
    d = record.details or {}
    lines = [fmt.heading(f"#{record.id} {record.title}" if record.id else record.title)]
    if d.get("serp"):
        return lines + describe_rank_change(record, d["serp"], fmt, tz)
    severity = f"p = {record.p:.1e} ({record.z:.1f} standard deviations)" if record.p > 0 else ""
    if record.kind == "drop":
        how = f"{record.observed:.0f} mentions where {record.expected:.0f} were expected"
    elif record.kind in ("volume", "negative", "topic"):
        how = f"{record.observed:.0f} mentions where {record.expected:.1f} were expected"
    else:
        how = f"{record.observed:.0f} (usual {record.expected:.0f})"
    lines.append(fmt.text(f"Since {_when(record.window_start, tz)} (until {_when(record.window_end, tz)}): "
                          f"{how}; {severity}. Rule: {record.rule}."
                          + _growth(record, tz)))
    drivers = d.get("drivers") or {}
    for field, label in (("topic", "Topics"), ("source", "Sources"), ("author", "Authors"), ("lang", "Languages")):
        # one mention each is not a driver (an author with one post explains nothing)
        least = 3 if field == "author" else 2  # two posts by one person in a busy hour explain nothing yet
        rows = [r for r in drivers.get(field, []) if r.get("excess", 0) > 0 and r["count"] >= least][:3]
        if not rows:
            continue
        parts = []
        for r in rows:
            name = r.get("name") or r["value"]
            parts.append(f"{name}: {r['count']} ({r['share']:.0%} of the window, usually {r['baseline_share']:.0%})")
        lines.append(fmt.bold(label + ": ") + fmt.text("; ".join(parts)))
    words = d.get("terms") or []
    if words:
        lines.append(fmt.bold("Words: ") + fmt.text(", ".join(
            f"{w['term']} ({w['share']:.0%}, usually {w['baseline_share']:.0%})" for w in words[:6])))
    person = d.get("person")
    if person:
        lines.append(fmt.text(f"Counted as one person across {', '.join(person['sources'])}: {person['how']}."))
    first = d.get("answer_first") or []
    if first:
        lines.append(fmt.bold("Answer first:"))
        for m in first:
            headline = m.get("title") or (m.get("text") or "")[:140]
            meta = f"{m['source']}, {m.get('author') or 'unknown author'}, {m.get('sentiment') or 'unscored'}, " \
                   f"engagement {m.get('engagement', 0):.0f}"
            lines.append(fmt.item(fmt.link(m.get("url"), headline) + " " + fmt.text(f"({meta})")))
    if chart_cid and fmt.name == "html":
        lines.append(f'<img src="cid:{chart_cid}" alt="mentions per hour, the alert window shaded" '
                     f'style="max-width:100%">')
    if record.id:
        lines.append(fmt.text(f"Acknowledge: listener alerts ack {record.id} · resolve: listener alerts resolve "
                              f"{record.id}"))
    return lines


def _rank(position: int | None) -> str:
    return f"#{position}" if position else "not in the results"


def describe_rank_change(record: AlertRecord, serp: dict, fmt, tz: str) -> list[str]:
    """The lines of a `serp` alert (listener.alerts.serp): the question, the own page before and after, and
    each page now above it with its kind and what the stored mentions of it say."""
    when = _when(datetime.fromisoformat(serp["checked_at"]), tz)
    before = _when(datetime.fromisoformat(serp["previous_checked_at"]), tz)
    lines = [fmt.text(f"Checked {when} with {serp['engine']} (the check before: {before}). Rule: {record.rule}."),
             fmt.bold("Question: ") + fmt.text(f"{serp['question']} ({serp['lang']}-{serp['country']})")]
    moved = f"{_rank(serp.get('own_before'))} -> {_rank(serp.get('own_after'))}"
    lines.append(fmt.bold("Own page: ") + fmt.link(serp.get("own_url"), moved))
    pages = serp.get("pages") or []
    if not pages:  # the pages below say it for an overtaking; the other events are one line each
        lines.extend(fmt.item(fmt.text(change)) for change in serp.get("changes") or [])
    if pages:
        lines.append(fmt.bold("Now above the own page:"))
    for page in pages:
        said = "not fetched yet (listener seo fetch)"
        if page.get("negativity") is not None:
            said = (f"{page['mentions']} stored mention(s), {page['negativity']:.0%} negative, mostly "
                    f"{page.get('sentiment') or 'unscored'}"
                    + (f"; topics: {', '.join(page['topics'])}" if page.get("topics") else ""))
        site = page.get("domain") if escape.safe_url(page["url"]) else None  # a javascript: "domain" is no site
        meta = (f"#{page['position']}, before: {_rank(page.get('before'))}; {page.get('kind') or 'other'} on "
                f"{site or 'no web address'}; {said}")
        lines.append(fmt.item(fmt.link(page["url"], page.get("title") or page["url"]) + " " + fmt.text(f"({meta})")))
    if record.id:
        lines.append(fmt.text(f"Acknowledge: listener alerts ack {record.id} · resolve: listener alerts resolve "
                              f"{record.id}"))
    return lines


def render(records: list[AlertRecord], format_name: str, tz: str = "UTC", project_name: str = "listener",
           chart_cids: dict[int, str] | None = None) -> tuple[str, str]:
    """(title, body) of a message holding one alert or a digest of several."""
    fmt = FORMATS[format_name]
    if len(records) == 1:
        # an update of an alert already sent says so first, so it reads as the same incident, not a new one
        title = f"[{project_name}] {'Worse: ' if records[0].realert else ''}{records[0].title}"
    else:
        title = f"[{project_name}] {len(records)} alerts: " + "; ".join(r.title for r in records[:3])
    lines = []
    for record in records:
        cid = (chart_cids or {}).get(record.id) if record.id is not None else None
        lines.extend(describe(record, fmt, tz, cid))
    return title, fmt.join(lines)
