"""The in-memory query compiler: `DocView` (one document, prepared once) and `compile_matcher` (AST -> predicate).

The pipeline checks every mention against every brand query, so the work is split the cheap way round:
a DocView normalises and indexes a document once (tokens, token -> positions, the set of all tokens),
and compile_matcher turns a query into nested closures once, so a match is a few dict/set lookups.

Semantics are FTS5's, so a mention the pipeline tags with a brand is also found by searching the store
with the same query (tests/test_query_fts5_property.py checks the two agree):
- a word or phrase matches consecutive tokens inside one field (title or body), never across the two;
- a prefix applies to the last token of a phrase only;
- NEAR/n: an instance of each side in the same field with at most n tokens between the end of the
  first and the start of the second, either order, instances allowed to overlap.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Sequence

from listener.query import And, Filter, Near, Node, Not, Or, Term, author_key, register_compiler
from listener.text import normalise, tokens

Matcher = Callable[["DocView"], bool]
_Field = tuple[tuple[str, ...], dict[str, list[int]]]  # (tokens, token -> its positions, ascending)


def _index(words: Sequence[str]) -> dict[str, list[int]]:
    at: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        at.setdefault(word, []).append(position)
    return at


class DocView:
    """One document prepared for matching: normalised title and body tokens with positions, and its metadata.

    Metadata is kept in the form the index stores it (listener.query.sqlite.index_values):
    source, lang and domain lower case; author_key = author_key(author_name).
    """

    __slots__ = ("title", "body", "title_at", "body_at", "words", "fields", "sorted_words", "sorted_title",
                 "source", "lang", "domain", "dotted_domain", "author_key", "author_id")

    def __init__(self, title: str | None = "", body: str | None = "", *, source: str | None = None,
                 lang: str | None = None, domain: str | None = None, author_name: str | None = None,
                 author_id: str | None = None):
        self.title: tuple[str, ...] = tuple(tokens(normalise(title or "")))
        self.body: tuple[str, ...] = tuple(tokens(normalise(body or "")))
        self.title_at = _index(self.title)
        self.body_at = _index(self.body)
        self.words: frozenset[str] = frozenset(self.title_at).union(self.body_at)  # every token, either field
        self.fields: tuple[_Field, ...] = ((self.title, self.title_at), (self.body, self.body_at))
        # Sorted distinct tokens: a prefix query is one binary search instead of a scan of every token.
        self.sorted_words: list[str] = sorted(self.words)
        self.sorted_title: list[str] = sorted(self.title_at)
        self.source = source.lower() if source else None
        self.lang = lang.lower() if lang else None
        self.domain = domain.lower() if domain else None
        # "." + domain, so `site:acme.com` is one endswith(".acme.com") for acme.com and its subdomains.
        self.dotted_domain = "." + (self.domain or "")
        self.author_key = author_key(author_name) if author_name else None
        self.author_id = author_id

    @classmethod
    def from_mention(cls, mention) -> "DocView":
        """The view of a listener.model.Mention (title and text are its two text fields)."""
        return cls(mention.title, mention.text, source=mention.source, lang=mention.lang, domain=mention.domain,
                   author_name=mention.author_name, author_id=mention.author_id)

    def __repr__(self) -> str:
        return f"DocView(title={' '.join(self.title)!r}, body={' '.join(self.body)!r}, source={self.source!r})"


@register_compiler("matcher")
def compile_matcher(node: Node) -> Matcher:
    """A predicate DocView -> bool for the query tree (compiled once, call it for every document)."""
    return _compile(node)


# ---------------------------------------------------------------- phrase instances


def _has_prefix(sorted_words: list[str], prefix: str) -> bool:
    i = bisect_left(sorted_words, prefix)  # the first token >= prefix is the only candidate needed
    return i < len(sorted_words) and sorted_words[i].startswith(prefix)


def _phrase_starts(field: _Field, term: Term) -> list[int]:
    """Start positions of the term's instances in one field (ascending)."""
    words, at = field
    first, size = term.tokens[0], len(term.tokens)
    if size == 1:
        if not term.prefix:
            return at.get(first, [])
        return sorted(p for word, ps in at.items() if word.startswith(first) for p in ps)
    last, middle = term.tokens[-1], term.tokens[1:-1]
    limit = len(words) - size
    out = []
    for start in at.get(first, ()):
        if start > limit:
            break
        end = start + size - 1
        if words[start + 1:end] == middle and (words[end].startswith(last) if term.prefix else words[end] == last):
            out.append(start)
    return out


