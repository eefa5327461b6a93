"""Labelled examples (JSON Lines) and the built-in topic taxonomy.

A labelled line is an object with `text` and `label` (negative, neutral, positive, or mixed: praise and
complaint in one text), optionally `lang`, `topics` (a list of topic labels), `set` (which data set it comes
from; default: the file's name) and `split` (train, or dev / eval for held-apart lines); other fields are
ignored. A line with `topics` may leave out `label` (a topic-only file). Bad lines are collected with their
line numbers instead of stopping the read.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from listener.model import SENTIMENT_LABELS

#: A subjective text with both praise and complaint (ASTD's "mixed" class). It is not neutral: neutral means
#: no opinion. Training leaves these lines out of the 3-way sentiment head; evaluation reports them apart.
MIXED = "mixed"
LABELS = (*SENTIMENT_LABELS, MIXED)

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
    label: str | None  # None: a topic-only line
    lang: str | None = None
    topics: tuple[str, ...] | None = None  # None: the line had no topics field
    split: str | None = None
    line: int = 0
    set: str | None = None  # the data set (the line's `set`, else the file's name)

    @property
    def held_out(self) -> bool:
        """A dev / eval line: never trained on."""
        return (self.split or "train") in ("dev", "eval", "validation", "test")

    @property
    def sentiment_index(self) -> int | None:
        """Index into SENTIMENT_LABELS, None for mixed and topic-only lines."""
        return SENTIMENT_LABELS.index(self.label) if self.label in SENTIMENT_LABELS else None


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
                    example = parse_line(raw, number)
                    example.set = example.set or path.stem
                    result.examples.append(example)
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
    if label not in LABELS and not (label is None and isinstance(obj.get("topics"), list)):
        raise ValueError(f"'label' must be one of {', '.join(LABELS)} (or left out on a line with 'topics'), "
                         f"got {label!r}")
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise ValueError("'lang' must be a string")
    topics = obj.get("topics")
    if topics is not None:
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ValueError("'topics' must be a list of strings")
        topics = tuple(topics)
    split = obj.get("split")
    if split is not None and not isinstance(split, str):
        raise ValueError("'split' must be a string (train, dev or eval)")
    name = obj.get("set")
    if name is not None and not isinstance(name, str):
        raise ValueError("'set' must be a string")
    return Example(text, label, (lang or None) and lang.lower(), topics, split and split.lower(), number,
                   name or None)


def bundled_files() -> list[Path]:
    return sorted(LABELLED_DIR.glob("*.jsonl"))
