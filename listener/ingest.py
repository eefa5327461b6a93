"""The universal import: JSON Lines of mentions into the pipeline; bad lines reported, good lines kept."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import IO, Iterator

from pydantic import ValidationError

from listener.config import Settings
from listener.model import Mention, implausible_date
from listener.pipeline import BatchReport, process_stream
from listener.runtime import open_settings_store, pipeline_context, resolve_project

MAX_REPORTED_BAD_LINES = 1000  # keep the report readable; the count stays exact


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "line"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines split on LF only: a raw CR inside a JSON string is part of the line, not a break."""
    pending = b""
    number = 0
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            yield number, line
    if pending:
        yield number + 1, pending


def _parse_line(raw: bytes, number: int) -> Mention:
    """One line -> a Mention, or ValueError with the reason (each line stands alone: one bad one costs nothing)."""
    if number == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM some editors put at the start of a file
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        # Replacing bad bytes would store text the author never wrote; say where the damage is instead.
        raise ValueError(f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}") from None
    try:
        data = json.loads(line, strict=False)  # strict=False: a raw CR or tab inside a string is kept, not refused
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err.msg} at column {err.colno}") from None
    except RecursionError:
        raise ValueError("not JSON this program accepts: nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        mention = Mention.model_validate(data)
    except ValidationError as err:
        raise ValueError(describe_validation_error(err)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    reason = implausible_date(mention.published_at)
    if reason:
        raise ValueError(f"published_at: {reason}")
    return mention


def read_mentions(stream: IO[bytes], bad_lines: list[dict], counts: dict) -> Iterator[Mention]:
    """Yield a Mention per good line; record each bad line's number and reason in bad_lines."""
    for number, raw in _lines(stream):
        if not raw.strip():
            continue
        counts["lines"] += 1
        try:
            mention = _parse_line(raw, number)
        except ValueError as err:
            counts["bad"] += 1
            if len(bad_lines) < MAX_REPORTED_BAD_LINES:
                bad_lines.append({"line": number, "error": str(err)})
            continue
        yield mention


@contextlib.contextmanager
def _progress(console, total_bytes: int | None):
    """A progress bar over the file's bytes (rich), or nothing when there is no console or no size."""
    if console is None or not total_bytes:
        yield lambda handle, received: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("ingesting"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[n]} mentions"),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("ingest", total=total_bytes, n=0)
        seen = [0]

        def advance(handle, received: int) -> None:
            seen[0] += received
            bar.update(task, completed=handle.tell(), n=seen[0])

        yield advance


def ingest_jsonl(settings: Settings, path: Path | str, project_path: Path | None = None, score: bool = True,
                 batch_size: int = 500, console=None) -> dict:
    project = resolve_project(settings, project_path)
    bad_lines: list[dict] = []
    counts = {"lines": 0, "bad": 0}
    with open_settings_store(settings) as store:
        ctx = pipeline_context(settings, project, store, score=score)
        handle = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
        try:
            with _progress(console, None if handle is sys.stdin.buffer else Path(path).stat().st_size) as advance:
                report: BatchReport = process_stream(read_mentions(handle, bad_lines, counts), ctx,
                                                     batch_size=batch_size,
                                                     on_batch=lambda r: advance(handle, r.received))
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()
    return {
        "file": str(path), "lines": counts["lines"], "good_lines": counts["lines"] - counts["bad"],
        "bad_line_count": counts["bad"], "bad_lines": bad_lines,
        "inserted": report.inserted, "updated": report.updated, "repeated_in_batch": report.repeated_in_batch,
        "near_duplicates": report.near_duplicates, "unmatched": report.unmatched, "scored": report.scored,
    }
