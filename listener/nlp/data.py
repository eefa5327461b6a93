"""Labelled examples (JSON Lines) and the built-in topic taxonomy.

A labelled line is an object with at least `text` and `label` (negative, neutral or positive), optionally
`lang`, `topics` (a list of topic labels) and `split` (train or eval); other fields are ignored. Bad lines are
collected with their line numbers instead of stopping the read.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from listener.model import SENTIMENT_LABELS

DATA_DIR = Path(__file__).parent / "data"
LABELLED_DIR = DATA_DIR / "labelled"
TAXONOMY_FILE = DATA_DIR / "taxonomy.toml"


@dataclass(frozen=True)
class TopicDef:
    """A topic: a lower-case label, a description and optional example texts (same shape as config.Topic)."""

    label: str
    description: str
    examples: tuple[str, ...] = ()


def load_taxonomy(path: str | Path = TAXONOMY_FILE) -> list[TopicDef]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [TopicDef(t["label"], t["description"], tuple(t.get("examples", ()))) for t in data.get("topic", [])]


def as_topic_defs(topics: Iterable | None) -> list[TopicDef]:
    """Project topics (objects with .label, .description, .examples, or dicts) as TopicDefs."""
    out = []
    for t in topics or ():
        get = t.get if isinstance(t, dict) else (lambda k, d=None, _t=t: getattr(_t, k, d))
        out.append(TopicDef(str(get("label")), str(get("description", "") or ""), tuple(get("examples", ()) or ())))
    return out


@dataclass
class Example:
    text: str
    label: str
    lang: str | None = None
    topics: tuple[str, ...] | None = None  # None: the line had no topics field
    split: str | None = None
    line: int = 0


@dataclass
class Labelled:
    examples: list[Example] = field(default_factory=list)
    bad_lines: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)


def read_labelled(paths: Iterable[str | Path]) -> Labelled:
    """Read labelled JSON Lines files; blank lines are skipped, bad ones reported with their numbers."""
    result = Labelled()
    for path in paths:
        path = Path(path)
        with open(path, encoding="utf-8") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    result.examples.append(parse_line(raw, number))
                except ValueError as err:
                    result.bad_lines.append((str(path), number, str(err)))
    return result


def parse_line(raw: str, number: int = 0) -> Example:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON ({err.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' missing or empty")
    label = obj.get("label")
    if label not in SENTIMENT_LABELS:
        raise ValueError(f"'label' must be one of {', '.join(SENTIMENT_LABELS)}, got {label!r}")
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise ValueError("'lang' must be a string")
    topics = obj.get("topics")
    if topics is not None:
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ValueError("'topics' must be a list of strings")
        topics = tuple(topics)
    split = obj.get("split")
    return Example(text, label, (lang or None) and lang.lower(), topics, split, number)


def bundled_files() -> list[Path]:
    return sorted(LABELLED_DIR.glob("*.jsonl"))
