"""What a rule watches: one subject per brand, and per brand x source / brand x topic when the rule splits.

A subject is a name (the cooldown and de-duplication are per subject) and the store filters that select
its mentions; the checks ask the store for counts of those filters only, so SQLite and Elasticsearch work
alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from listener.config import AlertRule, Project
from listener.store.base import Filters, Store


@dataclass(frozen=True)
class Subject:
    rule: AlertRule
    brand: str
    split: str = ""  # "source=reddit", "topic=payments" or ""
    filters: Filters = Filters()

    @property
    def key(self) -> str:
        return "|".join(part for part in (self.rule.name, self.brand, self.split) if part)

    @property
    def label(self) -> str:
        where = f" on {self.split.split('=', 1)[1]}" if self.split.startswith("source=") else ""
        what = f" about {self.split.split('=', 1)[1]}" if self.split.startswith("topic=") else ""
        return f"{self.brand}{what}{where}"


def rule_brands(rule: AlertRule, project: Project) -> list[str]:
    """The brands a rule watches: the one it names, else every brand that is not a competitor."""
    if rule.brand:
        return [rule.brand]
    return [brand.name for brand in project.brands if not brand.competitor]


def subjects(rule: AlertRule, project: Project, store: Store, since: datetime) -> list[Subject]:
    """The brand-level subject, plus one per source / topic seen since `since` when the rule splits."""
    out = []
    for brand in rule_brands(rule, project):
        base = Filters(brands=(brand,))
        out.append(Subject(rule, brand, "", base))
        split_fields = list(rule.split)
        if rule.metric == "drop" and "source" not in split_fields:
            split_fields.append("source")  # a source going silent is what a drop rule is for
        for field in split_fields:
            if rule.metric == "topic" and field == "topic":
                continue  # the rule is about one topic already
            for value, _ in store.terms(replace(base, since=since), field, size=50):
                narrowed = replace(base, sources=(value,)) if field == "source" else replace(base, topics=(value,))
                out.append(Subject(rule, brand, f"{field}={value}", narrowed))
    return out
