"""Real Celery workers storing into Elasticsearch (tests/fake_elastic.py's server: no Elasticsearch can be
installed here): every mention sent ends up in the index exactly once, under its deterministic id, though
batches are sent twice and one of the two workers is SIGKILLed mid-run."""

from __future__ import annotations

import pytest

from fake_elastic import FakeElasticsearch, Response
from tests.celery_harness import Worker, mentions, producer, send_batches, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TOTAL = 2_000
BATCH = 20
INDEX = "listener-workers"


class FingerprintingElasticsearch(FakeElasticsearch):
    """The fake, plus the one search the pipeline makes before storing: originals sharing a fingerprint band
    (ElasticStore.find_fingerprints: a terms filter on `bands`, no `duplicate_of`, sorted by published_at
    and id, paged with search_after)."""

    def _default(self, r):
        parts = [p for p in r.path.strip("/").split("/") if p]
        query = r.body.get("query", {}).get("bool", {}) if isinstance(r.body, dict) else {}
        terms = [f["terms"]["bands"] for f in query.get("filter", []) if "bands" in f.get("terms", {})]
        if r.method in ("GET", "POST") and len(parts) == 2 and parts[1] == "_search" and terms:
            wanted = set(terms[0])
            docs = sorted(((d["published_at"], d["id"]), i, d) for n in self.resolve(parts[0])
                          for i, d in list(self.indices[n]["docs"].items())
                          if wanted & set(d.get("bands", ())) and not d.get("duplicate_of"))
            after = tuple(r.body.get("search_after") or ())
            docs = [item for item in docs if not after or item[0] > after][:int(r.body.get("size", 10))]
            hits = [{"_index": parts[0], "_id": i, "_score": None, "_source": {"doc": d["doc"]}, "sort": list(key)}
                    for key, i, d in docs]
            return Response(200, {"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits),
                                                                                    "relation": "eq"},
                                                                          "max_score": None, "hits": hits}})
        return super()._default(r)


def test_workers_store_every_mention_in_elasticsearch_exactly_once(tmp_path, redis_url):
    import redis

    from listener.model import Mention
    from workers import ledger
    from workers.status import queue_depths

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    items = mentions(TOTAL, seed=11, prefix="es")
    expected = {Mention.model_validate(item).id for item in items}
    with FingerprintingElasticsearch() as server:
        env = worker_env(tmp_path, redis_url, LISTENER_STORE=server.store_url(INDEX))
        docs = lambda: {i: d for n in server.resolve(INDEX) for i, d in server.indices[n]["docs"].items()}  # noqa: E731
        first = Worker(env, tmp_path / "es1.log", name="es1")
        second = Worker(env, tmp_path / "es2.log", name="es2")
        try:
            first.wait_ready(), second.wait_ready()
            app = producer(env)
            send_batches(app, items, BATCH)
            # the first tenth again, as a redelivery or the ledger's reconciliation would send it
            send_batches(app, items[:TOTAL // 10], BATCH)
            try:
                wait_for(lambda: len(docs()) >= TOTAL // 4, 30, "a quarter of the mentions indexed")
            except TimeoutError as err:
                raise AssertionError(f"{err}: errors {server.errors[:3]}\n{first.log()}") from None
            # what it held comes back to the second after the visibility timeout; a message it had just popped
            # and not yet recorded as unacknowledged (kombu's BRPOP window opens on a worker's death too) is
            # sent again by the ledger's reconciliation, run here as beat runs it, every second instead of
            # every minute
            first.kill()
            assert len(docs()) < TOTAL, "the run ended before the kill: nothing was tested"

            def drained() -> bool:
                ledger.reconcile(app, client, overdue_after=int(env["LISTENER_VISIBILITY_TIMEOUT"]))
                return (len(docs()) == TOTAL and not any(queue_depths(client).values())
                        and not client.hlen("unacked") and not ledger.pending(client))

            try:
                wait_for(drained, 180, "the second worker to finish the run", interval=1)
            except TimeoutError as err:
                raise AssertionError(f"{err}: {len(docs())} indexed, queues {queue_depths(client)}, "
                                     f"errors {server.errors[:3]}\n{second.log()}") from None
        finally:
            if first.proc.poll() is None:
                first.kill()
            second.stop()
            client.flushdb()
            client.close()
        assert not server.errors
        indexed = docs()
        assert set(indexed) == expected  # every mention, under its deterministic id, nothing else
        assert all(d["id"] == i and d["brands"] == ["Acme"] and d["duplicate_of"] is None
                   for i, d in indexed.items())
        # the run really went through Elasticsearch's bulk API, some ids more than once (sent twice, or
        # redone after the kill), and each landed on the same document
        written = [line["index"]["_id"] for call in server.calls("POST", r"/_bulk$") + server.calls("PUT", r"/_bulk$")
                   for line in call.body[::2]]
        assert len(written) >= TOTAL + TOTAL // 10 and set(written) == expected
