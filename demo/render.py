"""The demo's sample rendered into what its local servers serve, in each source's real shapes.

Pure functions: `render(posts)` turns `demo.sample` posts into Reddit things, YouTube videos and
comments, and web pages (Trustpilot company pages, App Store review feeds, Google Play app pages, an RSS
feed with its articles, forum threads), plus the demo project's sources pointing at them. Nothing here
opens a socket; `demo.gather` serves the result and runs the real gatherers over it.

Web pages live on made-up hosts under `.example` (reserved, never resolvable): trustpilot.example,
itunes.example, play.example, news.example, blog.example, forum.example. The crawl reaches them through
the demo's site server acting as an HTTP proxy, so page URLs, and the mention ids made from them, are the
same whatever port the server gets: running the demo again updates the same mentions.

Each source's dates are written the way the real one writes them (Trustpilot: ISO with milliseconds and Z;
Apple: ISO with the Pacific offset; Google Play: [epoch seconds, nanos]; RSS: RFC 2822; forum pages and
YouTube: RFC 3339; Reddit: whole epoch seconds), so the spiders' own date parsing gives back the sample's times.
What the real sites do not carry is left out, as they leave it out: App Store reviews have no developer
replies in the feed, Google Play reviews have no titles, and a Google Play page shows only its
`PLAY_REVIEWS_SHOWN` most recent reviews.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from demo.project import demo_project
from demo.sample import SamplePost
from demo.servers.reddit import make_comment, make_submission
from demo.servers.youtube import make_video, make_yt_comment
from listener.runtime import brand_matcher

# The made-up hosts of the web sources (see the module docstring); the crawl sends them to the site server.
TRUSTPILOT_BASE = "http://trustpilot.example"  # LISTENER_TRUSTPILOT_URL
APPSTORE_BASE = "http://itunes.example"  # LISTENER_APPSTORE_URL
PLAY_BASE = "http://play.example"  # LISTENER_PLAY_URL
NEWS_BASE = "http://news.example"
BLOG_BASE = "http://blog.example"
FORUM_BASE = "http://forum.example"
FEED_URL = f"{NEWS_BASE}/feeds/fintech.rss"

TRUSTPILOT_PER_PAGE = 20  # as trustpilot.com
APPSTORE_PER_PAGE = 50  # as Apple's feed; at most 10 pages
PLAY_REVIEWS_SHOWN = 40  # a Play app page carries its most recent reviews; older ones sit behind "See all"
# A storefront per review language. Apple and Google have no Iranian store: Persian reviews come from the
# diaspora's (Canada here).
COUNTRY = {"en": "us", "fa": "ca", "ar": "sa"}


@dataclass(frozen=True)
class BrandSites:
    """Where each demo brand lives on the sources (made-up ids; none is a real app or page)."""

    domain: str  # Trustpilot company page: /review/<domain>
    app_store_id: str
    play_package: str
    developer: str
    subreddits: tuple[str, ...]  # the brand's own subreddits: watched, and everything there is the brand's
    youtube_searches: tuple[str, ...]  # one per script: the API's search does not fold spellings


BRANDS = {
    "Nimbus": BrandSites("nimbus.example", "1488000001", "com.nimbus.wallet", "Nimbus Labs", ("nimbuswallet",),
                         ("nimbus", "نیمبوس", "نيمبس")),
    "Kestrel Pay": BrandSites("kestrelpay.example", "1522000002", "com.kestrelpay.app", "Kestrel Pay Ltd",
                              ("kestrelpay",), ('"kestrel pay"', "kestrelpay", "کسترل", "كيسترل")),
    "Orbit": BrandSites("orbitwallet.example", "1561000003", "com.orbitwallet.android", "Orbit Financial", (),
                        ("orbit", "اوربیت", "أوربت")),
}


@dataclass
class Page:
    body: str
    content_type: str = "text/html; charset=utf-8"


@dataclass
class Rendered:
    """Everything the demo's servers serve, and the sources that point at it."""

    reddit: list[dict] = field(default_factory=list)  # t3/t1 things for RedditServer
    videos: list[dict] = field(default_factory=list)  # for YouTubeServer
    video_comments: list[dict] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)  # path with query -> page, for SiteServer
    sources: dict[str, dict] = field(default_factory=dict)  # brand -> BrandSources fields
    ids: dict[str, str] = field(default_factory=dict)  # sample key -> the native id the source gives it

    def counts(self) -> dict[str, int]:
        return {"reddit things": len(self.reddit), "videos": len(self.videos),
                "video comments": len(self.video_comments), "pages": len(self.pages)}


