"""The boolean query language: AST node types, `parse`, `render`, `QuerySyntaxError`, the compiler registry.

One parser turns a brand manager's query into a small tree of frozen dataclasses; compilers turn the tree
into something that runs (listener.query.matcher: a Python predicate over one document;
listener.query.sqlite: an SQL WHERE fragment over the FTS5 index). Both sides of every comparison go
through listener.text.normalise, so case, Latin accents, Arabic harakat, tatweel, letter variants,
Persian/Arabic-Indic digits and ZWNJ never decide a match.

The language
------------
    acme                    a word (any token of the title or the text equal to it)
    acme pay                implicit AND between adjacent items (same as `acme AND pay`)
    acme OR nimbus          OR;  precedence is NOT > AND > OR, parentheses group
    NOT cloud, -cloud       NOT (`-` must touch what it excludes: `- cloud` is an error)
    "nimbus wallet"         a phrase: consecutive tokens in the same field (title or text)
    nimb*                   prefix: a token starting with "nimb"; `"nimbus wal"*` makes the last token a prefix
    orbit NEAR/3 app        both in the same field with at most 3 tokens between them, either order
                            (`NEAR` alone is NEAR/10; as in FTS5, the two instances may overlap)
    orbit NEAR/3 (app OR card)  a side of NEAR may be an OR of words/phrases; NEAR binds tightest
    site:example.com        the mention's domain is example.com or a subdomain of it
    lang:fa  source:reddit  the mention's language / source (compared lower-case)
    author:NAME             author_name equal after normalising (see `author_key`), or author_id equal
                            to NAME as typed; `author:"Jane Doe"` for names with spaces
    title:word  title:"a phrase"  title:pre*  title:(a OR b NEAR c)   text operators on the title only

Decisions (and why):
- Keywords are AND, OR, NOT, NEAR, NEAR/n in upper case only; "and", "or", "not", "near" are ordinary
  words. To search the upper-case word itself, quote it: "OR".
- A query word may normalise to several tokens (`e-mail` -> e mail, «کتاب‌ها» -> کتاب ها, `10:30` ->
  10 30, `acme.com` -> acme com); it is then a phrase. A bare word that normalises to nothing (`&`, `!`)
  is a syntax error naming it, not silently dropped: a brand manager who writes `acme & co` or
  `acme + pay` believes the symbol does something, and a dropped word would quietly widen the query.
  Inside quotes punctuation is just a separator ("acme & co" is the phrase acme co).
- `name:value` is a field filter only when `name` is ASCII letters and the value follows with no space;
  otherwise the colon is text (`10:30`, `https://acme.com/x` (value starts with "/"), `re: acme`).
  An unknown letters-only name (`sitee:acme.com`) is an error listing the valid fields rather than a
  silent text search, because it is nearly always a typo; to search such text literally, quote it.
- Field names are case-insensitive; filter values are one word or a "quoted value". site: drops a
  scheme, path, port and leading "www." (listener.pipeline stores domains the same way).
- A lone `*`, or `*` anywhere but at the end of a word, is an error (no infix or suffix wildcards).
- `-` is NOT only where a word starts and touches what follows (`-cloud`, `-"a b"`, `-(a OR b)`);
  inside a word it is text (`e-mail`); alone it is an error. So `-5` means NOT 5.

The AST (for compiler writers; every node is a frozen, hashable dataclass)
-------------------------------------------------------------------------
    Term(tokens, prefix=False, field=None)  a word or phrase: normalised tokens (>= 1), consecutive
                                            in one field; prefix: the last token is a prefix;
                                            field None = title or text, "title" = title only
    Near(left, right, distance)             left/right: tuples of alternative Terms (>= 1 each, all
                                            with the same field); matches when some left and some
                                            right instance are in the same field with at most
                                            `distance` tokens between them, in either order
    Filter(name, value)                     name in FILTER_FIELDS; value canonical for comparison:
                                            site -> site_key(value), lang/source -> lower case,
                                            author -> as typed (compare author_key(value) with the
                                            author key, and value itself with the author id)
    Not(child)
    And(children), Or(children)             >= 2 children, never directly nested in the same kind
                                            (the parser flattens; use And.of / Or.of to build)

`title:` is pushed down into the Terms it contains (`title:(a OR b)` is Or(Term a title, Term b title)),
so compilers only ever look at Term.field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Callable, Union

from listener.text import normalise, normalise_term, tokens

__all__ = [
    "Term", "Near", "Filter", "Not", "And", "Or", "Node", "QuerySyntaxError", "parse", "render",
    "QueryTooLarge", "FILTER_FIELDS", "FIELDS", "DEFAULT_NEAR", "author_key", "site_key", "COMPILERS", "register_compiler",
]

DEFAULT_NEAR = 10  # `NEAR` with no /n, as in FTS5
MAX_NEAR = 10_000  # FTS5 reads the distance into an int; a cap keeps absurd values from overflowing it
MAX_DEPTH = 64  # nesting of ( and NOT; the parser is recursive, so this bounds the Python stack
# What one query may ask for. Every search and every stored mention's brand match runs the whole tree, and
# SQLite refuses expressions deeper than 1,000; a brand's real query (names, misspellings, products,
# exclusions) stays far below these. Measured: 500 ORed words or site: filters search in ~0.1 s.
MAX_QUERY_CHARS = 20_000
MAX_TERMS = 500  # words, phrases and field filters (each side of a NEAR counts)
MAX_PREFIXES = 100  # `word*`: each expands to every indexed word that starts so
MAX_NEAR_PAIRS = 400  # NEAR with alternatives on both sides runs one proximity check per pair
FILTER_FIELDS = ("author", "lang", "site", "source")
FIELDS = tuple(sorted(FILTER_FIELDS + ("title",)))


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Term:
    """A word or phrase: normalised tokens, consecutive in one field; `prefix`: the last token is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False
    field: str | None = None


