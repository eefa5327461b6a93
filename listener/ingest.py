"""The universal import: JSON Lines of mentions into the pipeline; bad lines reported, good lines kept."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import IO, Iterator

from pydantic import ValidationError

from listener.config import Settings
from listener.model import Mention
from listener.pipeline import BatchReport, process_stream
from listener.runtime import open_settings_store, pipeline_context, resolve_project

MAX_REPORTED_BAD_LINES = 1000  # keep the report readable; the count stays exact


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "line"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def read_mentions(stream: IO[str], bad_lines: list[dict], counts: dict) -> Iterator[Mention]:
    """Yield a Mention per good line; record each bad line's number and reason in bad_lines."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        counts["lines"] += 1
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            mention = Mention.model_validate(data)
        except json.JSONDecodeError as err:
            reason = f"not JSON: {err.msg} at column {err.colno}"
        except ValidationError as err:
            reason = describe_validation_error(err)
        except ValueError as err:
            reason = str(err)
        else:
            yield mention
            continue
        counts["bad"] += 1
        if len(bad_lines) < MAX_REPORTED_BAD_LINES:
            bad_lines.append({"line": number, "error": reason})


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
            bar.update(task, completed=handle.buffer.tell() if hasattr(handle, "buffer") else 0, n=seen[0])

        yield advance


def ingest_jsonl(settings: Settings, path: Path | str, project_path: Path | None = None, score: bool = True,
                 batch_size: int = 500, console=None) -> dict:
    project = resolve_project(settings, project_path)
    bad_lines: list[dict] = []
    counts = {"lines": 0, "bad": 0}
    with open_settings_store(settings) as store:
        ctx = pipeline_context(settings, project, store, score=score)
        handle = sys.stdin if str(path) == "-" else open(path, encoding="utf-8", errors="replace")
        try:
            with _progress(console, None if handle is sys.stdin else Path(path).stat().st_size) as advance:
                report: BatchReport = process_stream(read_mentions(handle, bad_lines, counts), ctx,
                                                     batch_size=batch_size,
                                                     on_batch=lambda r: advance(handle, r.received))
        finally:
            if handle is not sys.stdin:
                handle.close()
    return {
        "file": str(path), "lines": counts["lines"], "good_lines": counts["lines"] - counts["bad"],
        "bad_line_count": counts["bad"], "bad_lines": bad_lines,
        "inserted": report.inserted, "updated": report.updated, "repeated_in_batch": report.repeated_in_batch,
        "near_duplicates": report.near_duplicates, "unmatched": report.unmatched, "scored": report.scored,
    }
