"""The Reddit parse layer on saved answers (tests/fixtures/reddit, shaped like Reddit's recorded traffic), as raw
dicts and as the PRAW objects PRAW makes of them, with no server; and the brand query -> Reddit search translation."""

import json
from datetime import datetime, timezone
from pathlib import Path

import praw
import pytest

from spiders.reddit import (
    parse_comment, parse_comment_tree, parse_listing, parse_submission, search_queries, thing_data,
)

FIXTURES = Path(__file__).parent / "fixtures" / "reddit"


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def offline_reddit():
    """A PRAW client that never connects: only its objector is used, to build real PRAW objects from JSON."""
    return praw.Reddit(client_id="offline", client_secret="offline", user_agent="listener tests",
                       check_for_updates=False)


def test_self_post_becomes_a_mention_with_fullname_permalink_and_counts():
    [post, *_] = parse_listing(load("subreddit_new.json"))
    assert post.source == "reddit" and post.native_id == "t3_1q2w3e" and post.thread_id == "t3_1q2w3e"
    assert post.url == "https://www.reddit.com/r/nimbuswallet/comments/1q2w3e/nimbus_transfer_stuck_on_pending_for_3_days/"
    assert post.title == "Nimbus transfer stuck on pending for 3 days"
    assert post.text.startswith("Sent 200 to my brother")
    assert post.author_name == "quiet_otter_42" and post.author_id
    assert post.published_at == datetime.fromtimestamp(1762074000, tz=timezone.utc)
    assert (post.score, post.replies, post.parent_id) == (14, 6, None)
    assert post.extra["subreddit"] == "nimbuswallet" and post.extra["kind"] == "submission"


def test_link_post_keeps_title_and_linked_url_with_empty_text():
    link = parse_listing(load("subreddit_new.json"))[1]
    assert link.text == "" and link.title == "Nimbus announces card delivery in the UAE"
    assert link.extra["link_url"] == "https://news.example.com/fintech/nimbus-cards-uae"
    assert link.url.startswith("https://www.reddit.com/r/nimbuswallet/comments/1q2w2a/")


def test_deleted_and_removed_posts_keep_their_title_but_no_author_or_text():
    _, _, deleted, removed = parse_listing(load("subreddit_new.json"))
    assert deleted.author_name is None and deleted.author_id is None and deleted.extra["author_deleted"]
    assert deleted.text == "" and deleted.extra["removed"] == "deleted"
    assert removed.text == "" and removed.extra["removed"] == "moderator"
    assert removed.author_name == "throwaway_9911"


def test_deleted_and_removed_comments_are_skipped_and_replies_point_at_their_parent():
    body = load("subreddit_comments.json")
    mentions = parse_listing(body)
    assert [m.native_id for m in mentions] == ["t1_kq0001"]  # [deleted] and [removed] bodies have nothing to read
    [reply] = mentions
    assert reply.parent_id == "t1_kq0000" and reply.thread_id == "t3_1q2w3e" and reply.title is None
    assert reply.extra["thread_title"] == "Nimbus transfer stuck on pending for 3 days"
    assert reply.url == "https://www.reddit.com/r/nimbuswallet/comments/1q2w3e/nimbus_transfer_stuck_on_pending_for_3_days/kq0001/"
    assert parse_comment(body["data"]["children"][1]) is None


def test_comment_tree_is_walked_depth_first_with_brands_and_more_left_out():
    mentions = parse_comment_tree(load("comment_tree.json"), brands=["Nimbus"])
    ids = [m.native_id for m in mentions]
    # the submission, a comment by a deleted account, its reply, and the reply under a deleted comment
    assert ids == ["t3_1q2w3e", "t1_kq0010", "t1_kq0011", "t1_kq0013"]
    assert all(m.brands == ["Nimbus"] for m in mentions)
    by_id = {m.native_id: m for m in mentions}
    assert by_id["t1_kq0010"].author_name is None and by_id["t1_kq0010"].replies == 1
    assert by_id["t1_kq0011"].parent_id == "t1_kq0010" and by_id["t1_kq0011"].replies == 0
    assert by_id["t1_kq0013"].extra["is_submitter"] is True
    assert by_id["t1_kq0013"].extra["thread_title"] == "Nimbus transfer stuck on pending for 3 days"


