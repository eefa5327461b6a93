"""Google Play app pages (play.google.com/store/apps/details?id=<package>&hl=<lang>&gl=<country>).

The page carries its data in `AF_initDataCallback({key: 'ds:N', ..., data: [...]})` script blocks
(older pages: `data:function(){return [...]}`). Reviews are arrays shaped
[review id "gp:...", [author name, avatar], stars, null, text, [epoch seconds, nanos], thumbs up,
[developer name, reply text, [epoch seconds, nanos]] | null, ..., app version]. The blocks are found by
that shape rather than by their ds:N key, which changes between page versions. App facts come from the
page's schema.org (AggregateRating) and its details list.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import lxml.html

from listener.model import Mention
from listener.text import normalise
from spiders.parse import MalformedPage, ParseResult
from spiders.parse.numbers import parse_count
from spiders.parse.schemaorg import aggregate_of, extract_nodes, parse_html
from spiders.parse.text import clean_text, first

SOURCE = "google_play"
_CALLBACK = re.compile(r"AF_initDataCallback\s*\(\s*\{")
_DATA = re.compile(r"\bdata\s*:\s*(?:function\s*\(\s*\)\s*\{\s*return\s+)?(?=\[)")
# The details list's labels as Google Play prints them in the page's language (hl=): English, Persian,
# Arabic (the languages listener scores) and the other large Play locales. Keys are folded with
# listener.text.normalise, so letter variants and ZWNJ do not matter.
_LABELS_BY_FIELD = {
    "updated": ["updated", "updated on", "به روزرسانی شده در", "به‌روزرسانی‌شده در", "به‌روزرسانی", "تاريخ التحديث",
                "آخر تحديث", "actualizada", "actualizado", "actualizado el", "mise à jour", "mis à jour le",
                "aktualisiert", "aktualisiert am", "atualizada em", "atualizado em", "aggiornata", "aggiornato il",
                "güncellendi", "güncellenme tarihi", "обновлено", "更新日"],
    "installs": ["installs", "downloads", "دفعات نصب", "تعداد نصب", "بارگیری‌ها", "عمليات التثبيت", "مرات التنزيل",
                 "التنزيلات", "descargas", "instalaciones", "installations", "téléchargements", "installationen",
                 "instalações", "installazioni", "download", "yükleme sayısı", "indirme", "количество установок",
                 "скачивания", "ダウンロード数"],
    "version": ["current version", "version", "نسخه فعلی", "نسخه", "الإصدار الحالي", "الإصدار", "versión actual",
                "version actuelle", "aktuelle version", "versão atual", "versione corrente", "mevcut sürüm",
                "текущая версия"],
    "requires_android": ["requires android", "android مورد نیاز", "نیازمند android", "يتطلب android",
                         "requiere android", "nécessite android", "erforderliche android-version",
                         "requer android", "android richiesto", "gereken android sürümü",
                         "требуемая версия android"],
    "content_rating": ["content rating", "رده‌بندی محتوا", "رده بندی محتوا", "تقييم المحتوى", "calificación del contenido",
                       "clasificación de contenido", "classification du contenu", "altersfreigabe",
                       "classificação do conteúdo", "classificazione contenuti", "i̇çerik derecelendirmesi",
                       "içerik derecelendirmesi", "возрастные ограничения"],
    "offered_by": ["offered by", "ارائه‌شده توسط", "ارائه شده توسط", "تقديم", "مقدم من", "ofrecida por", "ofrecido por",
                   "offerte par", "offert par", "angeboten von", "oferecido por", "offerta da", "sunan",
                   "продавец"],
}


def _label_key(text: str) -> str:
    return " ".join(normalise(text).strip().rstrip(":：").split())


_DETAIL_LABELS = {_label_key(label): field for field, labels in _LABELS_BY_FIELD.items() for label in labels}


def app_url(base: str, package: str, lang: str = "en", country: str | None = None) -> str:
    url = f"{base.rstrip('/')}/store/apps/details?id={package}&hl={lang}"
    return f"{url}&gl={country}" if country else url


def data_blocks(text: str) -> Iterator[Any]:
    """The decoded data array of every AF_initDataCallback block that parses."""
    decoder = json.JSONDecoder(strict=False)
    for match in _CALLBACK.finditer(text):
        data = _DATA.search(text, match.end(), match.end() + 400)
        if not data:
            continue
        try:
            value, _ = decoder.raw_decode(text, data.end())
        except ValueError:
            continue  # a truncated or non-JSON block: the others may still hold the reviews
        yield value


def _is_review(row: Any) -> bool:
    return (isinstance(row, list) and len(row) > 5 and isinstance(row[0], str) and row[0].startswith("gp:")
            and isinstance(row[1], list) and row[1] and isinstance(row[1][0], str)
            and isinstance(row[2], int) and isinstance(row[5], list) and row[5]
            and isinstance(row[5][0], (int, float)))


def review_rows(value: Any, depth: int = 0) -> Iterator[list]:
    """Every review-shaped array inside a data block."""
    if depth > 8 or not isinstance(value, list):
        return
    if _is_review(value):
        yield value
        return
    for item in value:
        yield from review_rows(item, depth + 1)


def _at(row: list, *path: int) -> Any:
    for index in path:
        if not isinstance(row, list) or len(row) <= index:
            return None
        row = row[index]
    return row


def row_to_mention(row: list, *, package: str, page_url: str, brands: Iterable[str]) -> Mention:
    review_id = row[0]
    published = datetime.fromtimestamp(row[5][0], tz=timezone.utc)
    reply_text = _at(row, 7, 1)
    extra: dict[str, Any] = {"app_id": package}
    if isinstance(_at(row, 10), str):
        extra["app_version"] = row[10]
    reply_at = _at(row, 7, 2, 0)
    if isinstance(reply_at, (int, float)):
        extra["reply_at"] = datetime.fromtimestamp(reply_at, tz=timezone.utc).isoformat()
    rating = row[2] if isinstance(row[2], int) and 1 <= row[2] <= 5 else None
    return Mention(
        source=SOURCE, native_id=review_id, url=f"{page_url}&reviewId={review_id}",
        author_name=clean_text(row[1][0]) or None, text=clean_text(_at(row, 4) or ""),
        published_at=published, rating=rating,
        score=_at(row, 6) if isinstance(_at(row, 6), int) else None,
        company_reply=(clean_text(reply_text) or None) if isinstance(reply_text, str) else None,
        brands=list(brands), extra=extra,
    )


def app_details(tree: lxml.html.HtmlElement, text: str, url: str) -> dict[str, Any]:
    """Title, developer, rating, votes and the details list (updated, installs, version) when shown."""
    info: dict[str, Any] = {}
    title = first(*(clean_text(t.text_content()) for t in tree.xpath('//*[@itemprop="name"]')[:1]),
                  *tree.xpath('//meta[@property="og:title"]/@content')[:1],
                  *(clean_text(t.text_content()) for t in tree.xpath("//h1")[:1]))
    if title:
        info["title"] = re.sub(r"\s+-\s+Apps on Google Play$", "", title)
    developer = tree.xpath('//a[contains(@href, "/store/apps/dev")]')
    if developer:
        info["developer"] = clean_text(developer[0].text_content()) or None
    try:
        nodes, _ = extract_nodes(text, url, tree)
    except MalformedPage:
        nodes = []
    aggregate = aggregate_of(nodes)
    if aggregate:
        info["rating"], info["votes"] = aggregate["rating"], aggregate["count"]
    # The details list: a label element followed by its value (2019 layout: div.BgcNfc + span.htlgb).
    for label in tree.xpath("//div | //span"):
        if len(label) or not label.text:
            continue
        key = _DETAIL_LABELS.get(_label_key(label.text))
        if key and key not in info:
            value = label.getnext()
            if value is not None:  # its first text: the rest is links and badges ("Learn More")
                info[key] = next((t.strip() for t in value.itertext() if t.strip()), None)
    if "installs" in info:
        info["installs_min"] = parse_count(info["installs"])
    return info


def parse_play_page(text: str, url: str, *, package: str, brands: Iterable[str] = ()) -> ParseResult:
    """The reviews shown on an app page, their developer replies, and the app's facts."""
    tree = parse_html(text)
    result = ParseResult(info=app_details(tree, text, url))
    seen: set[str] = set()
    blocks = 0
    for block in data_blocks(text):
        blocks += 1
        for row in review_rows(block):
            if row[0] in seen:
                continue
            seen.add(row[0])
            try:
                result.mentions.append(row_to_mention(row, package=package, page_url=url, brands=brands))
            except (ValueError, OverflowError, OSError) as err:
                result.skipped.append(f"review {row[0]}: {str(err).splitlines()[0][:200]}")
    if not blocks and not result.info.get("title"):
        raise MalformedPage("not a Google Play app page (no data blocks, no title)")
    return result
