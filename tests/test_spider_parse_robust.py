"""Parsers meet data of any shape (a site changed its JSON, a template broke): they skip, never raise
anything but MalformedPage."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spiders.parse import MalformedPage
from spiders.parse.appstore import parse_appstore_feed
from spiders.parse.article import posts_from_nodes
from spiders.parse.feeds import parse_feed
from spiders.parse.schemaorg import aggregate_of, reviews_from_nodes
from spiders.parse.trustpilot import parse_trustpilot_page

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["2024-05-01", "۴٫۵", "4,7 su 5", "_:b0", "http://x/r"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["name", "@id", "@type", "label", "ratingValue",
                                                                  "bestRating", "text", "attributes"]), inner,
                                                 max_size=3)), max_leaves=8)
REVIEW_KEYS = ["author", "datePublished", "reviewBody", "name", "reviewRating", "inLanguage", "url", "@id",
               "identifier", "itemReviewed", "comment", "interactionStatistic", "upvoteCount", "text", "headline",
               "position", "commentCount"]
nodes = st.builds(lambda kind, fields: {"@type": [kind], **fields},
                  st.sampled_from(["Review", "Comment", "DiscussionForumPosting", "AggregateRating", "Product"]),
                  st.dictionaries(st.sampled_from(REVIEW_KEYS), values, max_size=8))
quick = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(st.lists(nodes, min_size=1, max_size=3))
def test_schema_org_walkers_never_raise(found):
    reviews_from_nodes(found, "http://127.0.0.1/p", source="review")
    aggregate_of(found)
    posts_from_nodes(found, "http://127.0.0.1/p", source="forum")


@quick
@given(st.dictionaries(st.sampled_from(["id", "title", "text", "rating", "dates", "consumer", "reply", "language",
                                        "likes"]), values), values)
def test_trustpilot_never_raises(review, pagination):
    data = {"props": {"pageProps": {"reviews": [review], "filters": {"pagination": pagination}}}}
    page = f'<html><body><script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script></body></html>'
    try:
        parse_trustpilot_page(page, "http://127.0.0.1/review/x")
    except MalformedPage:
        pass


@quick
@given(st.dictionaries(st.sampled_from(["id", "updated", "im:rating", "title", "content", "author", "im:version",
                                        "im:voteSum"]), values), values)
def test_appstore_never_raises(entry, links):
    body = json.dumps({"feed": {"entry": [entry], "link": links}})
    try:
        parse_appstore_feed(body, app_id="1", country="us", page=1, base="http://127.0.0.1")
    except MalformedPage:
        pass


@quick
@given(st.binary(max_size=300))
def test_feed_parser_never_raises(body):
    try:
        parse_feed(b"<rss><channel><item><link>http://a/x</link>" + body, "http://127.0.0.1/f")
    except MalformedPage:
        pass
