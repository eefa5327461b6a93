"""The project file's [[serp]] questions resolved per brand and market: what to search, in which language and
country, and which locations are the brand's self-service pages, its other sites and its competitors'."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from listener.config import Project


@dataclass(frozen=True)
class Location:
    """A host (and its subdomains) with a path prefix; "/" is the whole site."""

    host: str
    path_prefix: str = "/"

    @classmethod
    def parse(cls, text: str) -> "Location":
        """'https://help.acme.com/articles/x', 'help.acme.com/articles' or 'acme.com' -> Location."""
        text = text.strip()
        parts = urlsplit(text if "://" in text else f"//{text}")
        host = (parts.hostname or "").lower().removeprefix("www.")
        if not host:
            raise ValueError(f"{text!r} names no host; write a domain like help.acme.com or a URL")
        return cls(host=host, path_prefix=parts.path or "/")

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().removeprefix("www.")
        if host != self.host and not host.endswith("." + self.host):
            return False
        path = parts.path or "/"
        prefix = self.path_prefix
        # "/articles/reset" matches "/articles/reset" and "/articles/reset/..." but not "/articles/resetting".
        return prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class Question:
    """One question in one market, with where the brand's and its competitors' pages live."""

    text: str
    brand: str
    lang: str = "en"
    country: str = "us"
    depth: int = 20
    own_page: str | None = None
    self_service: tuple[Location, ...] = ()
    own_other: tuple[Location, ...] = ()
    competitors: dict[str, tuple[Location, ...]] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> str:
        """How the rank history names this question: the text and its market."""
        return f"{self.text} [{self.lang}-{self.country}]"


def questions_of(project: Project) -> list[Question]:
    """Every [[serp]] question of the project, resolved."""
    brands = {brand.name: brand for brand in project.brands}
    resolved = []
    for entry in project.serp:
        brand = brands[entry.brand]
        self_service = [Location.parse(text) for text in [brand.help_center, entry.own_page, *entry.self_service]
                        if text]
        competitors = {
            other.name: tuple(Location.parse(text) for text in [*other.own_domains, other.help_center] if text)
            for other in project.brands if other.competitor and other.name != brand.name
        }
        resolved.append(Question(
            text=entry.question, brand=brand.name, lang=entry.lang, country=entry.country, depth=entry.depth,
            own_page=entry.own_page, self_service=tuple(dict.fromkeys(self_service)),
            own_other=tuple(Location.parse(text) for text in brand.own_domains),
            competitors={name: locs for name, locs in competitors.items() if locs},
        ))
    return resolved


def find_question(questions: list[Question], text: str) -> list[Question]:
    """The questions whose text (or key) is `text`, ignoring case and surrounding space."""
    wanted = " ".join(text.split()).casefold()
    return [q for q in questions if q.text.casefold() == wanted or q.key.casefold() == wanted]
