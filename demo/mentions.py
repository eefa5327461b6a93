"""The sample posts as the Mentions the real sources should produce: the demo's ground truth.

The demo gathers the sample through the real spiders and clients; this direct conversion is what a
gatherer that sees everything would yield, so tests can compare the two and check the sample's shape
without starting servers.
"""

from __future__ import annotations

from demo.sample import SamplePost
from listener.model import Mention

_SOURCE = {"reddit": "reddit", "youtube": "youtube", "trustpilot": "trustpilot", "appstore": "app_store",
           "googleplay": "google_play", "news": "rss", "blog": "rss", "forum": "forum"}
_REVIEW_SITES = {"trustpilot", "appstore", "googleplay"}


def post_url(post: SamplePost, root: SamplePost) -> str:
    if post.site == "reddit":
        base = f"https://www.reddit.com/r/{root.subreddit or 'fintech'}/comments/{root.key}/"
        return base if post is root else f"{base}_/{post.key}/"
    if post.site == "youtube":
        return f"https://www.youtube.com/watch?v={root.key}&lc={post.key}"
    return f"https://{post.site}.example/{root.key}#{post.key}" if post is not root else f"https://{post.site}.example/{root.key}"


def to_mentions(posts: list[SamplePost]) -> list[Mention]:
    out: list[Mention] = []

    def visit(post: SamplePost, root: SamplePost, parent: SamplePost | None) -> None:
        if post.kind != "video" and (post.text or post.title):
            in_thread = root.site == "reddit" and parent is not None
            out.append(Mention(
                source=_SOURCE[root.site], native_id=post.key, url=post_url(post, root),
                author_name=post.author, title=post.title if parent is None else None, text=post.text or "",
                published_at=post.published_at, rating=float(post.rating) if post.rating else None,
                thread_id=root.key, parent_id=parent.key if parent else None, company_reply=post.reply,
                # Reviews on a brand's page and replies in a brand's thread belong to the brand even
                # when they do not name it; the real gatherers tag them the same way.
                brands=[root.brand] if root.site in _REVIEW_SITES or in_thread else [],
                extra={"demo": True},
            ))
        for child in post.children:
            visit(child, root, post)

    for root in posts:
        visit(root, root, None)
    return out
