"""Saved Google result pages (File > Save of https://www.google.com/search?q=…, the no-JavaScript layout).

Organic results are links holding an <h3> whose href is Google's redirect `/url?q=TARGET`; local-pack
entries (links back to /search) are not organic. The snippet is the result block's text after the title
block. "People also ask", "Videos" and "Discussions and forums" are recorded as features when their section
headings are on the page.
"""

from __future__ import annotations

from listener.seo.model import SerpPage, SerpResult
from listener.seo.providers import register
from listener.seo.providers.base import About, Provider
from listener.seo.providers.html import has_heading, parse_html, text_of, unwrap

_HEADINGS = (("featured_snippet", ("Featured snippet from the web",)), ("people_also_ask", ("People also ask",)),
             ("video", ("Videos", "Short videos")), ("discussion", ("Discussions and forums",)))


@register
class SavedGooglePage(Provider):
    name = "google_html"
    about = About(site="Google result pages saved from a browser", docs="https://www.google.com/search",
                  format="HTML", live=False, pages=False)
    import_engine = "google"

    def parse(self, body, query, lang="en", country="us", page=0) -> SerpPage:
        doc = parse_html(body, "google")
        results = []
        for link in doc.xpath("//a[.//h3][@href]"):
            href = link.get("href")
            if href.startswith("/url?"):
                url = unwrap(href, "q")
            elif href.startswith("http") and "google." not in href.split("/")[2]:
                url = href  # the JavaScript layout links directly
            else:
                continue  # /search?… (local pack, "more results"), not an organic result
            if not url.startswith("http"):
                continue
            title = text_of(link.xpath(".//h3")[0])
            # The result block is the nearest ancestor that holds more than the link's own container.
            block = link.getparent()
            while block is not None and block.getparent() is not None and len(block) < 2:
                block = block.getparent()
            snippet = ""
            if block is not None:
                after = [child for child in block if link not in child.iterdescendants() and child is not link]
                snippet = " ".join(text_of(child) for child in after).strip()
            results.append(SerpResult(position=len(results) + 1, url=url, title=title, snippet=snippet))
        features = [name for name, headings in _HEADINGS if has_heading(doc, *headings)]
        return SerpPage(engine="google", query=query, lang=lang, country=country, results=results,
                        features=features)
