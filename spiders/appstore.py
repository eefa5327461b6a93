"""App Store customer reviews, from Apple's public RSS feed in its JSON form:
https://itunes.apple.com/{country}/rss/customerreviews/page={n}/id={app id}/sortby=mostrecent/json

Official but undocumented and key-less; most recent first, 50 a page, 10 pages at most, per country.
The project lists apps as `app_store = [{ id = "...", country = "us" }]`; the base can be pointed
elsewhere with LISTENER_APPSTORE_URL. Pages are followed until one holds no review an earlier run
stored. The feed has no developer replies.
"""

from __future__ import annotations

from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.appstore import feed_url, parse_appstore_feed


class AppStoreSpider(SourceSpider):
    name = "appstore"
    about = About(site="https://itunes.apple.com (customer reviews RSS)", source="app_store", official_api=True,
                  key_needed="", format="JSON", brand_specific=True)

    async def start(self):
        base = self.settings.get("LISTENER_APPSTORE_URL", "https://itunes.apple.com")
        for brand in self.brands():
            for app in brand.sources.app_store:
                yield self.request(feed_url(base, app.id, app.country, 1), self.parse, dont_filter=True,
                                   cb_kwargs={"brand": brand.name, "app_id": app.id, "country": app.country,
                                              "page": 1, "base": base})

    def parse(self, response, brand: str, app_id: str, country: str, page: int, base: str):
        try:
            result = parse_appstore_feed(response.body, app_id=app_id, country=country, page=page, base=base,
                                         brands=[brand])
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        yield from self.new_reviews_then_next_page(response, result, page, brand=brand, app_id=app_id,
                                                   country=country, base=base)
