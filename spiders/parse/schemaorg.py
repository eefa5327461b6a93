"""schema.org Review / AggregateRating / forum posts from any page: JSON-LD, microdata and RDFa.

extruct reads microdata and RDFa; JSON-LD blocks are read here one by one (with extruct's own lenient
fallback) because extruct drops every JSON-LD block of a page when one of them is broken. All three
syntaxes are normalised to one compact shape: short schema.org names as keys, `@type` a list, values
unwrapped, `{"@id": ...}` references resolved, so one walker finds reviews wherever a site nests them
(Product.review, @graph, itemReviewed, RDFa's flat node lists).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from listener.model import Mention, stable_hash
from spiders.parse import MalformedPage, ParseResult
from spiders.parse.dates import parse_date
from spiders.parse.numbers import parse_count, parse_rating
from spiders.parse.text import clean_text, first, html_to_text

log = logging.getLogger(__name__)

_SCHEMA_PREFIX = re.compile(r"^https?://schema\.org/")
_HTML_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)", re.MULTILINE)
NOT_REVIEWS = {"ClaimReview", "MediaReview"}  # fact checks and media authenticity: not customer opinions
POST_TYPES = {"DiscussionForumPosting", "SocialMediaPosting", "Comment", "Answer", "Question", "BlogPosting"}
_MAX_DEPTH = 12


# ------------------------------------------------------------------ reading and normalising


def parse_html(text: str) -> lxml.html.HtmlElement:
    """An lxml tree of the page; lxml repairs broken markup. Raises MalformedPage on an empty page."""
    if not text or not text.strip():
        raise MalformedPage("empty page")
    try:
        # lxml refuses str input that carries an XML encoding declaration; strip it.
        return lxml.html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
    except (lxml.etree.ParserError, ValueError) as err:
        raise MalformedPage(f"not HTML: {err}") from None


def _short(name: str) -> str:
    return _SCHEMA_PREFIX.sub("", name)


def normalise(value: Any) -> Any:
    """JSON-LD (compact or expanded), extruct microdata and RDFa output -> one compact shape."""
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        if "@value" in value:
            return value["@value"]
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "@type":
                out["@type"] = [_short(str(t)) for t in (item if isinstance(item, list) else [item])]
            elif key in ("@id", "@graph"):
                out[key] = item if key == "@id" else normalise(item if isinstance(item, list) else [item])
            elif key.startswith("@"):
                continue
            else:
                out[_short(key)] = normalise(item)
        return out
    return value


MAX_JSONLD_DEPTH = 64  # real schema.org data nests a handful of levels; deeper is an attack on the stack


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (iterative: the input may be built to be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSONLD_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in item)
    return deepest


def jsonld_blocks(tree: lxml.html.HtmlElement) -> tuple[list[Any], list[str]]:
    """Every JSON-LD block that parses, and one problem line per block that does not."""
    blocks, problems = [], []
    for number, script in enumerate(tree.xpath('//script[@type="application/ld+json"]'), start=1):
        raw = script.text_content() or ""
        if not raw.strip():
            continue
        try:
            block = json.loads(raw, strict=False)
        except ValueError:
            pass
        except RecursionError:
            problems.append(f"JSON-LD block {number} is nested too deeply to read (skipped)")
            continue
        else:
            if nesting_depth(block) > MAX_JSONLD_DEPTH:
                problems.append(f"JSON-LD block {number} nests deeper than {MAX_JSONLD_DEPTH} levels (skipped)")
            else:
                blocks.append(block)
            continue
        try:  # extruct's fallback: comments around the JSON
            import jstyleson

            block = jstyleson.loads(_HTML_COMMENT_LINE.sub("", raw), strict=False)
            if nesting_depth(block) > MAX_JSONLD_DEPTH:
                raise ValueError(f"nests deeper than {MAX_JSONLD_DEPTH} levels")
            blocks.append(block)
        except Exception as err:  # jstyleson raises assorted errors on broken input
            problems.append(f"JSON-LD block {number} is broken ({type(err).__name__}: {str(err)[:80]})")
    return blocks, problems


def _has_rdfa(text: str) -> bool:
    # RDFa extraction (pyRdfa + rdflib) is slow; run it only on pages that use RDFa attributes.
    return bool(re.search(r"\btypeof\s*=|\bvocab\s*=\s*[\"']https?://schema\.org", text[:2_000_000]))


def extract_nodes(text: str, url: str, tree: lxml.html.HtmlElement | None = None) -> tuple[list[dict], list[str]]:
    """All schema.org nodes of a page in the compact shape, and problems met (broken blocks)."""
    import extruct

    tree = tree if tree is not None else parse_html(text)
    raw, problems = jsonld_blocks(tree)
    syntaxes = ["microdata"] + (["rdfa"] if _has_rdfa(text) else [])
    try:
        found = extruct.extract(text, base_url=url, syntaxes=syntaxes, uniform=True, errors="log")
    except Exception as err:  # extruct's own parser on a hopeless page
        problems.append(f"microdata/RDFa extraction failed: {type(err).__name__}: {err}")
        found = {}
    for syntax in syntaxes:
        raw.extend(found.get(syntax) or [])
    nodes: list[dict] = []
    for block in raw:
        for item in block if isinstance(block, list) else [block]:
            norm = normalise(item)
            if isinstance(norm, dict):
                graph = norm.pop("@graph", None)
                if len(norm) > 1 or "@type" in norm:
                    nodes.append(norm)
                if graph is not None:
                    nodes.extend(g for g in (graph if isinstance(graph, list) else [graph]) if isinstance(g, dict))
            elif isinstance(norm, list):
                nodes.extend(n for n in norm if isinstance(n, dict))
    return _resolve_references(nodes), problems


def _resolve_references(nodes: list[dict]) -> list[dict]:
    """Replace {"@id": X} stubs by the node with that @id (RDFa and @graph documents link this way)."""
    index: dict[str, dict] = {}

    def collect(value: Any, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, dict):
            node_id = value.get("@id")
            if isinstance(node_id, str) and len(value) > 1:
                index.setdefault(node_id, value)
            for item in value.values():
                collect(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                collect(item, depth + 1)

    referenced: set[str] = set()

    def stubs(value: Any, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, dict):
            if set(value) == {"@id"}:
                referenced.add(value["@id"])
            for item in value.values():
                stubs(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                stubs(item, depth + 1)

    for node in nodes:
        collect(node)
        stubs(node)

    def resolve(value: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            if set(value) == {"@id"} and value["@id"] in index:
                value = index[value["@id"]]
            return {k: (resolve(v, depth + 1) if k != "@id" else v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, depth + 1) for v in value]
        return value

    # A node that another node points to is reached through it; listing it again at the top would
    # count it twice (RDFa lists every node flat) and lose its context (the item a review is about).
    return [resolve(node) for node in nodes if node.get("@id") not in referenced or "@id" not in node]


# ------------------------------------------------------------------ small accessors


def types(node: Any) -> set[str]:
    if not isinstance(node, dict):
        return set()
    kinds = node.get("@type")
    return {str(k) for k in (kinds if isinstance(kinds, list) else [kinds]) if k}


def is_review(node: Any) -> bool:
    kinds = types(node)
    return any(k.endswith("Review") and k not in NOT_REVIEWS for k in kinds)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def text_of(value: Any) -> str | None:
    """A plain string from a string, a number, a {name: ...} node or a list of them."""
    for item in _as_list(value):
        if isinstance(item, dict):
            item = first(item.get("name"), item.get("alternateName"), item.get("text"))
        if isinstance(item, (str, int, float)) and str(item).strip():
            return str(item).strip()
    return None


def name_of(value: Any) -> str | None:
    return text_of(value)


def lang_code(value: Any) -> str | None:
    """"en", "en-US", {"alternateName": "fa"} -> "en"/"fa"; a language *name* is not guessed."""
    code = text_of(value)
    if code and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", code):
        return code.split("-")[0].split("_")[0].lower()
    return None


def rating_of(value: Any) -> float | None:
    for item in _as_list(value):
        if isinstance(item, dict):
            rating = parse_rating(item.get("ratingValue"), item.get("bestRating"), item.get("worstRating"))
        else:
            rating = parse_rating(item)
        if rating is not None:
            return rating
    return None


def interaction_count(node: dict, *kinds: str) -> int | None:
    """userInteractionCount of the interactionStatistic of one of these kinds (LikeAction, VoteAction)."""
    for stat in _as_list(node.get("interactionStatistic")):
        if not isinstance(stat, dict):
            continue
        kind = stat.get("interactionType")
        if isinstance(kind, dict):
            kind = (kind.get("@type") or [""])[0] or kind.get("@id", "")
        if any(k in _short(str(kind or "")) for k in kinds):
            return parse_count(stat.get("userInteractionCount"))
    return None


def walk(nodes: Iterable[Any], parent: dict | None = None, depth: int = 0) -> Iterator[tuple[dict, dict | None]]:
    """Every dict node with its nearest enclosing node, depth first; shared nodes are visited once."""
    seen: set[int] = set()

    def go(value: Any, parent: dict | None, depth: int) -> Iterator[tuple[dict, dict | None]]:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, list):
            for item in value:
                yield from go(item, parent, depth + 1)
        elif isinstance(value, dict):
            if id(value) in seen:
                return
            seen.add(id(value))
            yield value, parent
            for key, item in value.items():
                if not key.startswith("@"):
                    yield from go(item, value, depth + 1)

    for node in nodes:
        yield from go(node, parent, depth)


# ------------------------------------------------------------------ reviews


def aggregate_of(nodes: list[dict]) -> dict | None:
    """The first AggregateRating of the page: {"rating", "count", "item"}."""
    for node, parent in walk(nodes):
        if "AggregateRating" in types(node):
            rating = rating_of(node)
            count = parse_count(first(node.get("ratingCount"), node.get("reviewCount")))
            item = name_of(first(node.get("itemReviewed"), parent.get("name") if parent else None))
            if rating is not None or count is not None:
                return {"rating": rating, "count": count, "item": item}
    return None


def _company_reply(review: dict, item_name: str | None) -> str | None:
    """A reply by the business, as a Comment under the review whose author is an Organization or the
    reviewed item itself."""
    for key in ("comment", "review"):
        for sub in _as_list(review.get(key)):
            if not isinstance(sub, dict):
                continue
            author = sub.get("author")
            by_business = "Organization" in types(author) or any(t.endswith("Business") for t in types(author))
            if by_business or (item_name and name_of(author) == item_name):
                reply = html_to_text(text_of(first(sub.get("text"), sub.get("reviewBody"), sub.get("description"))))
                if reply:
                    return reply
    return None


def review_native_id(review: dict, page_url: str, author: str | None, published: str | None, body: str,
                     item_name: str | None) -> str:
    """The review's own id (@id, url, identifier) when it has one; else a hash of what identifies it on
    its site (host, item, author, date, start of text), stable across runs and pagination shifts."""
    node_id = review.get("@id")
    own = first(review.get("identifier") if isinstance(review.get("identifier"), (str, int)) else None,
                node_id if isinstance(node_id, str) and not node_id.startswith("_:") else None,
                text_of(review.get("url")))
    if own and str(own).rstrip("/") != page_url.rstrip("/"):
        return str(own)
    host = (urlsplit(page_url).hostname or "").removeprefix("www.")
    return "h:" + stable_hash(host, item_name or "", author or "", published or "", body[:300])


def review_to_mention(review: dict, item: dict | None, page_url: str, *, source: str,
                      brands: Iterable[str] = (), lang: str | None = None) -> Mention:
    """One schema.org Review node -> Mention. Raises ValueError when it has no text or no readable date."""
    item_node = review.get("itemReviewed") if isinstance(review.get("itemReviewed"), dict) else item
    item_name = name_of(first(review.get("itemReviewed"), item.get("name") if item else None))
    body = html_to_text(text_of(first(review.get("reviewBody"), review.get("text"), review.get("description"))))
    title = clean_text(text_of(first(review.get("name"), review.get("headline"))))
    if title and item_name and title == item_name:
        title = ""  # some sites repeat the product name as the review's name
    author = name_of(review.get("author"))
    raw_date = text_of(first(review.get("datePublished"), review.get("dateCreated"), review.get("dateModified")))
    published = parse_date(raw_date)
    if published is None:
        raise ValueError(f"review by {author or 'unknown'}: no readable date ({raw_date!r})")
    if not body and not title:
        raise ValueError(f"review by {author or 'unknown'}: no text")
    native_id = review_native_id(review, page_url, author, raw_date, body, item_name)
    url = text_of(review.get("url"))
    extra: dict[str, Any] = {}
    if item_name:
        extra["item"] = item_name
    if item_node and isinstance(item_node, dict) and item_node.get("@type"):
        extra["item_type"] = item_node["@type"][0]
    return Mention(
        source=source, native_id=native_id, url=urljoin(page_url, url) if url else page_url,
        author_name=author, title=title or None, text=body, published_at=published,
        lang=lang_code(review.get("inLanguage")) or lang, rating=rating_of(review.get("reviewRating")),
        score=first(parse_count(review.get("upvoteCount")), interaction_count(review, "Like", "Vote")),
        company_reply=_company_reply(review, item_name), brands=list(brands), extra=extra,
    )


def reviews_from_nodes(nodes: list[dict], page_url: str, *, source: str, brands: Iterable[str] = (),
                       lang: str | None = None) -> ParseResult:
    result = ParseResult()
    ids: set[str] = set()
    for node, parent in walk(nodes):
        if not is_review(node):
            continue
        item = parent if parent is not None and not is_review(parent) else None
        try:
            mention = review_to_mention(node, item, page_url, source=source, brands=brands, lang=lang)
        except ValueError as err:  # includes pydantic's ValidationError
            result.skipped.append(str(err).splitlines()[0][:200])
            continue
        if mention.id not in ids:
            ids.add(mention.id)
            result.mentions.append(mention)
    aggregate = aggregate_of(nodes)
    if aggregate:
        result.info["aggregate"] = aggregate
    return result


# ------------------------------------------------------------------ pagination

_NEXT_WORDS = {
    "next", "next page", "next ›", "next »", "next >", "›", "»", ">", "older", "older posts", "more reviews",
    "suivant", "page suivante", "weiter", "nächste", "nächste seite", "siguiente", "successivo", "successiva",
    "volgende", "próximo", "próxima", "следующая", "بعدی", "صفحه بعد", "صفحه‌ی بعد", "التالي", "الصفحة التالية",
    "التالية", "sonraki",
}


def next_page_url(tree: lxml.html.HtmlElement, page_url: str) -> str | None:
    """The next page of a paginated list: rel=next (link or a), else a link labelled "next" in a
    common language, by its text, aria-label or a class like "pagination-next"."""
    def usable(href: str | None) -> str | None:
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            return None
        absolute = urljoin(page_url, href.strip())
        return absolute if absolute.split("#")[0] != page_url.split("#")[0] else None

    for element in tree.xpath('//link[@href] | //a[@href]'):
        rel = (element.get("rel") or "").lower().split()
        if "next" in rel:
            url = usable(element.get("href"))
            if url:
                return url
    for anchor in tree.xpath("//a[@href]"):
        label = " ".join((anchor.text_content() or "").split()).lower()
        aria = (anchor.get("aria-label") or "").strip().lower()
        classes = (anchor.get("class") or "").lower()
        if label in _NEXT_WORDS or aria in _NEXT_WORDS or aria.startswith("next") or re.search(
                r"(^|[\s_-])next($|[\s_-])", classes):
            url = usable(anchor.get("href"))
            if url:
                return url
    return None


# ------------------------------------------------------------------ the page


def parse_review_page(text: str, url: str, *, source: str = "review", brands: Iterable[str] = (),
                      lang: str | None = None) -> ParseResult:
    """Reviews, aggregate rating and next page of any page with schema.org markup.
    Raises MalformedPage when the page is not HTML at all."""
    tree = parse_html(text)
    nodes, problems = extract_nodes(text, url, tree)
    result = reviews_from_nodes(nodes, url, source=source, brands=brands, lang=lang)
    result.skipped[:0] = problems
    result.next_url = next_page_url(tree, url)
    return result