# ---------------------------------------------------------------- small helpers


def _digest(key: str, salt: str = "") -> int:
    return int.from_bytes(hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=12).digest(), "big")


def _b36(number: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(width):
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out


def _b64(key: str, salt: str, width: int) -> str:
    raw = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=24).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:width]


def _slug(title: str | None, fallback: str) -> str:
    words = re.findall(r"[a-z0-9]+", (title or "").lower())
    return "-".join(words[:8]) or fallback


def _esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _script_json(value) -> str:
    """JSON inside a <script>, escaped as Next.js escapes it: no "</script>" or "<!--" in a string can end
    or change the element early, and the result is still JSON."""
    text = json.dumps(value, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def _iso_ms(moment: datetime) -> str:
    """2024-05-24T08:15:00.000Z, as Trustpilot writes dates."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reply_time(post: SamplePost, latest: datetime) -> datetime:
    """When the company answered: a few hours after the review, never after the sample's end."""
    return min(post.published_at + timedelta(minutes=60 + _digest(post.key, "reply") % (30 * 60)), latest)


def _by_brand(posts: list[SamplePost], site: str) -> dict[str, list[SamplePost]]:
    out: dict[str, list[SamplePost]] = {name: [] for name in BRANDS}
    for post in posts:
        if post.site == site:
            out.setdefault(post.brand, []).append(post)
    for items in out.values():
        items.sort(key=lambda p: (p.published_at, p.key), reverse=True)  # newest first, as the sites list them
    return out


def _unique(ids: dict[str, str], what: str) -> None:
    if len(set(ids.values())) != len(ids):
        raise ValueError(f"two sample items got the same {what} id; change the salt")


# ---------------------------------------------------------------- Reddit


def reddit_id(key: str) -> str:
    """A base36 id like Reddit's (7 characters), stable for a sample key."""
    return _b36(_digest(key, "reddit"), 7)


def render_reddit(posts: list[SamplePost]) -> tuple[list[dict], dict[str, str]]:
    """Threads as submissions in their subreddit; comments and replies as comments with their parents
    (created_utc in whole seconds, as Reddit gives it)."""
    things, ids = [], {}
    for root in posts:
        if root.site != "reddit":
            continue
        sid = reddit_id(root.key)
        ids[root.key] = f"t3_{sid}"
        things.append(make_submission(sid, root.subreddit or "fintech", root.title or "", root.text,
                                      author=root.author, created_utc=float(int(root.published_at.timestamp())),
                                      score=1 + _digest(root.key, "score") % 80))

        def walk(parent: SamplePost, parent_name: str) -> None:
            for child in parent.children:
                cid = reddit_id(child.key)
                ids[child.key] = f"t1_{cid}"
                things.append(make_comment(cid, sid, child.text, parent_id=parent_name, author=child.author,
                                           created_utc=float(int(child.published_at.timestamp())),
                                           score=1 + _digest(child.key, "score") % 30))
                walk(child, f"t1_{cid}")

        walk(root, f"t3_{sid}")
    _unique(ids, "Reddit")
    return things, ids


# ---------------------------------------------------------------- YouTube


def render_youtube(posts: list[SamplePost]) -> tuple[list[dict], list[dict], dict[str, str]]:
    """Videos (the poster is the channel) and their comments; YouTube threads are one level deep, so a
    reply to a reply is a reply in the same thread."""
    videos, comments, ids = [], [], {}
    for root in posts:
        if root.site != "youtube":
            continue
        vid = _b64(root.key, "video", 11)
        ids[root.key] = vid
        videos.append(make_video(vid, root.title or "", root.text, channel=root.author,
                                 published=root.published_at))
        for top in root.children:
            thread = "Ugz" + _b64(top.key, "yt-thread", 23)
            ids[top.key] = thread
            comments.append(make_yt_comment(thread, vid, top.text, author=top.author, published=top.published_at,
                                            likes=_digest(top.key, "likes") % 40))
            replies = [reply for child in top.children for reply in child.walk()]
            for reply in replies:
                rid = f"{thread}.{_b64(reply.key, 'yt-reply', 22)}"
                ids[reply.key] = rid
                comments.append(make_yt_comment(rid, vid, reply.text, author=reply.author,
                                                published=reply.published_at, parent_id=thread,
                                                likes=_digest(reply.key, "likes") % 10))
    _unique(ids, "YouTube")
    return videos, comments, ids


# ---------------------------------------------------------------- Trustpilot


def trustpilot_id(key: str) -> str:
    return f"{_digest(key, 'trustpilot'):024x}"[-24:]


def _trustpilot_card(post: SamplePost) -> str:
    return (f'<article class="paper_paper__1PY90 styles_reviewCard__hcAvl" data-service-review-card-paper="true">\n'
            f'  <span class="typography_heading-xxs__QKBS8" data-consumer-name-typography="true">{_esc(post.author)}'
            f'</span>\n  <div class="star-rating_starRating__4rrcf"><img alt="Rated {post.rating} out of 5 stars"/>'
            f'</div>\n  <time datetime="{_iso_ms(post.published_at)}">{post.published_at:%Y-%m-%d}</time>\n'
            f'  <h2 data-service-review-title-typography="true">{_esc(post.title)}</h2>\n'
            f'  <p data-service-review-text-typography="true" dir="auto">{_esc(post.text)}</p>\n</article>')


def render_trustpilot(posts: list[SamplePost], latest: datetime) -> tuple[dict[str, Page], dict[str, str]]:
    """Each brand's company page, newest reviews first, TRUSTPILOT_PER_PAGE a page (?page=N), with the
    review data in __NEXT_DATA__ as trustpilot.com has it, and the visible review cards."""
    pages, ids = {}, {}
    for brand, reviews in _by_brand(posts, "trustpilot").items():
        if not reviews:
            continue
        sites = BRANDS[brand]
        total_pages = -(-len(reviews) // TRUSTPILOT_PER_PAGE)
        trust_score = round(sum(r.rating or 0 for r in reviews) / len(reviews), 1)
        for number in range(1, total_pages + 1):
            chunk = reviews[(number - 1) * TRUSTPILOT_PER_PAGE:number * TRUSTPILOT_PER_PAGE]
            data = []
            for post in chunk:
                ids[post.key] = trustpilot_id(post.key)
                data.append({
                    "id": ids[post.key], "filtered": False, "pending": False, "text": post.text,
                    "rating": post.rating, "title": post.title or "", "likes": _digest(post.key, "likes") % 9,
                    "labels": {"merged": None, "verification": {
                        "isVerified": _digest(post.key, "verified") % 3 == 0,
                        "createdDateTime": _iso_ms(post.published_at), "reviewSourceName": "Organic",
                        "verificationSource": "invitation", "verificationLevel": "not-verified",
                        "hasDachExclusion": False}},
                    "dates": {"experiencedDate": post.published_at.strftime("%Y-%m-%dT00:00:00.000Z"),
                              "publishedDate": _iso_ms(post.published_at), "updatedDate": None,
                              "submittedDate": None},
                    "report": None, "hasUnhandledReports": False,
                    "consumer": {"id": f"{_digest(post.author, 'consumer'):024x}"[-24:], "displayName": post.author,
                                 "imageUrl": "", "numberOfReviews": 1 + _digest(post.key, "n") % 4,
                                 "countryCode": COUNTRY[post.lang].upper(), "hasImage": False, "isVerified": False},
                    "reply": ({"message": post.reply, "publishedDate": _iso_ms(_reply_time(post, latest)),
                               "updatedDate": None} if post.reply else None),
                    "consumersReviewCountOnSameDomain": 1, "consumersReviewCountOnSameLocation": None,
                    "productReviews": [], "language": post.lang, "location": None,
                })
            path = f"/review/{sites.domain}" + (f"?page={number}" if number > 1 else "")
            next_data = {
                "props": {"pageProps": {
                    "businessUnit": {"id": f"{_digest(brand, 'unit'):024x}"[-24:], "displayName": brand,
                                     "identifyingName": sites.domain, "numberOfReviews": len(reviews),
                                     "trustScore": trust_score, "websiteUrl": f"https://{sites.domain}",
                                     "stars": round(trust_score * 2) / 2},
                    "reviews": data,
                    "filters": {"pagination": {"currentPage": number, "perPage": TRUSTPILOT_PER_PAGE,
                                               "totalCount": len(reviews), "totalPages": total_pages},
                                "selected": {"languages": "all"}},
                    "pageUrl": f"https://www.trustpilot.com/review/{sites.domain}"}, "__N_SSP": True},
                "page": "/review/[businessUnit]",
                "query": {"businessUnit": sites.domain, "page": str(number)},
                "buildId": "businessunitprofile-consumersite-demo", "isFallback": False, "gssp": True,
                "locale": "en-US", "scriptLoader": [],
            }
            links = ""
            if number > 1:
                links += f'<link rel="prev" href="{_esc(f"/review/{sites.domain}?page={number - 1}")}"/>'
            if number < total_pages:
                links += f'<link rel="next" href="{_esc(f"/review/{sites.domain}?page={number + 1}")}"/>'
            cards = "\n".join(_trustpilot_card(post) for post in chunk)
            pages[path] = Page(
                f'<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>\n'
                f'<title>{_esc(brand)} Reviews | Read Customer Service Reviews of {_esc(sites.domain)}'
                f'{f" | {number} of {total_pages}" if number > 1 else ""}</title>\n'
                f'<link rel="canonical" href="https://www.trustpilot.com{_esc(path)}"/>{links}\n'
                f'</head><body><div id="__next"><main class="styles_main__Y8ye2">\n'
                f'<h1>{_esc(brand)} <span>Reviews {len(reviews)}</span></h1><p>TrustScore {trust_score} out of 5</p>\n'
                f'<section class="styles_reviewsContainer__3_GQw">\n{cards}\n</section></main></div>\n'
                f'<script id="__NEXT_DATA__" type="application/json">{_script_json(next_data)}</script>\n'
                f'</body></html>\n')
    _unique(ids, "Trustpilot")
    return pages, ids


# ---------------------------------------------------------------- App Store


def appstore_path(app_id: str, country: str, page: int) -> str:
    """The feed's path (spiders.parse.appstore.feed_url without the base)."""
    return f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


def _apple_time(moment: datetime) -> str:
    """2024-05-24T21:03:44-07:00: Apple's feed writes Cupertino time with its offset."""
    return moment.astimezone(ZoneInfo("America/Los_Angeles")).isoformat(timespec="seconds")


def render_appstore(posts: list[SamplePost]) -> tuple[dict[str, Page], dict[str, list[dict]], dict[str, str]]:
    """Apple's customer-reviews feed (JSON) per brand app and storefront, APPSTORE_PER_PAGE a page. Returns
    the pages, the apps per brand (AppRef fields), and the review ids."""
    pages, apps, ids = {}, {}, {}
    for brand, reviews in _by_brand(posts, "appstore").items():
        sites = BRANDS[brand]
        for lang, country in COUNTRY.items():
            mine = [r for r in reviews if r.lang == lang]
            if not mine:
                continue
            apps.setdefault(brand, []).append({"id": sites.app_store_id, "country": country, "lang": lang})
            review_link = f"https://itunes.apple.com/{country}/review?id={sites.app_store_id}&type=Purple%20Software"
            last = min(-(-len(mine) // APPSTORE_PER_PAGE), 10)
            for number in range(1, last + 1):
                entries = []
                if number == 1:  # old feeds open with the app itself (no rating: skipped by the parser)
                    entries.append({"im:name": {"label": brand}, "im:artist": {"label": sites.developer},
                                    "title": {"label": f"{brand} - {sites.developer}"},
                                    "id": {"label": f"https://apps.apple.com/{country}/app/id{sites.app_store_id}",
                                           "attributes": {"im:id": sites.app_store_id}}})
                for post in mine[(number - 1) * APPSTORE_PER_PAGE:number * APPSTORE_PER_PAGE]:
                    review_id = str(10_000_000_000 + _digest(post.key, "appstore") % 89_999_999_999)
                    ids[post.key] = review_id
                    votes = _digest(post.key, "votes") % 6
                    entries.append({
                        "author": {"uri": {"label": f"https://itunes.apple.com/{country}/reviews/id"
                                                    f"{_digest(post.author, 'apple') % 10**9}"},
                                   "name": {"label": post.author}, "label": ""},
                        "updated": {"label": _apple_time(post.published_at)},
                        "im:rating": {"label": str(post.rating)},
                        "id": {"label": review_id}, "title": {"label": post.title or ""},
                        "content": {"label": post.text, "attributes": {"type": "text"}},
                        "link": {"attributes": {"rel": "related", "href": review_link}},
                        "im:voteSum": {"label": str(votes // 2)}, "im:voteCount": {"label": str(votes)},
                        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
                    })

                def link(rel: str, page: int) -> dict:
                    return {"attributes": {"rel": rel, "href": f"https://itunes.apple.com"
                                           f"{appstore_path(sites.app_store_id, country, page)}"}}

                feed_links = [{"attributes": {"rel": "alternate", "type": "text/html",
                                              "href": f"https://apps.apple.com/{country}/app/id{sites.app_store_id}"}},
                              link("self", number), link("first", 1), link("last", last)]
                if number < last:
                    feed_links.append(link("next", number + 1))
                feed = {"author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/"}},
                        # Apple's quirk, kept: a page holding one entry has it as an object, not a list.
                        "entry": entries[0] if len(entries) == 1 else entries,
                        "updated": {"label": _apple_time(mine[0].published_at)},
                        "rights": {"label": "Copyright 2008 Apple Inc."},
                        "title": {"label": "iTunes Store: Customer Reviews"}, "link": feed_links,
                        "id": {"label": link("self", number)["attributes"]["href"]}}
                pages[appstore_path(sites.app_store_id, country, number)] = Page(
                    json.dumps({"feed": feed}, ensure_ascii=False), "application/json; charset=utf-8")
    _unique(ids, "App Store")
    return pages, apps, ids


# ---------------------------------------------------------------- Google Play


AVATAR = "https://play-lh.googleusercontent.com/a/default-user"


def play_path(package: str, lang: str, country: str) -> str:
    """The app page's path (spiders.parse.googleplay.app_url without the base)."""
    return f"/store/apps/details?id={package}&hl={lang}&gl={country}"


def render_googleplay(posts: list[SamplePost], latest: datetime) -> tuple[dict[str, Page], dict[str, list[dict]],
                                                                          dict[str, str]]:
    """A Play app page per brand and language (hl=): its PLAY_REVIEWS_SHOWN most recent reviews in that
    language, as rows in an AF_initDataCallback block, developer replies included."""
    pages, apps, ids = {}, {}, {}
    for brand, reviews in _by_brand(posts, "googleplay").items():
        sites = BRANDS[brand]
        rating = round(sum(r.rating or 0 for r in reviews) / max(len(reviews), 1), 1)
        for lang, country in COUNTRY.items():
            shown = [r for r in reviews if r.lang == lang][:PLAY_REVIEWS_SHOWN]
            if not shown:
                continue
            apps.setdefault(brand, []).append({"id": sites.play_package, "lang": lang, "country": country})
            rows = []
            for post in shown:
                ids[post.key] = "gp:AOqpTO" + _b64(post.key, "play", 32)
                reply = None
                if post.reply:
                    reply = [sites.developer, post.reply, [int(_reply_time(post, latest).timestamp()), 0]]
                rows.append([ids[post.key],
                             [post.author, [None, 2, None, [None, None, AVATAR]]],
                             post.rating, None, post.text, [int(post.published_at.timestamp()), 0],
                             _digest(post.key, "thumbs") % 50, reply, None, None, None, None, None, [None, lang]])
            ld = {"@context": "https://schema.org", "@type": "SoftwareApplication", "name": brand,
                  "url": f"https://play.google.com/store/apps/details?id={sites.play_package}&hl={lang}",
                  "applicationCategory": "FINANCE", "operatingSystem": "ANDROID",
                  "author": {"@type": "Organization", "name": sites.developer, "url": f"https://{sites.domain}"},
                  "aggregateRating": {"@type": "AggregateRating", "ratingValue": str(rating),
                                      "ratingCount": str(len(reviews))}}
            cards = "\n".join(
                f'<div class="RHo1pe"><header class="c1bOId"><div class="X5PpBb">{_esc(post.author)}</div>'
                f'<span class="bp9Aid">{post.published_at:%B} {post.published_at.day}, {post.published_at:%Y}</span>'
                f'</header>'
                f'<div class="h3YV2d" dir="auto">{_esc(post.text)}</div></div>' for post in shown[:3])
            pages[play_path(sites.play_package, lang, country)] = Page(
                f'<!doctype html><html lang="{lang}" dir="{"rtl" if lang in ("fa", "ar") else "ltr"}"><head>'
                f'<meta charset="utf-8">\n<title>{_esc(brand)} - Apps on Google Play</title>\n'
                f'<meta property="og:title" content="{_esc(brand)} - Apps on Google Play">\n'
                f'<script type="application/ld+json" nonce="demo">{_script_json(ld)}</script>\n</head><body>\n'
                f'<div class="Fd93Bb"><h1 itemprop="name"><span class="AfwdI">{_esc(brand)}</span></h1></div>\n'
                f'<div class="Vbfug auoIOc"><a href="/store/apps/dev?id={_digest(brand, "dev") % 10**19}">'
                f'<span>{_esc(sites.developer)}</span></a></div>\n'
                f'<div class="EGFGHd">{cards}</div>\n'
                f"<script class=\"ds:55\" nonce=\"demo\">AF_initDataCallback({{key: 'ds:55', hash: '7', "
                f"data:{_script_json([rows, None, 'CpEBCo4BQUxl'])}, sideChannel: {{}}}});</script>\n"
                f'</body></html>\n')
    _unique(ids, "Google Play")
    return pages, apps, ids


# ---------------------------------------------------------------- the news feed and its articles


def article_url(post: SamplePost) -> str:
    base, section = (BLOG_BASE, "posts") if post.site == "blog" else (NEWS_BASE, "news")
    return f"{base}/{section}/{post.key}-{_slug(post.title, 'article')}"


def _summary(text: str, limit: int = 220) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def render_feed(posts: list[SamplePost]) -> tuple[dict[str, Page], dict[str, str]]:
    """One RSS 2.0 feed of the news and blog articles (newest first), and an article page per entry."""
    articles = sorted((p for p in posts if p.site in ("news", "blog")), key=lambda p: (p.published_at, p.key),
                      reverse=True)
    pages, ids, items = {}, {}, []
    for post in articles:
        url = article_url(post)
        ids[post.key] = url
        items.append(
            # Readers treat RSS titles and descriptions as HTML: the text is escaped as HTML, then as XML.
            f"  <item>\n    <title>{_esc(_esc(post.title))}</title>\n"
            f"    <link>{_esc(url)}?utm_source=rss&amp;utm_medium=feed</link>\n"
            f'    <guid isPermaLink="false">demo-{_esc(post.key)}</guid>\n'
            f"    <pubDate>{format_datetime(post.published_at, usegmt=True)}</pubDate>\n"
            f"    <dc:creator>{_esc(post.author)}</dc:creator>\n"
            f"    <category>{'Blogs' if post.site == 'blog' else 'News'}</category>\n"
            f"    <description>{_esc(_esc(_summary(post.text)))}</description>\n  </item>")
        site_name = "Money Notes" if post.site == "blog" else "Fintech Daily"
        rtl = ' dir="rtl"' if post.lang in ("fa", "ar") else ""
        paragraphs = "\n".join(f"<p>{_esc(part)}</p>" for part in post.text.split("\n") if part.strip())
        pages[url.split(".example", 1)[1]] = Page(
            f'<!DOCTYPE html>\n<html lang="{post.lang}"{rtl}><head><meta charset="utf-8">\n'
            f"<title>{_esc(post.title)} | {site_name}</title>\n"
            f'<meta name="author" content="{_esc(post.author)}">\n'
            f'<meta property="article:published_time" content="{_iso_z(post.published_at)}">\n'
            f'<link rel="canonical" href="{_esc(url)}">\n</head><body>\n'
            f'<header><nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/markets/">Markets</a> '
            f'<a href="/subscribe">Subscribe</a></nav></header>\n'
            f"<main><article><h1>{_esc(post.title)}</h1>\n"
            f'<p class="byline">{_esc(post.author)} · <time datetime="{_iso_z(post.published_at)}">'
            f"{post.published_at:%d %b %Y}</time></p>\n{paragraphs}\n</article></main>\n"
            f"<aside><h3>Most read</h3><ul><li><a href=\"/news/rates\">Rates hold steady</a></li>"
            f"<li><a href=\"/news/cards\">Card fees compared</a></li></ul></aside>\n"
            f"<footer><p>© {site_name}. All rights reserved.</p><a href=\"/privacy\">Privacy</a></footer>\n"
            f"</body></html>\n")
    feed = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"  <title>Fintech Daily: news and blogs</title>\n  <link>{NEWS_BASE}/</link>\n"
            "  <description>Payments and wallets, from the news and the blogs</description>\n"
            + (f"  <lastBuildDate>{format_datetime(articles[0].published_at, usegmt=True)}</lastBuildDate>\n"
               if articles else "")
            + "\n".join(items) + "\n</channel>\n</rss>\n")
    pages[FEED_URL.split(".example", 1)[1]] = Page(feed, "application/rss+xml; charset=utf-8")
    return pages, ids


# ---------------------------------------------------------------- forum threads


def forum_url(post: SamplePost) -> str:
    return f"{FORUM_BASE}/t/{_slug(post.title, 'topic')}/{1000 + _digest(post.key, 'forum') % 90000}"


def render_forum(posts: list[SamplePost]) -> tuple[dict[str, Page], dict[str, str]]:
    """A Discourse-like thread page per forum post (schema.org DiscussionForumPosting microdata)."""
    pages, ids = {}, {}
    for post in posts:
        if post.site != "forum":
            continue
        url = forum_url(post)
        ids[post.key] = f"{url}#post-1"  # what spiders.parse.article names a post without its own URL
        path = url.split(".example", 1)[1]
        rtl = ' dir="rtl"' if post.lang in ("fa", "ar") else ""
        paragraphs = "".join(f"<p>{_esc(part)}</p>" for part in post.text.split("\n") if part.strip())
        user = _esc(re.sub(r"\s+", "_", post.author))
        pages[path] = Page(
            f'<!DOCTYPE html>\n<html lang="{post.lang}"{rtl}><head><meta charset="utf-8">'
            f"<title>{_esc(post.title)} - Support - Fintech Forum</title>\n"
            f'<link rel="canonical" href="{_esc(url)}"></head>\n'
            f'<body><header><a href="/">Fintech Forum</a></header>\n<div id="main-outlet" class="wrap" role="main">\n'
            f'<div id="topic-title"><h1><a href="{_esc(path)}">{_esc(post.title)}</a></h1></div>\n'
            f'<div itemscope itemtype="http://schema.org/DiscussionForumPosting">\n'
            f'  <meta itemprop="headline" content="{_esc(post.title)}">\n'
            f'  <meta itemprop="commentCount" content="0">\n'
            f'  <div id="post_1" class="topic-body crawler-post">\n  <div class="crawler-post-meta">\n'
            f'    <span class="creator" itemprop="author" itemscope itemtype="http://schema.org/Person">'
            f'<a itemprop="url" href="/u/{user}"><span itemprop="name">{_esc(post.author)}</span></a></span>\n'
            f'    <span class="crawler-post-infos"><time itemprop="datePublished" '
            f'datetime="{_iso_z(post.published_at)}" class="post-time">{post.published_at:%Y-%m-%d}</time>\n'
            f'    <span itemprop="position">1</span></span>\n'
            f'  </div>\n  <div class="post" itemprop="text">{paragraphs}</div>\n  </div>\n</div></div>\n'
            f"<footer><p>Powered by Discourse</p></footer></body></html>\n")
    return pages, ids


# ---------------------------------------------------------------- the sources, and all of it


def forum_listing(posts: list[SamplePost]) -> dict[str, list[str]]:
    """Which brand lists which forum thread. A brand manager lists the threads about the brand, and the
    article spider trusts that (it tags every post on a listed page with the brand); so a thread is listed
    for the brand it is about when that brand's query matches it (else for the first brand whose query
    does). The off-topic threads in the sample (cloud photography, telescopes) are served but listed for
    no brand, as nobody would list them."""
    from demo.mentions import to_mentions

    matcher = brand_matcher(demo_project())
    listing: dict[str, list[str]] = {name: [] for name in BRANDS}
    for post in posts:
        if post.site != "forum":
            continue
        matched = matcher.match(to_mentions([post])[0])
        if matched:
            listing[post.brand if post.brand in matched else matched[0]].append(forum_url(post))
    return listing


def render(posts: list[SamplePost]) -> Rendered:
    """The whole sample, ready to serve, with the sources of the demo project (`demo_project(out.sources)`)."""
    latest = max((item.published_at for root in posts for item in root.walk()),
                 default=datetime.now(timezone.utc))
    out = Rendered()
    out.reddit, ids = render_reddit(posts)
    out.ids.update(ids)
    out.videos, out.video_comments, ids = render_youtube(posts)
    out.ids.update(ids)
    trustpilot, ids = render_trustpilot(posts, latest)
    out.ids.update(ids)
    appstore, app_store_apps, ids = render_appstore(posts)
    out.ids.update(ids)
    play, play_apps, ids = render_googleplay(posts, latest)
    out.ids.update(ids)
    feed, ids = render_feed(posts)
    out.ids.update(ids)
    forum, ids = render_forum(posts)
    out.ids.update(ids)
    for pages in (trustpilot, appstore, play, feed, forum):
        out.pages.update(pages)
    forums = forum_listing(posts)
    for index, (brand, sites) in enumerate(BRANDS.items()):
        out.sources[brand] = {
            "reddit_search": True,
            "own_subreddits": list(sites.subreddits),
            "trustpilot": [f"https://www.trustpilot.com/review/{sites.domain}"],
            "app_store": app_store_apps.get(brand, []),
            "google_play": play_apps.get(brand, []),
            # One feed of the whole industry's news, listed once (the feed spider keeps what matches a brand).
            "feeds": [FEED_URL] if index == 0 else [],
            "forum_pages": forums[brand],
            "youtube_searches": list(sites.youtube_searches),
        }
    return out


def site_bases() -> dict[str, str]:
    """The site spiders' base URLs (spiders.settings.SITE_BASES) for the demo's made-up hosts."""
    return {"LISTENER_TRUSTPILOT_URL": TRUSTPILOT_BASE, "LISTENER_APPSTORE_URL": APPSTORE_BASE,
            "LISTENER_PLAY_URL": PLAY_BASE}