def test_morechildren_things_parse_like_any_comment():
    things = load("morechildren.json")["json"]["data"]["things"]
    mentions = [parse_comment(t, brands=["Nimbus"]) for t in things]
    assert [m.native_id for m in mentions] == ["t1_kq0014", "t1_kq0015"]
    assert all(m.parent_id == "t3_1q2w3e" and m.brands == ["Nimbus"] for m in mentions)


def test_search_listing_and_empty_listing():
    found = parse_listing(load("search.json"))
    assert [m.native_id for m in found] == ["t3_9z8x7c", "t3_9z8x6b"]
    assert "نیمبوس" in found[0].text
    assert parse_listing(load("empty_listing.json")) == []


def test_ids_are_deterministic_so_a_reingest_updates():
    first = parse_listing(load("subreddit_new.json"))
    again = parse_listing(load("subreddit_new.json"))
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)


def test_praw_objects_parse_like_raw_dicts_without_network(offline_reddit):
    raw = load("subreddit_new.json")
    listing = offline_reddit._objector.objectify(data=load("subreddit_new.json"))
    from_praw = [parse_submission(s) for s in listing.children]
    from_raw = parse_listing(raw)
    strip = lambda m: m.model_dump(exclude={"fetched_at"})  # noqa: E731
    assert [strip(m) for m in from_praw] == [strip(m) for m in from_raw]
    # PRAW turns "[deleted]" into author None; the parse layer reads it back the same way
    assert vars(listing.children[2])["author"] is None and from_praw[2].author_name is None
    comments = offline_reddit._objector.objectify(data=load("subreddit_comments.json"))
    assert [parse_comment(c) and parse_comment(c).native_id for c in comments.children] == ["t1_kq0001", None, None]
    kind, data = thing_data(comments.children[0])
    assert kind == "t1" and data["author"] == "dune_runner" and data["subreddit"] == "nimbuswallet"


# ---------------------------------------------------------------- brand query -> Reddit search


@pytest.mark.parametrize("query, expected", [
    # negations are the matcher's job; Persian letters are searched in Arabic spelling too
    ('(nimbus OR nimbuspay OR "nimbus wallet" OR نیمبوس) -"nimbus 2000" -cloud*',
     ['nimbus OR nimbuspay OR "nimbus wallet" OR نیمبوس OR نيمبوس']),
    ("(orbit NEAR/3 (app OR card)) OR orbitpay", ["(orbit AND (app OR card)) OR orbitpay"]),
    ("acme pay", ["acme AND pay"]),
    ("nimb* lang:fa", ["nimb*"]),
    ("title:(acme OR beta) help", ["(title:acme OR title:beta) AND help"]),
    ('"Kestrel Pay"', ['"kestrel pay"']),
    # the hamza and teh marbuta the normaliser folds are searched as people write them
    ("أوربت", ["اوربت OR أوربت OR إوربت"]),
    ('"محفظة نيمبس"', ['"محفظه نیمبس" OR "محفظه نيمبس" OR "محفظة نيمبس"']),
])
def test_search_queries(query, expected):
    assert search_queries(query) == expected


def test_long_queries_are_split_at_or_alternatives_under_512_characters():
    words = [f"brandword{i}" for i in range(120)]
    queries = search_queries(" OR ".join(words))
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert [w for q in queries for w in q.split(" OR ")] == words
    split_and = search_queries("(" + " OR ".join(words) + ") AND wallet")
    assert all(len(q) <= 512 for q in split_and) and all("wallet" in q for q in split_and)
    assert sum(q.count("brandword") for q in split_and) == 120


@pytest.mark.parametrize("query", ["-cloud", "nimbus OR lang:fa", "source:reddit"])
def test_queries_reddit_cannot_narrow_are_refused(query):
    with pytest.raises(ValueError, match="Reddit search needs words"):
        search_queries(query)
