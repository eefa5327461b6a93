"""`listener es migrate`: move an Elasticsearch store to this listener's schema version, reads never stopping.

The store's name (the index in LISTENER_STORE) is an alias over `<name>-v<N>`. Migrating:
1. creates `<name>-v<SCHEMA_VERSION>` with the current mapping, set up for a bulk copy (no replicas, no refresh);
2. makes the old index read-only (`index.blocks.write`), so nothing written during the copy is lost: writers
   get WriteFailed and retry their batch later (the Celery tasks retry; upserts are idempotent);
3. copies every mention, rebuilding each document from the stored Mention (`doc`) with the current code, so
   a change of indexed fields migrates as well as a change of mapping;
4. restores replicas and refresh, checks the counts match, and switches the alias to the new index in one
   atomic `_aliases` call; an old index that was a concrete index under the store's name (schema 1) is
   removed in that same call, since an alias cannot share its name.
Searches keep reading the old index until the switch. On any failure before the switch the old index is
made writable again and the half-built new one is left for inspection (a re-run deletes and rebuilds it).
"""

from __future__ import annotations

import json
import logging
from typing import Callable

from listener.model import Mention
from listener.store.base import StoreError
from listener.store.elastic import MAPPINGS, SCHEMA_VERSION, SETTINGS, ElasticStore, index_document
from listener.store.elastic_connect import client_options

log = logging.getLogger(__name__)


class MigrationFailed(StoreError):
    """The copy could not be completed; the old index is unchanged and writable again."""


def migrate(url: str, *, delete_old: bool = False, batch_size: int = 1000,
            progress: Callable[[int], None] | None = None, store: ElasticStore | None = None) -> dict:
    """Migrate the store at `url` (see the module docstring); returns what was done."""
    from elasticsearch import helpers

    if store is None:
        name, options = client_options(url)
        store = ElasticStore(name, create=False, check_schema=False, **options)
    client, name = store.client, store.index
    with store._errors():
        exists = client.indices.exists(index=name)
    if not exists:
        store.create_index()
        return {"index": name, "status": "created", "schema": SCHEMA_VERSION, "copied": 0}
    versions = store.schema_versions()
    if versions and all(v == SCHEMA_VERSION for v in versions.values()):
        return {"index": name, "status": "up to date", "schema": SCHEMA_VERSION, "copied": 0}
    old = sorted(versions)
    alias = old != [name]  # schema 1 stores are a concrete index under the name itself
    new = store.concrete_index()
    with store._errors():
        if client.indices.exists(index=new) and new not in old:
            client.indices.delete(index=new)  # left by an interrupted run
        bulk_settings = {**SETTINGS, "number_of_replicas": 0, "refresh_interval": "-1"}
        client.indices.create(index=new, settings=bulk_settings, mappings=MAPPINGS)
        client.indices.put_settings(index=",".join(old), settings={"index.blocks.write": True})
    copied = 0
    try:
        with store._errors():
            expected = int(client.count(index=",".join(old))["count"])
            for batch in _batches(client, old, batch_size):
                actions = [{"_op_type": "index", "_index": new, "_id": hit["_id"],
                            "_source": index_document(Mention.from_json(json.dumps(hit["_source"]["doc"])))}
                           for hit in batch]
                try:
                    helpers.bulk(client, actions, max_retries=5, initial_backoff=store.initial_backoff)
                except helpers.BulkIndexError as err:
                    first = next(iter(err.errors[0].values())) if err.errors else {}
                    reason = (first.get("error") or {}) if isinstance(first.get("error"), dict) else {}
                    raise MigrationFailed(
                        f"{len(err.errors)} mention(s) could not be copied into {new!r} (e.g. {first.get('_id')}: "
                        f"{reason.get('type', 'error')}: {reason.get('reason', '')}); the old index is unchanged "
                        f"and writable again") from None
                copied += len(actions)
                if progress:
                    progress(copied)
            client.indices.put_settings(index=new, settings={"number_of_replicas": SETTINGS["number_of_replicas"],
                                                             "refresh_interval": SETTINGS["refresh_interval"]})
            client.indices.refresh(index=new)
            stored = int(client.count(index=new)["count"])
        if stored != expected:
            raise MigrationFailed(f"copied {stored} of {expected} mentions into {new!r}; the old index is unchanged")
        actions = [{"add": {"index": new, "alias": name, "is_write_index": True}}]
        if alias:
            actions = [{"remove": {"index": index, "alias": name}} for index in old] + actions
        else:
            actions.insert(0, {"remove_index": {"index": name}})
        with store._errors():
            client.indices.update_aliases(actions=actions)
    except BaseException:
        with store._errors():
            client.indices.put_settings(index=",".join(old), settings={"index.blocks.write": False})
        raise
    deleted: list[str] = [] if alias else list(old)
    if alias and delete_old:
        with store._errors():
            client.indices.delete(index=",".join(old))
        deleted = list(old)
    log.info("migrated %s: %d mentions from %s into %s", name, copied, old, new)
    return {"index": name, "status": "migrated", "schema": SCHEMA_VERSION, "from": old, "to": new,
            "copied": copied, "deleted": deleted}


def _batches(client, indices: list[str], size: int):
    """Every document of the old indices, `size` at a time, in _id order (search_after: flat memory)."""
    after = None
    while True:
        extra = {"search_after": after} if after is not None else {}
        response = client.search(index=",".join(indices), query={"match_all": {}}, sort=[{"id": "asc"}],
                                 size=size, source_includes=["doc"], track_total_hits=False, **extra)
        hits = response["hits"]["hits"]
        if hits:
            yield hits
        if len(hits) < size:
            return
        after = hits[-1]["sort"]
