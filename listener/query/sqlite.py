"""The SQLite compiler: query tree -> SQL WHERE fragment over FTS5, plus the schema and row values it assumes.

The schema contract (SCHEMA_SQL below; the store creates these, and may add columns of its own to
`mentions`, which the query never reads):

    CREATE TABLE mentions (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,  -- lower case
        lang TEXT,             -- lower case ISO code, or NULL
        domain TEXT,           -- lower-case host (listener.pipeline strips "www."), or NULL
        author_key TEXT,       -- listener.query.author_key(author_name), or NULL without a name
        author_id TEXT);
    CREATE VIRTUAL TABLE mentions_fts USING fts5(title, body, tokenize='unicode61 remove_diacritics 0');
        -- rowid = mentions.rowid; title = normalise(title), body = normalise(text)

`index_values(mention)` gives exactly these values for one Mention, normalised the way DocView
normalises, so the store and the in-memory matcher cannot drift apart.

`compile_sqlite(node)` returns `(sql, params)`, a boolean expression over the alias (default `m`) with
`?` placeholders, for `SELECT ... FROM mentions m WHERE <sql>`. Every maximal text-only part of the
query becomes ONE `m.rowid IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?)`, so FTS5
does the boolean work on its posting lists; NOT on its own, and mixes with field filters, are SQL.
Every FTS5 token is sent as a quoted string ("..."), so nothing a user types is FTS5 syntax. Every
predicate is NULL-free (IS, ifnull), so NOT is plain two-valued logic, as in the matcher.

Ordering by relevance: `rank_match(node)` is a MATCH string of the positive terms; join it as optional,
since a row can match the query through a filter alone:

    SELECT m.* FROM mentions m
    LEFT JOIN (SELECT rowid, bm25(mentions_fts) AS score FROM mentions_fts WHERE mentions_fts MATCH ?) r
           ON r.rowid = m.rowid
    WHERE <compile_sqlite sql> ORDER BY r.score IS NULL, r.score      -- params: [rank, *sql params]
"""

from __future__ import annotations

from functools import lru_cache

from listener.query import And, Filter, Near, Node, Not, Or, Term, author_key, register_compiler
from listener.text import normalise

SCHEMA_SQL = """\
CREATE TABLE IF NOT EXISTS mentions (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    lang TEXT,
    domain TEXT,
    author_key TEXT,
    author_id TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS mentions_fts USING fts5(title, body, tokenize='unicode61 remove_diacritics 0');
"""

FTS_TABLE = "mentions_fts"


def index_values(mention) -> dict[str, str | None]:
    """The query-relevant column values of a Mention: source, lang, domain, author_key, author_id (table
    mentions) and title, body (table mentions_fts)."""
    return {
        "source": mention.source.lower(),
        "lang": mention.lang.lower() if mention.lang else None,
        "domain": mention.domain.lower() if mention.domain else None,
        "author_key": author_key(mention.author_name) if mention.author_name else None,
        "author_id": mention.author_id,
        "title": normalise(mention.title or ""),
        "body": normalise(mention.text or ""),
    }


@register_compiler("sqlite")
def compile_sqlite(node: Node, alias: str = "m") -> tuple[str, list]:
    """A boolean SQL expression over `mentions AS alias` for the query tree, and its parameters."""
    compiler = _Compiler(alias)
    return compiler.sql(node), compiler.params


def rank_match(node: Node) -> str | None:
    """An FTS5 MATCH string OR-ing the query's positive text terms, for ordering by bm25; None if it has none.

    A row can match the query without matching this (e.g. `acme OR site:acme.com`), so join it as optional.
    """
    terms = _positive_terms(node)
    return " OR ".join(_phrase(term) for term in terms) or None


def highlight_terms(node: Node) -> list[tuple[tuple[str, ...], bool]]:
    """The positive text terms as (normalised token sequence, last token is a prefix), for snippets."""
    seen: dict[tuple[tuple[str, ...], bool], None] = {}
    for term in _positive_terms(node):
        seen.setdefault((term.tokens, term.prefix))
    return list(seen)


# ---------------------------------------------------------------- FTS5 expressions


def _phrase(term: Term) -> str:
    text = '"' + " ".join(term.tokens).replace('"', '""') + '"' + ("*" if term.prefix else "")
    return f"({term.field} : {text})" if term.field else text