@dataclass(frozen=True)
class Near:
    """Some left and some right alternative in the same field, at most `distance` tokens apart, either order."""

    left: tuple[Term, ...]
    right: tuple[Term, ...]
    distance: int = DEFAULT_NEAR


@dataclass(frozen=True)
class Filter:
    """A metadata filter: `name` is one of FILTER_FIELDS, `value` is canonical (see the module docstring)."""

    name: str
    value: str


@dataclass(frozen=True)
class Not:
    """Matches when the child does not."""

    child: "Node"


@dataclass(frozen=True)
class And:
    """Matches when every child does (two or more children, none of them an And)."""

    children: tuple["Node", ...]

    @classmethod
    def of(cls, *children: "Node") -> "Node":
        """AND of the children, flattening nested ANDs; a single child is returned as it is."""
        return _flat(cls, children)


@dataclass(frozen=True)
class Or:
    """Matches when any child does (two or more children, none of them an Or)."""

    children: tuple["Node", ...]

    @classmethod
    def of(cls, *children: "Node") -> "Node":
        """OR of the children, flattening nested ORs; a single child is returned as it is."""
        return _flat(cls, children)


Node = Union[Term, Near, Filter, Not, And, Or]


def _flat(kind, children) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    if not flat:
        raise ValueError(f"{kind.__name__}.of needs at least one child")
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


# ---------------------------------------------------------------- canonical keys (shared with the index)


def author_key(name: str) -> str:
    """What `author:` compares: the name's normalised tokens joined by one space.

    Joining tokens (rather than keeping normalise(name) verbatim) makes `author:@acme_help`, `author:acme_help`
    and the stored name "Acme_Help " agree. Stores must index author_key(author_name) for the same reason.
    """
    return " ".join(tokens(normalise(name)))


_HOST_RE = re.compile(r"[^\W_]([\w-]*[^\W_])?(\.[^\W_]([\w-]*[^\W_])?)*")


