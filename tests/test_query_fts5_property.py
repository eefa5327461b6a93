"""Property test: the in-memory matcher and the FTS5 compiler select the same mentions for any query.

Random small documents over a tiny mixed vocabulary (English, Persian, Arabic, with variant spellings,
ZWNJ, harakat, tatweel, Persian/Arabic digits, punctuation) are loaded into an in-memory SQLite with
SCHEMA_SQL; random query trees are rendered to strings and parsed back (round trip), then compiled both
ways. The vocabulary is small on purpose, so phrases, prefixes and NEAR hit often enough to matter.
"""

import random
import sqlite3
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener.model import Mention, make_author_id
from listener.query import COMPILERS, And, Filter, Near, Not, Or, Term, parse, render
from listener.query.matcher import DocView, compile_matcher
from listener.query.sqlite import SCHEMA_SQL, compile_sqlite, highlight_terms, index_values, rank_match
from listener.text import normalise_term

# Raw words as people type them; several spellings fold to one token, some words are two tokens.
RAW_WORDS = [
    "acme", "ACME", "Acmé", "acmes", "pay", "PAY", "payment", "e-mail", "mail", "email",
    "کتاب", "كتاب", "کتاب‌ها", "کتابخانه", "ها", "أَحْمَد", "احمد", "إحمد",
    "مدرسة", "مدرسه", "۱۲", "١٢", "12", "نیـــمبوس", "نيمبوس", "10:30", "!", "،",
]
TOKENS = sorted({token for word in RAW_WORDS for token in normalise_term(word)})
AUTHORS = [None, "Ahmad", "أحمد", "احمد ", "John_Doe", "john doe"]
SITES = ["acme.com", "blog.acme.com", "notacme.com", "com"]
QUERY_AUTHORS = ["Ahmad", "احمد", "أَحمد", "John_Doe", "JOHN DOE", make_author_id("reddit", "Ahmad")]

words = st.lists(st.sampled_from(RAW_WORDS), max_size=8).map(" ".join)
mentions = st.builds(
    lambda i, title, body, source, lang, domain, author: Mention(
        source=source, native_id=str(i), title=title or None, text=body or "!", lang=lang, domain=domain,
        author_name=author, published_at=datetime(2026, 1, 1, tzinfo=timezone.utc)),
    st.integers(), words, st.lists(st.sampled_from(RAW_WORDS), max_size=14).map(" ".join),
    st.sampled_from(["reddit", "Trustpilot"]), st.sampled_from([None, "en", "fa", "ar"]),
    st.sampled_from([None, "acme.com", "blog.acme.com", "notacme.com", "Acme.COM"]), st.sampled_from(AUTHORS))


@st.composite
def terms(draw, field=None):
    size = draw(st.sampled_from([1, 1, 1, 2, 2, 3]))  # mostly words and pairs, so they occur in documents
    tokens = [draw(st.sampled_from(TOKENS)) for _ in range(size)]
    prefix = draw(st.booleans())
    if prefix:  # the last token becomes a (possibly whole) prefix of itself
        last = tokens[-1]
        tokens[-1] = last[: draw(st.integers(1, len(last)))]
    return Term(tuple(tokens), prefix, field)


@st.composite
def nears(draw):
    field = draw(st.sampled_from([None, None, "title"]))
    side = st.lists(terms(field), min_size=1, max_size=2).map(tuple)
    return Near(draw(side), draw(side), draw(st.integers(0, 4)))


filters = st.one_of(
    st.sampled_from(SITES).map(lambda v: Filter("site", v)),
    st.sampled_from(["en", "fa", "ar"]).map(lambda v: Filter("lang", v)),
    st.sampled_from(["reddit", "trustpilot"]).map(lambda v: Filter("source", v)),
    st.sampled_from(QUERY_AUTHORS).map(lambda v: Filter("author", v)),
)
leaves = st.one_of(terms(), terms("title"), nears(), filters)
queries = st.recursive(leaves, lambda inner: st.one_of(
    inner.map(Not),
    st.lists(inner, min_size=2, max_size=3).map(lambda c: And.of(*c)),
    st.lists(inner, min_size=2, max_size=3).map(lambda c: Or.of(*c)),
), max_leaves=8)


