"""Keeping what people wrote private on disk: owner-only folders and files, and finding one person's posts.

The data folder holds other people's words, names and author ids; on a shared machine nobody but its owner
should read it. Folders and databases listener creates are made owner-only; ones a user created already
keep the permissions the user gave them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) readable by its owner only; an existing folder is left as it is."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask; chmod is not
    return path


def private_file(path: str | Path) -> Path:
    """Create an empty `path` readable by its owner only, unless it exists. SQLite gives the -wal and -shm
    files it makes beside a database the database file's permissions, so this covers those too."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)
    return path


def author_name_query(name: str) -> str:
    """The query language's `author:"NAME"` for a name as a person posts under it (matched the way search
    matches authors: case, accents and letter variants folded), across every source."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValueError("the author name is empty")
    if '"' in cleaned:
        raise ValueError("an author name with a double quote cannot be matched by name; use --author ID "
                         "(the ids are in `listener search 'author:...' --json`)")
    return f'author:"{cleaned}"'


def authors_named(store, name: str) -> list[dict]:
    """Every author id that posted under `name` (one person has a different id on each source), with the
    source, the names seen and how many mentions each has: the preview before forgetting by name."""
    from listener.store.base import Filters

    found: dict[str, dict] = {}
    for mention in store.iter_mentions(Filters(query=author_name_query(name), include_duplicates=True)):
        entry = found.setdefault(mention.author_id or "", {"author_id": mention.author_id, "source": mention.source,
                                                           "names": [], "mentions": 0})
        entry["mentions"] += 1
        if mention.author_name and mention.author_name not in entry["names"]:
            entry["names"].append(mention.author_name)
    # an id can hold more posts than the ones under this name (the person renamed): forgetting takes them all
    return [entry for key, entry in found.items() if key]


def forget_authors(store, author_ids: list[str]) -> int:
    """Delete everything of these author ids; how many mentions were removed."""
    return sum(store.forget_author(author_id) for author_id in author_ids)