def site_key(value: str) -> str:
    """The domain `site:` compares: lower case, without scheme, path, port, trailing dot or leading "www."."""
    host = value.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = re.split(r"[/?#]", host, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    return host.rstrip(".").removeprefix("www.")


# ---------------------------------------------------------------- errors


class QuerySyntaxError(ValueError):
    """A query that does not parse; `position` is the 0-based character offset the problem was found at."""

    def __init__(self, message: str, query: str = "", position: int = 0, expected: str | None = None):
        super().__init__(f"position {position}: {message}")
        self.message = message
        self.query = query
        self.position = position
        self.expected = expected

    def caret(self) -> str:
        """The query with a ^ under the position, for terminals (tabs kept so the caret lines up)."""
        pad = "".join(ch if ch == "\t" else " " for ch in self.query[: self.position])
        return f"{self.query}\n{pad}^"

    def __reduce__(self):  # keep the attributes when pickled (e.g. across a process pool)
        return (type(self), (self.message, self.query, self.position, self.expected))


class QueryTooLarge(QuerySyntaxError):
    """A query that parses but asks for more than one search may (see MAX_TERMS): no position to point at."""

    def __init__(self, message: str, query: str = "", position: int = 0, expected: str | None = None):
        super().__init__(message, query, position, expected)
        self.args = (message,)

    def __str__(self) -> str:
        return self.message

    def caret(self) -> str:
        return ""


# ---------------------------------------------------------------- lexer

# Token kinds. WORD text is the raw word; PHRASE text is the raw inside of the quotes.
WORD, PHRASE, LPAREN, RPAREN, MINUS, FIELD, AND_, OR_, NOT_, NEAR_, EOF = (
    "word", "phrase", "(", ")", "-", "field", "AND", "OR", "NOT", "NEAR", "end of query")

_FIELD_RE = re.compile(r"([A-Za-z]+):")
_NEAR_RE = re.compile(r"NEAR/(\d+)")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    start: int
    end: int
    prefix: bool = False  # PHRASE followed by *
    distance: int = DEFAULT_NEAR  # NEAR


def _lex(query: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(query)
    value_at = -1  # where a field's value starts: that word is taken as it is (no keyword, no field)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Tok(LPAREN if ch == "(" else RPAREN, ch, i, i + 1))
            i += 1
        elif ch == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError(f'expected \'"\' to close the phrase opened at position {i}',
                                       query, n, '"')
            end = close + 1
            prefix = query.startswith("*", end)
            out.append(_Tok(PHRASE, query[i + 1:close], i, end + prefix, prefix=prefix))
            i = end + prefix
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != ")":
            out.append(_Tok(MINUS, ch, i, i + 1))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            word = query[i:j]
            field = _FIELD_RE.match(word) if i != value_at else None
            if field:
                rest = word[field.end():]
                value_follows = bool(rest) or query.startswith(("(", '"'), j)
                if (value_follows and not rest.startswith("/")) or field.group(1).lower() in FIELDS:
                    # `site:acme.com` or `title:(`. A known name with nothing after it is kept as a
                    # field too, so the parser can say the value is missing instead of searching "site".
                    out.append(_Tok(FIELD, field.group(1).lower(), i, i + field.end()))
                    i = value_at = i + field.end()
                    continue
            if i == value_at:
                out.append(_Tok(WORD, word, i, j))
            elif word in ("AND", "OR", "NOT", "NEAR"):
                out.append(_Tok(word, word, i, j))
            elif word.startswith("NEAR/"):
                near = _NEAR_RE.fullmatch(word)
                if not near:
                    raise QuerySyntaxError(f'expected a number after NEAR/ (e.g. NEAR/5), got "{word[5:]}"',
                                           query, i + 5, "a number")
                if int(near.group(1)) > MAX_NEAR:
                    raise QuerySyntaxError(f"NEAR/{near.group(1)} is too far; the most is NEAR/{MAX_NEAR}",
                                           query, i + 5, f"a number up to {MAX_NEAR}")
                out.append(_Tok(NEAR_, word, i, j, distance=int(near.group(1))))
            else:
                out.append(_Tok(WORD, word, i, j))
            i = j
    out.append(_Tok(EOF, "", n, n))
    return out


# ---------------------------------------------------------------- parser

# A hand-written recursive-descent parser rather than a parser library: the grammar is a dozen lines,
# a library would be a dependency for the web app, CLI and config loader alike, and hand-written code
# can name the exact position and the exact thing expected in every error a brand manager will see.
#
#   query   := or EOF
#   or      := and ("OR" and)*
#   and     := unary (["AND"] unary)*          adjacent items are ANDed
#   unary   := ("NOT" | "-") unary | near
#   near    := primary [("NEAR" | "NEAR/n") primary]     each side a Term or an OR of Terms
#   primary := WORD | PHRASE | "(" or ")" | FILTER ":" value | "title:" (WORD | PHRASE | "(" or ")")

_STARTS_ITEM = {WORD, PHRASE, LPAREN, MINUS, FIELD, NOT_}


def parse(query: str) -> Node:
    """Parse a query into its AST; raises QuerySyntaxError (a ValueError) with the position of the problem."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLarge(f"the query is {len(query):,} characters long; the most is {MAX_QUERY_CHARS:,} "
                            "(split it into several brands or queries)")
    node = _Parser(query).parse()
    _check_size(node, query)
    return node


def _check_size(node: Node, query: str) -> None:
    """Refuse a query that asks for more than one search should do (see MAX_TERMS and its neighbours)."""
    terms = prefixes = pairs = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (And, Or)):
            stack.extend(item.children)
        elif isinstance(item, Not):
            stack.append(item.child)
        elif isinstance(item, Near):
            terms += len(item.left) + len(item.right)
            prefixes += sum(t.prefix for t in item.left + item.right)
            pairs += len(item.left) * len(item.right)
        else:
            terms += 1
            prefixes += bool(getattr(item, "prefix", False))
    for count, most, what in ((terms, MAX_TERMS, "words, phrases and field filters"),
                              (prefixes, MAX_PREFIXES, "prefix searches (word*)"),
                              (pairs, MAX_NEAR_PAIRS, "NEAR pairs (alternatives left x right)")):
        if count > most:
            raise QueryTooLarge(f"the query has {count:,} {what}; the most is {most:,} "
                                "(split it into several brands or queries)")


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    # -- helpers

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, position: int, expected: str | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, position, expected)

    def expected_term(self, tok: _Tok) -> QuerySyntaxError:
        """The error for a token that cannot start a search term, saying what came before it."""
        prev = self.toks[self.i - 1] if self.i else None
        after = f" after {_describe(prev)}" if prev else ""
        if tok.kind == EOF:
            return self.error(f"expected a search term{after}", tok.start, "a search term")
        if prev is None and tok.kind in (AND_, OR_, NEAR_):
            return self.error(f"expected a search term before {tok.text}", tok.start, "a search term")
        return self.error(f"expected a search term{after}, got {_describe(tok)}", tok.start, "a search term")

    def nest(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the query is nested too deeply (more than {MAX_DEPTH} levels)", position,
                             f"at most {MAX_DEPTH} levels of ( and NOT")

    # -- grammar

    def parse(self) -> Node:
        if self.peek().kind == EOF:
            raise self.error("the query is empty: expected a word, a \"phrase\" or a field:value",
                             0, "a search term")
        node = self.or_(None)
        tok = self.peek()
        if tok.kind != EOF:  # only a stray ")" can stop or_ early
            raise self.error('unexpected ")" with no "(" to close', tok.start, "a search term or the end")
        return node

    def or_(self, field: str | None) -> Node:
        children = [self.and_(field)]
        while self.peek().kind == OR_:
            self.take()
            children.append(self.and_(field))
        return Or.of(*children)

    def and_(self, field: str | None) -> Node:
        children = [self.unary(field)]
        while True:
            kind = self.peek().kind
            if kind == AND_:
                self.take()
            elif kind not in _STARTS_ITEM:
                break
            children.append(self.unary(field))
        return And.of(*children)

    def unary(self, field: str | None) -> Node:
        tok = self.peek()
        if tok.kind in (MINUS, NOT_):
            self.take()
            self.nest(tok.start)
            node = Not(self.unary(field))
            self.depth -= 1
            return node
        return self.near(field)

    def near(self, field: str | None) -> Node:
        left_at = self.peek().start
        left = self.primary(field)
        tok = self.peek()
        if tok.kind != NEAR_:
            return left
        self.take()
        right_at = self.peek().start
        right = self.primary(field)
        sides = []
        for node, at in ((left, left_at), (right, right_at)):
            terms = _near_side(node)
            if terms is None:
                raise self.error(f'each side of {tok.text} must be a word, a "phrase", or (a OR b) of them',
                                 at, 'a word or "phrase"')
            sides.append(terms)
        if len({term.field for term in sides[0] + sides[1]}) > 1:
            raise self.error(f"both sides of {tok.text} must search the same field; "
                             f"write title:(a {tok.text} b) to search the title", tok.start,
                             "terms in the same field")
        if self.peek().kind == NEAR_:
            raise self.error("NEAR joins exactly two terms; combine NEAR groups with AND or OR",
                             self.peek().start, "AND, OR or the end")
        return Near(sides[0], sides[1], tok.distance)

    def primary(self, field: str | None) -> Node:
        tok = self.peek()
        if tok.kind == WORD:
            self.take()
            return self.word(tok, field)
        if tok.kind == PHRASE:
            self.take()
            return self.phrase(tok, field)
        if tok.kind == LPAREN:
            return self.group(field)
        if tok.kind == FIELD:
            self.take()
            return self.field(tok, field)
        raise self.expected_term(tok)

    def group(self, field: str | None) -> Node:
        opening = self.take()
        if self.peek().kind == RPAREN:
            raise self.error('empty parentheses: expected a search term inside "( )"', self.peek().start,
                             "a search term")
        self.nest(opening.start)
        node = self.or_(field)
        self.depth -= 1
        tok = self.peek()
        if tok.kind != RPAREN:
            raise self.error(f'expected ")" to close "(" opened at position {opening.start}', tok.start, '")"')
        self.take()
        return node

    def word(self, tok: _Tok, field: str | None) -> Term:
        text, prefix = tok.text, tok.text.endswith("*")
        if prefix:
            text = text[:-1]
        if "*" in text:
            raise self.error(f'"*" can only end a word (a prefix search like nimb*), in "{tok.text}"',
                             tok.start + text.index("*"), "a word")
        if prefix and not text:
            raise self.error('"*" needs the start of a word before it, like nimb*', tok.start, "a word")
        words = normalise_term(text)
        if not words:
            if set(text) == {"-"}:
                raise self.error('"-" must touch what it excludes, with no space: -cloud', tok.start, "a word")
            hint = " (write AND or OR for and/or)" if set(text) <= set("&|+,;") else ""
            raise self.error(f'"{tok.text}" has no letters or digits to search for; remove it{hint}',
                             tok.start, "a word")
        return Term(words, prefix, field)

    def phrase(self, tok: _Tok, field: str | None) -> Term:
        words = tuple(tokens(normalise(tok.text)))
        if not words:
            raise self.error("the phrase has no letters or digits to search for", tok.start, "a word")
        return Term(words, tok.prefix, field)

    def field(self, tok: _Tok, field: str | None) -> Node:
        name = tok.text
        if name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f'did you mean "{close[0]}:"? ' if close else ""
            raise self.error(f'unknown field "{name}:"; {hint}fields are {", ".join(f + ":" for f in FIELDS)} '
                             f'(to search text with a colon, put it in quotes)', tok.start, "a field name")
        if name != "title" and field is not None:
            raise self.error(f'{name}: cannot be used inside {field}:', tok.start, "a word or \"phrase\"")
        value = self.peek()
        if value.start != tok.end or value.kind in (EOF, RPAREN):
            raise self.error(f'expected a value right after "{name}:" (no space)', tok.end, "a field value")
        if name == "title":
            if value.kind == LPAREN:
                return self.group("title")
            if value.kind in (WORD, PHRASE):
                self.take()
                return self.phrase(value, "title") if value.kind == PHRASE else self.word(value, "title")
            raise self.error('expected a word, a "phrase" or "(" right after "title:"', value.start,
                             'a word, "phrase" or (')
        if value.kind == LPAREN:
            raise self.error(f"{name}: takes one value; for several write ({name}:a OR {name}:b)",
                             value.start, "a field value")
        if value.kind not in (WORD, PHRASE) or value.prefix:
            raise self.error(f'expected a value right after "{name}:"', value.start, "a field value")
        self.take()
        return self.filter(name, value)

    def filter(self, name: str, tok: _Tok) -> Filter:
        raw = tok.text.strip()
        if name == "site":
            host = site_key(raw)
            if not _HOST_RE.fullmatch(host):
                raise self.error(f'site: expects a domain like example.com, got "{raw}"', tok.start, "a domain")
            return Filter(name, host)
        if not raw:
            raise self.error(f"{name}: needs a value", tok.start, "a field value")
        if "*" in raw:
            raise self.error(f"{name}: takes a whole value; * (prefix search) works on text only",
                             tok.start + tok.text.index("*"), "a field value")
        if name == "author":
            return Filter(name, raw)
        return Filter(name, raw.lower())


def _near_side(node: Node) -> tuple[Term, ...] | None:
    if isinstance(node, Term):
        return (node,)
    if isinstance(node, Or) and all(isinstance(child, Term) for child in node.children):
        return node.children
    return None


def _describe(tok: _Tok) -> str:
    if tok.kind in (WORD,):
        return f'"{tok.text}"'
    if tok.kind == PHRASE:
        return "a phrase"
    if tok.kind == FIELD:
        return f'"{tok.text}:"'
    if tok.kind == EOF:
        return "the end of the query"
    return tok.text if tok.kind in (AND_, OR_, NOT_, NEAR_) else f'"{tok.text}"'


# ---------------------------------------------------------------- render (AST -> query string)

_BARE_VALUE = re.compile(r'[^\s()"]+')  # a filter value that needs no quotes (a leading - does)


def render(node: Node) -> str:
    """The canonical query string of a tree: parse(render(node)) == node for every tree parse can return."""
    if isinstance(node, Term):
        text = node.tokens[0] if len(node.tokens) == 1 else '"' + " ".join(node.tokens) + '"'
        return ("title:" if node.field else "") + text + ("*" if node.prefix else "")
    if isinstance(node, Near):
        field = node.left[0].field
        text = f"{_render_side(node.left)} NEAR/{node.distance} {_render_side(node.right)}"
        return f"{field}:({text})" if field else text
    if isinstance(node, Filter):
        bare = _BARE_VALUE.fullmatch(node.value) and not node.value.startswith("-")
        return f"{node.name}:{node.value}" if bare else f'{node.name}:"{node.value}"'
    if isinstance(node, Not):
        inner = render(node.child)
        return f"-{inner}" if isinstance(node.child, (Term, Filter, Not)) else f"-({inner})"
    if isinstance(node, And):
        return " ".join(f"({render(c)})" if isinstance(c, Or) else render(c) for c in node.children)
    if isinstance(node, Or):
        return " OR ".join(f"({render(c)})" if isinstance(c, And) else render(c) for c in node.children)
    raise TypeError(f"not a query node: {node!r}")


def _render_side(terms: tuple[Term, ...]) -> str:
    # The field is written once around the whole NEAR, so the terms are rendered without it.
    text = " OR ".join(render(Term(term.tokens, term.prefix)) for term in terms)
    return f"({text})" if len(terms) > 1 else text


# ---------------------------------------------------------------- compilers

#: name -> function(node, ...) compiling a parsed query for one back end. The built-ins below register
#: themselves the same way an outside compiler (e.g. an Elasticsearch one) would.
COMPILERS: dict[str, Callable] = {}


def register_compiler(name: str):
    def decorate(function):
        COMPILERS[name] = function
        return function

    return decorate


# Imported last: the built-in compilers import the node types defined above, then register themselves.
from listener.query import matcher as _matcher  # noqa: E402,F401
from listener.query import sqlite as _sqlite  # noqa: E402,F401