def _near(node: Near) -> str:
    field = node.left[0].field
    groups = []
    for left in node.left:
        for right in node.right:
            group = f"NEAR({_phrase(Term(left.tokens, left.prefix))} {_phrase(Term(right.tokens, right.prefix))}, " \
                    f"{node.distance})"
            # FTS5 has no OR inside NEAR(); a side with alternatives is the OR of one group per pair.
            groups.append(f"({field} : {group})" if field else group)
    return groups[0] if len(groups) == 1 else "(" + " OR ".join(groups) + ")"


@lru_cache(maxsize=1024)
def fts_expression(node: Node) -> str | None:
    """The node as one FTS5 expression (always atomic: a phrase, NEAR group or parenthesised), or None
    when FTS5 cannot say it: a field filter, or a NOT with nothing positive to subtract from (FTS5's NOT
    is binary, `a NOT b`)."""
    if isinstance(node, Term):
        return _phrase(node)
    if isinstance(node, Near):
        return _near(node)
    if isinstance(node, And):
        positive, negative = _split_and(node.children)
        if not positive or len(positive) + len(negative) < len(node.children):
            return None
        return _and_expr(positive, negative)
    if isinstance(node, Or):
        parts = [fts_expression(child) for child in node.children]
        return None if None in parts else "(" + " OR ".join(parts) + ")"
    return None  # Filter, Not


def _split_and(children) -> tuple[list[str], list[str]]:
    """FTS5 expressions of an AND's text children, and of the text under its NOT children."""
    positive = [e for e in map(fts_expression, children) if e is not None]
    negative = [e for e in (fts_expression(c.child) for c in children if isinstance(c, Not)) if e is not None]
    return positive, negative


def _and_expr(positive: list[str], negative: list[str]) -> str:
    expr = positive[0] if len(positive) == 1 else "(" + " AND ".join(positive) + ")"
    if negative:
        expr = f"({expr} NOT {_or_expr(negative)})"
    return expr


def _or_expr(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


# ---------------------------------------------------------------- SQL


class _Compiler:
    def __init__(self, alias: str):
        self.alias = alias
        self.params: list = []

    def match(self, expr: str, negate: bool = False) -> str:
        self.params.append(expr)
        return (f"{self.alias}.rowid {'NOT IN' if negate else 'IN'} "
                f"(SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)")

    def sql(self, node: Node) -> str:
        # Placeholders are numbered by position, so params are appended in the order the text is built.
        expr = fts_expression(node)
        if expr is not None:
            return self.match(expr)
        if isinstance(node, Filter):
            return self.filter(node)
        if isinstance(node, Not):
            inner = fts_expression(node.child)
            return self.match(inner, negate=True) if inner is not None else f"NOT ({self.sql(node.child)})"
        if isinstance(node, And):
            positive, negative = _split_and(node.children)
            parts = []
            if positive:
                parts.append(self.match(_and_expr(positive, negative)))
            elif negative:
                parts.append(self.match(_or_expr(negative), negate=True))
            for child in node.children:
                text_child = fts_expression(child) is not None or (isinstance(child, Not) and fts_expression(child.child) is not None)
                if not text_child:
                    parts.append(self.sql(child))
            return " AND ".join(f"({part})" for part in parts)
        if isinstance(node, Or):
            text = [e for e in map(fts_expression, node.children) if e is not None]
            parts = [self.match(_or_expr(text))] if text else []
            parts += [self.sql(child) for child in node.children if fts_expression(child) is None]
            return " OR ".join(f"({part})" for part in parts)
        raise TypeError(f"not a query node: {node!r}")

    def filter(self, node: Filter) -> str:
        a = self.alias
        if node.name == "site":
            # '.' || domain ends with '.' || value: the domain itself or any subdomain, one LIKE.
            escaped = node.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            self.params.append("%." + escaped)
            return f"('.' || ifnull({a}.domain, '')) LIKE ? ESCAPE '\\'"
        if node.name in ("lang", "source"):
            self.params.append(node.value)
            return f"{a}.{node.name} IS ?"
        if node.name == "author":
            self.params += [author_key(node.value), node.value]
            return f"({a}.author_key IS ? OR {a}.author_id IS ?)"
        raise ValueError(f"unknown filter field {node.name!r}")


def _positive_terms(node: Node, positive: bool = True) -> list[Term]:
    """Terms that must be present for a match (under an even number of NOTs), in query order, unique."""
    found: list[Term] = []
    if isinstance(node, Term):
        found = [node] if positive else []
    elif isinstance(node, Near):
        found = list(node.left + node.right) if positive else []
    elif isinstance(node, Not):
        found = _positive_terms(node.child, not positive)
    elif isinstance(node, (And, Or)):
        found = [t for child in node.children for t in _positive_terms(child, positive)]
    return list(dict.fromkeys(found))
