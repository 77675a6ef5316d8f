"""Russian news items for the feed-server tests, and RSS built from them."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Story:
    title: str
    text: str
    link: str | None
    guid: str | None = None
    date: str | None = "Wed, 30 Apr 2025 10:00:00 +0300"
    full_text: str | None = None


UZBEK_TEXTILE = Story(
    "Омская область и Узбекистан подписали соглашение о поставках текстиля",
    "Губернатор Омской области и хоким Бухарской области подписали соглашение о "
    "сотрудничестве. Омские торговые сети будут закупать хлопковые ткани у фабрик Бухары.",
    "https://omsk-news.example/news/uzbek-textile",
)
KAZAKH_GRAIN = Story(
    "Омские аграрии отправят зерно в Павлодар",
    "Первая партия пшеницы ушла в Казахстан по соглашению с павлодарским элеватором. "
    "До конца года планируется отгрузить сорок тысяч тонн.",
    "https://omsk-news.example/news/kazakh-grain",
)
CITY_PARK = Story(
    "В парке Победы высадят сорок елей",
    "Городские службы начнут посадки в понедельник, работы завершат до конца мая.",
    "https://omsk-news.example/news/park",
)
BELARUS_TRACTORS = Story(
    "Минский тракторный завод откроет сервисный центр в Омске",
    "Центр будет обслуживать технику хозяйств региона и Северного Казахстана. "
    "Соглашение подписано на выставке «Агросиб».",
    "https://second-outlet.example/articles/mtz-service",
)


def rss(title: str, stories: list[Story], *, encoding: str = "utf-8") -> bytes:
    items = []
    for story in stories:
        parts = [f"<title>{escape(story.title)}</title>"]
        if story.link is not None:
            parts.append(f"<link>{escape(story.link)}</link>")
        if story.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(story.guid)}</guid>')
        if story.date is not None:
            parts.append(f"<pubDate>{story.date}</pubDate>")
        parts.append(f"<description>{escape(story.text)}</description>")
        if story.full_text is not None:
            parts.append(f"<yandex:full-text>{escape(story.full_text)}</yandex:full-text>")
        items.append("<item>" + "".join(parts) + "</item>")
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:yandex="http://news.yandex.ru"><channel>'
        f"<title>{escape(title)}</title><link>https://omsk-news.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    )
    return document.encode(encoding)


ARTICLE_PAGE = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<header><nav class="menu"><a href="/">Главная</a> <a href="/news">Новости</a>
<a href="/economy">Экономика</a> <a href="/sport">Спорт</a></nav></header>
<main><article>
<h1>{title}</h1>
<p class="lead">{lead}</p>
<p>Переговоры прошли в министерстве экономики региона. Стороны договорились создать рабочую
группу, которая до конца июня подготовит перечень совместных проектов в текстильной
промышленности и торговле.</p>
<p>По словам министра, омские предприятия готовы поставлять в Бухарскую область
сельскохозяйственную технику и продукцию нефтехимии, а узбекские партнёры предлагают
хлопковые ткани, сухофрукты и овощи.</p>
<div class="read-also"><p>Читайте также:</p><ul>
<li><a href="/news/1">Омские хоккеисты выиграли турнир в Астане</a></li>
<li><a href="/news/2">Китайские туристы полюбили омские музеи</a></li></ul></div>
<p>Следующая встреча рабочей группы запланирована в Бухаре в сентябре.</p>
</article></main>
<aside class="sidebar"><h3>Популярное</h3><a href="/news/3">Погода в Омске на выходные</a></aside>
<footer><p>© Омские новости, 2025. Все права защищены.</p></footer>
</body></html>
"""
