"""The Elasticsearch compiler: query tree -> one Elasticsearch query DSL clause (a dict).

The index contract (listener.store.elastic.MAPPINGS creates it; `index_fields` fills it):

- `title`, `body`: text fields holding ``" ".join(tokens(normalise(text)))`` and analysed by a custom
  analyzer that is a whitespace tokenizer and nothing else. Normalising and tokenising happen in Python
  (listener.text), on both sides, exactly as for the matcher and FTS5, so an Elasticsearch token IS one
  of our tokens: no stemming, lower-casing or folding by Elasticsearch that could disagree with them.
- `source`, `lang`, `domain`, `author_key`, `author_id`: keyword fields, values as
  listener.query.sqlite.index_values gives them (lower case; author_key(author_name)).
- `domain_parts`: keyword array of every dot-suffix of the domain ("a.b.com", "b.com", "com"), so
  `site:b.com` (the domain or any subdomain of it) is one `term` query instead of a wildcard.

How each node compiles, and why:
- Term without prefix -> `match_phrase` (one token is then a term query): exact under the whitespace
  analyzer, and it scores by BM25 for relevance sorting.
- Term with prefix -> one token: `prefix` (exact, no expansion limit); several tokens: `span_near`
  (slop 0, in order) of `span_term`s ending in `span_multi` over a `prefix`, because match_phrase_prefix
  only expands the last token to `max_expansions` (50) terms and so silently misses documents.
- A Term without `field` may match either field: a `bool` `should` over title and body. Phrases never
  cross from title into body because they are separate fields.
- Near -> `span_near` with `slop` = distance and `in_order` false; each side a span (or `span_or` of the
  alternatives). For two spans Lucene's unordered slop is (match width) - (sum of the span lengths),
  i.e. the tokens between the end of the earlier instance and the start of the later one, and it lets
  the two overlap: the matcher's NEAR/n exactly.
- Filter -> `term` on the keyword fields, wrapped in a `bool` `filter` so it scores 0: a document that
  matches only through a filter (`acme OR site:x`) ranks after the text matches, as in the SQLite store.
  `author:` is author_key(value) on author_key OR value on author_id, as in the other compilers.
- Not -> `bool` `must_not` (alone it means "everything but"), And -> `bool` `must` (filters in `filter`),
  Or -> `bool` `should` with `minimum_should_match` 1.

Ranking: top-level clauses on `title` carry a boost equal to the SQLite store's bm25 title weight
(FIELD_BOOST), so a word in the title counts double in both back ends.

Limits: the text fields index prefixes of 1..10 characters (`index_prefixes` in the mapping), so a prefix
inside a phrase or NEAR (`span_multi`) is one term on the prefix field, never an expansion; only a prefix
longer than 10 characters expands, and if the server still refuses (too_many_clauses) the store raises
QueryRejected with a message, never a traceback.
"""

from __future__ import annotations

from listener.query import And, Filter, Near, Node, Not, Or, Term, author_key, register_compiler
from listener.store.sqlite import BM25_WEIGHTS
from listener.text import normalise, tokens

TEXT_FIELDS = ("title", "body")
#: a word in the title weighs as in the SQLite store (its bm25 column weights), so both rank alike
FIELD_BOOST = {"title": BM25_WEIGHTS[0] / BM25_WEIGHTS[1], "body": 1.0}


def domain_parts(domain: str | None) -> list[str]:
    """Every dot-suffix of a (lower-case) domain, longest first: what `site:` compares against."""
    if not domain:
        return []
    labels = domain.lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def index_fields(mention) -> dict:
    """The query-relevant fields of one Mention, as the index stores them (see the module docstring)."""
    from listener.query.sqlite import index_values  # the one definition of the metadata values

    values = index_values(mention)
    return {
        "source": values["source"],
        "lang": values["lang"],
        "domain": values["domain"],
        "domain_parts": domain_parts(values["domain"]),
        "author_key": values["author_key"],
        "author_id": values["author_id"],
        "title": " ".join(tokens(normalise(mention.title or ""))),
        "body": " ".join(tokens(normalise(mention.text or ""))),
    }


@register_compiler("elastic")
def compile_elastic(node: Node) -> dict:
    """One Elasticsearch query clause (a dict for `query=`) selecting what the query tree matches."""
    if isinstance(node, Term):
        return _on_fields(_fields(node.field), lambda field: _term(node, field))
    if isinstance(node, Near):
        return _on_fields(_fields(node.left[0].field), lambda field: _near(node, field))
    if isinstance(node, Filter):
        return {"bool": {"filter": [_filter(node)]}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_elastic(node.child)]}}
    if isinstance(node, And):
        must = [compile_elastic(c) for c in node.children if not isinstance(c, Filter)]
        filters = [_filter(c) for c in node.children if isinstance(c, Filter)]
        clause: dict = {}
        if must:
            clause["must"] = must
        if filters:
            clause["filter"] = filters
        return {"bool": clause}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_elastic(c) for c in node.children], "minimum_should_match": 1}}
    raise TypeError(f"not a query node: {node!r}")


def _fields(field: str | None) -> tuple[str, ...]:
    return ("title",) if field == "title" else TEXT_FIELDS


def _on_fields(fields: tuple[str, ...], build) -> dict:
    if len(fields) == 1:
        return build(fields[0])
    return {"bool": {"should": [build(f) for f in fields], "minimum_should_match": 1}}


def _boost(field: str) -> dict:
    """The boost of a top-level clause on `field` (none for weight 1: the DSL stays as short as before)."""
    return {"boost": FIELD_BOOST[field]} if FIELD_BOOST[field] != 1.0 else {}


def _term(term: Term, field: str) -> dict:
    if not term.prefix:
        return {"match_phrase": {field: {"query": " ".join(term.tokens), **_boost(field)}}}
    if len(term.tokens) == 1:
        return {"prefix": {field: {"value": term.tokens[0], **_boost(field)}}}
    return {"span_near": {**_span(term, field)["span_near"], **_boost(field)}}


def _span(term: Term, field: str) -> dict:
    """The term as a span query (for NEAR, and for phrases ending in a prefix)."""
    clauses = [{"span_term": {field: token}} for token in term.tokens]
    if term.prefix:
        clauses[-1] = {"span_multi": {"match": {"prefix": {field: {"value": term.tokens[-1]}}}}}
    if len(clauses) == 1:
        return clauses[0]
    return {"span_near": {"clauses": clauses, "slop": 0, "in_order": True}}


def _side(terms: tuple[Term, ...], field: str) -> dict:
    spans = [_span(term, field) for term in terms]
    return spans[0] if len(spans) == 1 else {"span_or": {"clauses": spans}}


def _near(node: Near, field: str) -> dict:
    return {"span_near": {"clauses": [_side(node.left, field), _side(node.right, field)],
                          "slop": node.distance, "in_order": False, **_boost(field)}}


def _filter(node: Filter) -> dict:
    if node.name == "site":
        return {"term": {"domain_parts": node.value}}
    if node.name in ("lang", "source"):
        return {"term": {node.name: node.value}}
    if node.name == "author":
        return {"bool": {"should": [{"term": {"author_key": author_key(node.value)}},
                                    {"term": {"author_id": node.value}}], "minimum_should_match": 1}}
    raise ValueError(f"unknown filter field {node.name!r}")
