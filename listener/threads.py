"""A mention's conversation: the thread it belongs to, arranged as parents and replies.

Sources name threads and parents in their own ids (Reddit fullnames, YouTube comment ids, a forum root's
mention id), so a parent is matched by either the listener id or the native id of a thread member.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from listener.model import Mention
from listener.store.base import Store

MAX_THREAD = 500  # mentions read per thread; a page showing more would not be read anyway


@dataclass
class Node:
    mention: Mention
    replies: list["Node"] = field(default_factory=list)


@dataclass
class Thread:
    mention: Mention  # the one asked for
    roots: list[Node]  # the conversation, oldest first; usually one root
    size: int  # mentions in the thread (up to MAX_THREAD)
    truncated: bool  # more than MAX_THREAD: the rest was not read


def thread_of(store: Store, mention: Mention) -> Thread:
    """The conversation around `mention` as the store keeps it (just the mention when it has no thread)."""
    members = store.thread(mention.source, mention.thread_id, MAX_THREAD + 1) if mention.thread_id else []
    truncated = len(members) > MAX_THREAD
    members = members[:MAX_THREAD]
    if mention.id not in {m.id for m in members}:
        members.append(mention)
    return Thread(mention=mention, roots=arrange(members), size=len(members), truncated=truncated)


def arrange(members: list[Mention]) -> list[Node]:
    """Members as a forest: each under its parent when the parent is among them, else a root. Cycles (a
    source that names a reply as its own parent) cannot loop: a node is placed once."""
    members = sorted(members, key=lambda m: m.published_at)
    nodes = {m.id: Node(m) for m in members}
    by_key: dict[str, Node] = {}
    for m in members:
        by_key[m.id] = nodes[m.id]
        if m.native_id:
            by_key.setdefault(m.native_id, nodes[m.id])
    roots: list[Node] = []
    under: dict[str, str] = {}  # child id -> the id of the node it was placed under
    for m in members:
        parent = by_key.get(m.parent_id) if m.parent_id else None
        if parent is not None and not _would_cycle(parent.mention.id, m.id, under):
            parent.replies.append(nodes[m.id])
            under[m.id] = parent.mention.id
        else:
            roots.append(nodes[m.id])
    return roots


def _would_cycle(parent_id: str, child_id: str, under: dict[str, str]) -> bool:
    """Whether placing `child_id` under `parent_id` closes a loop: the parent already sits below the child."""
    current: str | None = parent_id
    while current is not None:
        if current == child_id:
            return True
        current = under.get(current)
    return False
