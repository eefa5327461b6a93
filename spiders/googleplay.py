"""Google Play: the reviews shown on an app's page, https://play.google.com/store/apps/details?id=<package>.

Not an official API (Google's Play Developer API answers only for one's own apps). The page shows
the most relevant recent reviews with developer replies; the project lists apps as
`google_play = [{ id = "com.example.app", lang = "en", country = "us" }]`, and the base can be pointed
elsewhere with LISTENER_PLAY_URL. Reviews stored by an earlier run are not passed on again.
"""

from __future__ import annotations

from spiders.about import About
from spiders.items import SourceSpider
from spiders.parse import MalformedPage
from spiders.parse.googleplay import app_url, parse_play_page


class GooglePlaySpider(SourceSpider):
    name = "googleplay"
    about = About(site="https://play.google.com/store/apps", source="google_play", official_api=False,
                  key_needed="", format="HTML (AF_initDataCallback JSON)", brand_specific=True)

    async def start(self):
        base = self.settings.get("LISTENER_PLAY_URL", "https://play.google.com")
        for brand in self.brands():
            for app in brand.sources.google_play:
                yield self.request(app_url(base, app.id, app.lang, app.country), self.parse, dont_filter=True,
                                   cb_kwargs={"brand": brand.name, "package": app.id})

    def parse(self, response, brand: str, package: str):
        try:
            result = parse_play_page(self.page_text(response), response.url, package=package, brands=[brand])
        except MalformedPage as err:
            self.skip(response.url, str(err))
            return
        self.report(response.url, result)
        if result.info:
            self.logger.info("%s: %s", package, {k: v for k, v in result.info.items() if v is not None})
        if not result.mentions:
            self.logger.info("%s: no reviews on the app page", response.url)
            return
        yield from self.new_only(result.mentions)