def random_mention(rng: random.Random, i: int) -> Mention:
    """A mention like the `mentions` strategy draws, from a seeded generator (for the fixed corpus)."""
    return Mention(source=rng.choice(["reddit", "Trustpilot"]), native_id=str(i),
                   title=" ".join(rng.choices(RAW_WORDS, k=rng.randint(0, 6))) or None,
                   text=" ".join(rng.choices(RAW_WORDS, k=rng.randint(1, 16))),
                   lang=rng.choice([None, "en", "fa", "ar"]), domain=rng.choice(SITES + [None, "Acme.COM"]),
                   author_name=rng.choice(AUTHORS), published_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def load(docs: list[Mention]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA_SQL)
    for rowid, mention in enumerate(docs, 1):
        v = index_values(mention)
        db.execute("INSERT INTO mentions (rowid, id, source, lang, domain, author_key, author_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (rowid, f"{rowid}", v["source"], v["lang"], v["domain"], v["author_key"], v["author_id"]))
        db.execute("INSERT INTO mentions_fts (rowid, title, body) VALUES (?, ?, ?)", (rowid, v["title"], v["body"]))
    return db


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(mentions, min_size=1, max_size=12), query=queries)
def test_matcher_and_fts5_agree(docs, query):
    text = render(query)
    assert parse(text) == query, text  # round trip: the rendered string parses back to the same tree

    matches = compile_matcher(query)
    expected = {rowid for rowid, m in enumerate(docs, 1) if matches(DocView.from_mention(m))}
    sql, params = compile_sqlite(query)
    with load(docs) as db:
        got = {row[0] for row in db.execute(f"SELECT m.rowid FROM mentions m WHERE {sql}", params)}
    assert got == expected, f"query {text!r}\nsql {sql}\nparams {params}"


# The same check on one larger fixed corpus: each query meets many more documents, so boundaries
# (NEAR/n at exactly n, a phrase whose last word only starts the document's word) are hit often.
_rng = random.Random(7)
CORPUS = [random_mention(_rng, i) for i in range(250)]
CORPUS_VIEWS = [DocView.from_mention(m) for m in CORPUS]
CORPUS_DB = load(CORPUS)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries)
def test_matcher_and_fts5_agree_on_a_fixed_corpus(query):
    matches = compile_matcher(query)
    expected = {rowid for rowid, view in enumerate(CORPUS_VIEWS, 1) if matches(view)}
    sql, params = compile_sqlite(query)
    got = {row[0] for row in CORPUS_DB.execute(f"SELECT m.rowid FROM mentions m WHERE {sql}", params)}
    assert got == expected, f"query {render(query)!r}\nsql {sql}\nparams {params}"


def test_every_registered_compiler_has_an_agreement_test():
    # A new compiler must be checked against the matcher the same way as FTS5 is (the Elasticsearch one:
    # tests/test_query_elastic.py). Import every built-in one first, so the answer does not depend on
    # which tests ran before.
    import pkgutil

    import listener.query

    for module in pkgutil.iter_modules(listener.query.__path__):
        __import__(f"listener.query.{module.name}")
    assert set(COMPILERS) == {"matcher", "sqlite", "elastic"}, "add an agreement test for the new compiler, then list it here"


def only_text(node) -> bool:
    if isinstance(node, (Term, Near)):
        return True
    return isinstance(node, (And, Or)) and all(only_text(child) for child in node.children)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(query=queries)
def test_rank_match_is_valid_fts5_and_ranks_every_text_match(query):
    rank = rank_match(query)
    if rank is None:
        assert not highlight_terms(query)
        return
    ranked = {row[0] for row in CORPUS_DB.execute(
        "SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ? ORDER BY bm25(mentions_fts)", [rank])}
    if only_text(query):  # with no NOT and no filter, a match needs one of the ranked terms
        matches = compile_matcher(query)
        assert {rowid for rowid, view in enumerate(CORPUS_VIEWS, 1) if matches(view)} <= ranked


def test_one_match_per_text_part_and_quoted_tokens():
    sql, params = compile_sqlite(parse('(nimbus OR "nimbus wallet" OR نیمبوس) -"nimbus 2000" -cloud* lang:fa'))
    assert sql.count("MATCH ?") == 1 and params == [
        '(("nimbus" OR "nimbus wallet" OR "نیمبوس") NOT ("nimbus 2000" OR "cloud"*))', "fa"]
    # words that are FTS5 syntax are only ever strings
    sql, params = compile_sqlite(parse('"NEAR" title:"title" "AND"'))
    assert params == ['("near" AND (title : "title") AND "and")']
    sql, params = compile_sqlite(parse("-a -b -site:x.com"), alias="t")
    assert sql.startswith("(t.rowid NOT IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?))")
    assert params == ['("a" OR "b")', "%.x.com"]


def test_rank_match_and_highlight_terms():
    query = parse('(nimbus OR "nimbus wallet" OR title:pay*) -cloud* -(-refund) site:acme.com')
    assert rank_match(query) == '"nimbus" OR "nimbus wallet" OR (title : "pay"*) OR "refund"'
    assert highlight_terms(query) == [(("nimbus",), False), (("nimbus", "wallet"), False), (("pay",), True),
                                      (("refund",), False)]
    assert rank_match(parse("-nimbus site:acme.com")) is None


def test_site_values_are_not_like_wildcards():
    docs = [Mention(source="web", native_id=str(i), text="x", domain=domain,
                    published_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
            for i, domain in enumerate(["my_site.com", "myxsite.com", "a.my_site.com"], 1)]
    sql, params = compile_sqlite(parse("site:my_site.com"))
    with load(docs) as db:
        assert {r[0] for r in db.execute(f"SELECT m.rowid FROM mentions m WHERE {sql}", params)} == {1, 3}
