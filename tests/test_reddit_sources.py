"""spiders.sources, the stream/checkpoint helpers the Reddit and YouTube clients share: newest-first walks,
retries with capped backoff, checkpoints that reach the store only on commit."""

import pytest

from spiders.checkpoint import CheckpointStore
from spiders.sources import Checkpoints, Retry, Walk, merge_by_id, retry_after_seconds, take_new


def test_take_new_stops_below_the_checkpoint_minus_the_overlap():
    stamps = [100, 90, 80, 70, 60, 50]
    walk = Walk()
    assert list(take_new(stamps, since=80, overlap=15, when=float, walk=walk)) == [100, 90, 80, 70]
    assert walk.reached_checkpoint and not walk.exhausted and walk.newest == 100 and walk.read == 5


def test_take_new_first_run_and_limits():
    walk = Walk()
    assert list(take_new([3, 2, 1], since=None, when=float, walk=walk)) == [3, 2, 1]
    assert walk.exhausted and not walk.reached_checkpoint
    assert list(take_new(range(100, 0, -1), since=None, when=float, limit=5)) == [100, 99, 98, 97, 96]


def test_retry_backs_off_exponentially_capped_and_honours_retry_after():
    slept, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 5:
            raise ConnectionError("boom")
        return "ok"

    retry = Retry(attempts=5, base=1, cap=4, sleep=slept.append)
    assert retry.call(flaky, lambda e: 10.0 if len(calls) == 4 else 0.0, "x") == "ok"
    assert slept == [1, 2, 4, 10.0] and retry.retries == 4 and retry.waited == 17


def test_retry_gives_up_and_never_retries_permanent_errors():
    retry = Retry(attempts=3, sleep=lambda s: None)
    with pytest.raises(ConnectionError):
        retry.call(lambda: (_ for _ in ()).throw(ConnectionError("down")), lambda e: 0.0, "x")
    assert retry.retries == 2
    with pytest.raises(KeyError):
        retry.call(lambda: {}["missing"], lambda e: None, "x")
    assert retry.retries == 2
    assert Retry(max_wait=5, sleep=lambda s: None).max_wait == 5
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_checkpoints_reach_the_store_only_on_commit(tmp_path):
    store = CheckpointStore(tmp_path / "state.db")
    cp = Checkpoints(store)
    cp.set("reddit:new:x", {"newest": 5})
    cp.mark_seen("reddit", ["t3_a", "t3_b"])
    assert cp.get("reddit:new:x") == {"newest": 5} and cp.unseen("reddit", ["t3_a", "t3_c"]) == ["t3_c"]
    assert store.get("reddit:new:x") is None and store.unseen("reddit", ["t3_a"]) == ["t3_a"]
    cp.discard(["reddit:new:x"])
    cp.commit()
    assert store.get("reddit:new:x") is None and store.unseen("reddit", ["t3_a", "t3_c"]) == ["t3_c"]
    store.close()


def test_merge_by_id_unites_brands():
    from datetime import datetime, timezone

    from listener.model import Mention

    def m(brands):
        return Mention(source="reddit", native_id="t1_x", text="hi", brands=brands,
                       published_at=datetime(2026, 1, 1, tzinfo=timezone.utc))

    [merged] = merge_by_id([m(["A"]), m(["B", "A"])])
    assert merged.brands == ["A", "B"]