def _near_in(field: _Field, left: tuple[Term, ...], right: tuple[Term, ...], distance: int) -> bool:
    lefts = [(p, len(t.tokens)) for t in left for p in _phrase_starts(field, t)]
    if not lefts:
        return False
    rights = [(q, len(t.tokens)) for t in right for q in _phrase_starts(field, t)]
    for p, p_size in lefts:
        for q, q_size in rights:
            # tokens between the end of the earlier instance and the start of the later one
            gap = q - p - p_size if p <= q else p - q - q_size
            if gap <= distance:
                return True
    return False


# ---------------------------------------------------------------- compile


def _cost(node: Node) -> int:
    """A rough price of evaluating a node, so AND/OR try the cheap children first and short-circuit."""
    if isinstance(node, Or) and all(_is_word(child) for child in node.children):
        return 1  # one set test, see _any
    if isinstance(node, Filter):
        return 0
    if isinstance(node, Term):
        return 1 if len(node.tokens) == 1 and not node.prefix else 3
    if isinstance(node, Near):
        return 6
    if isinstance(node, Not):
        return _cost(node.child)
    return sum(_cost(child) for child in node.children)


def _compile(node: Node) -> Matcher:
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Near):
        left, right, distance = node.left, node.right, node.distance
        if left[0].field == "title":
            return lambda d: _near_in(d.fields[0], left, right, distance)
        return lambda d: _near_in(d.fields[0], left, right, distance) or _near_in(d.fields[1], left, right, distance)
    if isinstance(node, Filter):
        return _filter(node)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda d: not inner(d)
    if isinstance(node, And):
        # Positive children first: they are what a document usually fails (most mentions are not about the
        # brand), so the AND stops early; an excluded word (-cloud*) is usually absent and rarely decides.
        order = sorted(node.children, key=lambda child: (isinstance(child, Not), _cost(child)))
        return _all([_compile(child) for child in order])
    if isinstance(node, Or):
        return _any(node.children)
    raise TypeError(f"not a query node: {node!r}")


def _term(term: Term) -> Matcher:
    first = term.tokens[0]
    title_only = term.field == "title"
    if len(term.tokens) == 1 and not term.prefix:
        if title_only:
            return lambda d: first in d.title_at
        return lambda d: first in d.words
    if len(term.tokens) == 1:
        if title_only:
            return lambda d: _has_prefix(d.sorted_title, first)
        return lambda d: _has_prefix(d.sorted_words, first)
    if title_only:
        return lambda d: bool(_phrase_starts(d.fields[0], term))
    return lambda d: bool(_phrase_starts(d.fields[0], term)) or bool(_phrase_starts(d.fields[1], term))


def _filter(node: Filter) -> Matcher:
    value = node.value
    if node.name == "site":
        suffix = "." + value
        return lambda d: d.dotted_domain.endswith(suffix)
    if node.name == "lang":
        return lambda d: d.lang == value
    if node.name == "source":
        return lambda d: d.source == value
    if node.name == "author":
        key = author_key(value)
        return lambda d: d.author_key == key or d.author_id == value
    raise ValueError(f"unknown filter field {node.name!r}")


def _all(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 2:  # the common case, without a loop
        a, b = matchers
        return lambda d: a(d) and b(d)

    def every(d: DocView) -> bool:
        for matcher in matchers:
            if not matcher(d):
                return False
        return True

    return every


def _is_word(node: Node) -> bool:
    return isinstance(node, Term) and len(node.tokens) == 1 and not node.prefix and node.field is None


def _any(children: tuple[Node, ...]) -> Matcher:
    # Brand queries are mostly ORs of spellings ("nimbus OR nimbuspay OR نیمبوس"): single words anywhere
    # become one set-disjointness test in C instead of one closure call each.
    words = frozenset(c.tokens[0] for c in children if _is_word(c))
    rest = [_compile(c) for c in sorted(children, key=_cost) if not _is_word(c)]
    if words:
        rest.insert(0, lambda d: not words.isdisjoint(d.words))
    if len(rest) == 1:
        return rest[0]
    if len(rest) == 2:
        a, b = rest
        return lambda d: a(d) or b(d)

    def some(d: DocView) -> bool:
        for matcher in rest:
            if matcher(d):
                return True
        return False

    return some

