"""Facts of an article: agreements with a foreign party and figures of exchange with a partner.

Pure functions over an article's title and text and the partner countries the tagger found.
Rules are regular expressions and pymorphy3 lemmas (through the shared lemmatizer):

- an **agreement** is a named document (соглашение, меморандум, договор, протокол, план,
  дорожная карта, контракт, декларация, программа) in a sentence that signs it (signed) or
  announces its signing (planned), or that names it as signed earlier or being carried out
  («исполнение протокола …»); «договорённости» are not documents, nor is a document signed
  with a Russian federal body.  Its name ends at a participial phrase.  Its countries are the
  partners named in that sentence, else the article's only partner.  The date is a day
  written in the sentence («12 марта 2025 года», «сегодня» with the publication date), or a
  day opening an earlier sentence of the same paragraph (a dateline); otherwise null
  («вчера», «в октябре 2021 года»).
- a **figure** is a number with a unit of money, mass, per cent or times («в полтора раза»,
  «вдвое») in a sentence about trade, export, import or investment with a partner.  The value
  is as written (decimal comma → point; a range keeps its upper bound), the unit as written
  («млн долл.» for «$… млн»), ``change`` for growth or decline rates.  The direction is the
  Russian side's: «импорт из РФ» is export, «экспорт в Башкирию» is import.  An elided
  currency («импорт — 41 млн») is the one of the figure before; a signed rate in parentheses
  after a level («143 млн долларов (+19,6 %)») is its change.  A keyword naming no side
  keeps the partner's view an earlier keyword of its sentence took («экспорт в Башкирию …, а
  импорт из республики …»).  A number measuring people or prices between the keyword and
  itself («поток туристов, составляющий 80 %») is not a figure; a headline rounding a figure
  its text gives exactly («Почти на 100 млн долларов …» over «$88,9 млн») gives way to it.
- **parties** are clean noun phrases in the nominative as the text names them («Хабаровский
  край», «правительство Омской области», «штат Гуджарат»): a region's official stands for the
  region, and names of persons, dates, places and the rest of the clause are cut.  They come
  from «между X и Y» (after the document first), from the subject of the signing verb or of
  a verb right before the document («X и Y готовят соглашение»), from the subject after the
  verb («Соглашение подписали X и Y»), and from «с Y»; «регион» among them is the Russian
  region the article named before, which is also the Russian side of a document «подписан с
  Y» naming only its foreign party.

Nothing is loaded at import time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

from tagging import data
from tagging.morph import shared_lemmatizer
from tagging.text import fold, normalise

# Raised whenever a rule change should reach the facts of articles stored before it: the
# backfill extracts the facts of articles marked with a lower version again.
FACTS_VERSION = 4
SIGNED = "signed"
PLANNED = "planned"
INDICATORS = ("trade_turnover", "export", "import", "investment", "other")


@dataclass(frozen=True, slots=True)
class Agreement:
    parties: tuple[str, ...]
    countries: tuple[str, ...]
    subject: str
    status: str  # "signed" | "planned"
    date: str | None  # YYYY-MM-DD

    def as_dict(self) -> dict[str, Any]:
        return {
            "parties": list(self.parties),
            "countries": list(self.countries),
            "subject": self.subject,
            "status": self.status,
            "date": self.date,
        }


@dataclass(frozen=True, slots=True)
class Figure:
    indicator: str
    value: float
    unit: str
    change: bool
    period: str | None
    countries: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        value: float | int = int(self.value) if self.value.is_integer() else self.value
        return {
            "indicator": self.indicator,
            "value": value,
            "unit": self.unit,
            "change": self.change,
            "period": self.period,
            "countries": list(self.countries),
        }


@dataclass(frozen=True, slots=True)
class Facts:
    agreements: tuple[Agreement, ...] = ()
    figures: tuple[Figure, ...] = ()

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "agreements": [a.as_dict() for a in self.agreements],
            "figures": [f.as_dict() for f in self.figures],
        }


# ---------------------------------------------------------------------------------------------
# Sentences and words

_WORD = re.compile(r"[A-Za-zА-Яа-яЁё][A-Za-zА-Яа-яЁё\-]*")
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"»”)]*\s+(?=[«\"„(]?[А-ЯЁA-Z0-9])")
_ABBREVIATION_BEFORE = re.compile(
    r"(?:\b(?:г|гг|ул|им|обл|р|т|млн|млрд|тыс|руб|долл|проц|др|с|п|кв|просп|пер|ст)|\b[А-ЯЁA-Z])\.$"
)


# «…вырос до 131 млн. Доля…»: a unit abbreviation ends the sentence when a capitalised word
# other than a currency's country («долл. США») follows.
_UNIT_BEFORE_CAPITAL = re.compile(
    r"\b(?:млн|млрд|трлн|тыс|руб|долл)\.\s+(?!США|USD|РФ)(?=[А-ЯЁA-Z][а-яёa-z])"
)


@dataclass(slots=True)
class _Sentence:
    text: str
    paragraph: int
    headline: bool = False
    lemmas: list[str] = field(default_factory=list)
    # _country_mentions, found once for agreements and figures alike.
    mentions: list[tuple[int, str]] | None = None
    word_starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Offsets of the words whose lemmas `lemmas` holds, found when first asked for:
        most sentences name no document and give no figure, and are never asked."""
        if self.word_starts is None:
            self.word_starts = [match.start() for match in _WORD.finditer(self.text)]
        return self.word_starts


def _sentences(title: str | None, text: str) -> list[_Sentence]:
    body = normalise(text)
    head = normalise(title or "").strip()
    lines = body.split("\n")
    headline_lines = 0
    if head and not body.lstrip().startswith(head[: max(20, len(head) // 2)]):
        lines.insert(0, head)
        headline_lines = 1
    elif head:
        # The text opens with its title: its first line is the headline when it is no more.
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None and len(lines[first].strip()) <= len(head) + 10:
            headline_lines = first + 1
    result: list[_Sentence] = []
    for paragraph, line in enumerate(lines):
        headline = paragraph < headline_lines
        start = 0
        for match in _BOUNDARY.finditer(line):
            if _ABBREVIATION_BEFORE.search(
                line, max(start, match.start() - 6), match.start()
            ) and not _UNIT_BEFORE_CAPITAL.search(
                line, max(start, match.start() - 6), match.end() + 2
            ):
                continue
            piece = line[start : match.start()].strip()
            if piece:
                result.append(_Sentence(piece, paragraph, headline))
            start = match.end()
        piece = line[start:].strip()
        if piece:
            result.append(_Sentence(piece, paragraph, headline))
    lemmatizer = shared_lemmatizer()
    cached = lemmatizer.cached
    forms = lemmatizer.forms
    for sentence in result:
        words = _WORD.findall(sentence.text)
        sentence.lemmas = [(cached.get(word) or forms(word)).lemma for word in words]
    return result


def _lemma_at(sentence: _Sentence, offset: int) -> int:
    """Index of the first word starting at or after ``offset``."""
    for index, start in enumerate(sentence.starts):
        if start >= offset:
            return index
    return len(sentence.starts)


# ---------------------------------------------------------------------------------------------
# Countries in a sentence


_ADJECTIVE_MASCULINE = re.compile(r"(?<=[а-яё])(?:ий|ый|ой)\b")


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    names: dict[tuple[str, ...], str]  # lemma sequence -> ISO2 (or "RU", or "?" for others)
    longest: int
    # The lemmas a name starts with: most words of a sentence start none.
    firsts: frozenset[str] = frozenset()


_RUSSIA_WORDS = ("Россия", "РФ", "Российская Федерация", "российский")
_COUNTRY_FIELDS = (
    "names",
    "abbreviations",
    "adjectives",
    "capitals",
    "cities",
    "city_adjectives",
    "provinces",
    "province_adjectives",
)


@cache
def _country_names() -> frozenset[tuple[str, ...]]:
    """Lemmas of the names of states («Узбекистан», «Кыргызская Республика», «Российская
    Федерация»), not of their provinces or cities."""
    lemmatizer = shared_lemmatizer()
    names = [name for entry in data.country_data()["countries"] for name in entry.get("names", ())]
    names.extend(("Россия", "РФ", "Российская Федерация"))
    return frozenset(tuple(lemmatizer.lemma(w) for w in _WORD.findall(name)) for name in names)


@cache
def _gazetteer() -> _Gazetteer:
    lemmatizer = shared_lemmatizer()
    names: dict[tuple[str, ...], str] = {}

    def add(phrase: str, code: str) -> None:
        key = tuple(lemmatizer.lemma(w) for w in _WORD.findall(phrase))
        if key and key not in names:
            names[key] = code

    for phrase in _RUSSIA_WORDS:
        add(phrase, "RU")
    for entry in data.region_data().get("regions", []):
        for name in (
            *entry.get("names", ()),
            *entry.get("adjectives", ()),
            *entry.get("capitals", ()),
        ):
            add(name, "RU")
    country_data = data.country_data()
    for entry in country_data["countries"]:
        for field_name in _COUNTRY_FIELDS:
            for phrase in entry.get(field_name, ()):
                add(phrase, entry["code"])
                if field_name.endswith("adjectives"):
                    # The dictionary lacks some provinces' adjectives and reads «Хатлонская»,
                    # «Хатлонской» as a noun «хатлонской»: the feminine, as «… области» has it.
                    add(_ADJECTIVE_MASCULINE.sub("ая", phrase), entry["code"])
    for entry in country_data.get("other_countries", []):
        if isinstance(entry, dict):
            for phrase in (*entry.get("names", ()), *entry.get("adjectives", ())):
                add(phrase, str(entry.get("code", "?")))
    return _Gazetteer(
        names, max((len(k) for k in names), default=1), frozenset(key[0] for key in names if key)
    )


def _country_mentions(sentence: _Sentence) -> list[tuple[int, str]]:
    """(word index, code) of every country, Russia or Russian region named in the sentence."""
    if sentence.mentions is None:
        sentence.mentions = _find_country_mentions(sentence)
    return sentence.mentions


def _find_country_mentions(sentence: _Sentence) -> list[tuple[int, str]]:
    gazetteer = _gazetteer()
    found: list[tuple[int, str]] = []
    lemmas = sentence.lemmas
    index = 0
    firsts = gazetteer.firsts
    if firsts.isdisjoint(lemmas):
        return found
    while index < len(lemmas):
        if lemmas[index] not in firsts:
            index += 1
            continue
        for size in range(min(gazetteer.longest, len(lemmas) - index), 0, -1):
            code = gazetteer.names.get(tuple(lemmas[index : index + size]))
            if code is not None:
                found.append((index, code))
                index += size
                break
        else:
            index += 1
    # «млн долларов США»: the United States of a currency's name is no country of the text.
    return [
        (index, code)
        for index, code in found
        if not (code == "US" and index > 0 and lemmas[index - 1] in {"доллар", "долл"})
    ]


# ---------------------------------------------------------------------------------------------
# Dates

_MONTHS = {
    "январь": 1,
    "февраль": 2,
    "март": 3,
    "апрель": 4,
    "май": 5,
    "июнь": 6,
    "июль": 7,
    "август": 8,
    "сентябрь": 9,
    "октябрь": 10,
    "ноябрь": 11,
    "декабрь": 12,
}
_MONTH_STEMS = "январ|феврал|март|апрел|ма[яйе]|июн|июл|август|сентябр|октябр|ноябр|декабр"
_DAY_DATE = re.compile(
    rf"\b(\d{{1,2}})\s+({_MONTH_STEMS})[а-я]*(?:\s+(\d{{4}})(?:\s*(?:года|г\.|г\b))?)?",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")
_TODAY = re.compile(r"\bсегодня\b", re.IGNORECASE)


def _month(word: str) -> int | None:
    folded = fold(word)
    if folded.startswith("ма") and not folded.startswith("мар"):
        return 5
    for lemma, number in _MONTHS.items():
        if folded.startswith(lemma[:3]):
            return number
    return None


def _first_date(text: str, published: date | None, allow_today: bool) -> tuple[str, int] | None:
    """The first day written in ``text`` as (YYYY-MM-DD, offset)."""
    candidates: list[tuple[int, str]] = []
    for match in _DAY_DATE.finditer(text):
        month = _month(match.group(2))
        if month is None:
            continue
        year = int(match.group(3)) if match.group(3) else None
        if year is None:
            if published is None:
                continue
            year = published.year
            if (month, int(match.group(1))) > (published.month, published.day):
                year -= 1
        try:
            value = date(year, month, int(match.group(1)))
        except ValueError:
            continue
        candidates.append((match.start(), value.isoformat()))
    for match in _NUMERIC_DATE.finditer(text):
        try:
            value = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            continue
        candidates.append((match.start(), value.isoformat()))
    if allow_today and published is not None:
        today = _TODAY.search(text)
        if today is not None and not candidates:
            candidates.append((today.start(), published.isoformat()))
    if not candidates:
        return None
    offset, iso = min(candidates)
    return iso, offset


# ---------------------------------------------------------------------------------------------
# Agreements

_DOCUMENT_LEMMAS = {
    "соглашение",
    "меморандум",
    "договор",
    "протокол",
    "план",
    "контракт",
    "декларация",
    "программа",
    "карта",  # дорожная карта
    "конвенция",
    "хартия",
}
# The documents' words in the nominative, as _register_form leaves a leading one.
_DOCUMENT_FORMS = frozenset(
    (
        *_DOCUMENT_LEMMAS,
        "соглашения",
        "меморандумы",
        "договоры",
        "протоколы",
        "планы",
        "контракты",
        "декларации",
        "программы",
        "конвенции",
        "хартии",
    )
)
_SIGNED = re.compile(
    r"\b(?:подписал[иао]?|подписан[аоы]?|подписанн\w+|подписавш\w+|заключил[иао]?|"
    r"заключен[аоы]?|заключ[её]нн\w+|скрепили|подписи\s+под\s+\w+\s+поставили|"
    r"поставили\s+подписи|состоялось\s+подписание|прошло\s+подписание|"
    r"(?:было|были)\s+подписан\w*|утвержд[её]н\w*|ратифицирован\w*|действующ\w+|"
    r"действует|действуют|вступил\w*\s+в\s+силу)\b",
    re.IGNORECASE,
)
_PLANNED = re.compile(
    r"\b(?:подпиш(?:ут|ет|ем|у)|(?:намерен[аыо]?|планиру\w+|планирует\w*|готов[аыо]?|"
    r"предстоит|собира\w+|договорились|должн[аыо]?|будут|будет|решили|хотим|хотят)\s+"
    r"(?:\w+\s+){0,2}(?:подписать|заключить|подписание|подписаны?|заключен\w*|обновить)|"
    r"(?:договорились|решили|условились)\s+(?:\w+\s+){0,3}?о\s+подписании|"
    r"состоится\s+подписание|планируется\s+подписание|готов\w*\s+к\s+подписанию|"
    r"подготов\w+\s+(?:проект\w*\s+)?(?:соглашени|меморандум|договор)\w*|"
    r"проект\w*\s+(?:соглашени|меморандум|договор)\w*|на\s+финальной\s+стадии|"
    r"обновить|продлить|перезаключить|подписать)\b",
    re.IGNORECASE,
)
# Where a document's subject ends: a party («между», «с»), a relative clause, a verb.
_SUBJECT_STOP_LEMMAS = {
    "между",
    "с",
    "со",
    "от",
    "который",
    "подписать",
    "подписанный",
    "заключить",
    "заключенный",
    "быть",
    "стать",
    "в",
    "во",
    "был",
    "этот",
    "это",
    "что",
    "как",
    "и",
}
_SUBJECT_TAIL_PREPOSITIONS = {"о", "об", "по", "на", "в", "во", "для"}
_SUBJECT_MAX_WORDS = 14
_ADJECTIVE_END = re.compile(
    r"(?:ое|ая|ий|ый|ой|ые|ие|ого|ему|ому|ых|их|ым|им|ую|юю|ее|яя|ей|ом|ем)$", re.IGNORECASE
)
_PARTIES_BETWEEN = re.compile(
    r"\bмежду\s+(.{3,120}?)\s+и\s+(.{3,120}?)(?=[,.;:»\)]|\s+(?:на|о|об|по|в|во|от)\s|$)"
)
_NOT_DOCUMENT_AFTER = {"действие", "мероприятие"}


def _is_document(sentence: _Sentence, index: int) -> bool:
    lemma = sentence.lemmas[index]
    if lemma not in _DOCUMENT_LEMMAS:
        return False
    if lemma == "карта":
        return index > 0 and sentence.lemmas[index - 1] == "дорожный"
    if lemma == "план":
        # «план мероприятий», «план действий», «план сотрудничества» — not «в планах».
        following = sentence.lemmas[index + 1 : index + 2]
        return bool(following) and following[0] in {
            "мероприятие",
            "действие",
            "сотрудничество",
            "реализация",
            "совместный",
        }
    if lemma == "программа":
        following = sentence.lemmas[index + 1 : index + 2]
        return bool(following) and following[0] in {"сотрудничество", "совместный"}
    if lemma == "протокол":
        following = sentence.lemmas[index + 1 : index + 2]
        return bool(following) and following[0] not in {"заседание", "допрос", "осмотр"}
    return True


def _subject(sentence: _Sentence, index: int) -> str:
    """The document's name: leading adjectives, the noun, and its «о …»/«по …» complement."""
    text = sentence.text
    first = index
    while first > 0 and _is_adjective(sentence, first - 1):
        lemma = sentence.lemmas[first - 1]
        if lemma in _SUBJECT_STOP_LEMMAS or lemma in {"свой", "наш", "их", "новый", "который"}:
            break
        first -= 1
        if index - first >= 3:
            break
    last = index
    count = 0
    position = index + 1
    while position < len(sentence.lemmas) and count < _SUBJECT_MAX_WORDS:
        gap = text[_word_end(sentence, position - 1) : sentence.starts[position]]
        if any(mark in gap for mark in '.;:!?()«»"') and "«" not in gap:
            break
        if "," in gap and (
            not _ADJECTIVE_END.search(_word_at(sentence, position))
            or _morph().parse(_word_at(sentence, position))[0].tag.POS == "PRTF"
        ):
            break  # «…, согласованного делегациями»: a participle after a comma is a clause
        lemma = sentence.lemmas[position]
        word = _word_at(sentence, position)
        if position == index + 1 and lemma in _SUBJECT_TAIL_PREPOSITIONS:
            if lemma in {"в", "во"} and sentence.lemmas[position + 1 : position + 2] not in (
                ["сфера"],
                ["область"],
            ):
                break  # «контракты в рамках форума», «соглашение в Ташкенте»: a circumstance
            last = position
        elif (
            lemma in _SUBJECT_STOP_LEMMAS
            and not _in_sphere(sentence, position)
            and not (
                lemma == "и" and last > index and _ADJECTIVE_END.search(_word_at(sentence, last))
            )
        ):
            if lemma == "и" and last > index:
                last = position
                position += 1
                count += 1
                continue
            break
        elif lemma in _SUBJECT_TAIL_PREPOSITIONS:
            if lemma in {"в", "во"} and sentence.lemmas[position + 1 : position + 2] != ["сфера"]:
                break
            last = position
        elif word[:1].isupper() and lemma not in _DOCUMENT_LEMMAS and position > index + 1:
            # A proper name after the complement is usually a party, except inside quotes.
            if "«" in gap or (last == position - 1 and _word_at(sentence, last)[:1].isupper()):
                last = position
            else:
                break
        elif position == index + 1 and lemma not in _DOCUMENT_LEMMAS:
            # A genitive complement: «план мероприятий», «протокол намерений».
            last = position
        elif _participial_clause(sentence, position):
            break
        elif last == position - 1:
            last = position
        else:
            break
        position += 1
        count += 1
    # Drop a trailing preposition or conjunction.
    while last > index and sentence.lemmas[last] in (_SUBJECT_TAIL_PREPOSITIONS | {"и"}):
        last -= 1
    end = _word_end(sentence, last)
    result = text[sentence.starts[first] : end].strip(" ,")
    if result.count("«") > result.count("»"):
        closing = text.find("»", end)
        if closing != -1 and closing - end < 60:
            result = text[sentence.starts[first] : closing + 1]
    if result.count('"') % 2:
        closing = text.find('"', end)
        if closing != -1 and closing - end < 60:
            result = text[sentence.starts[first] : closing + 1]
        else:
            result = result.replace('"', "")
    return _register_form(result)


def _register_form(subject: str) -> str:
    """A subject as the register lists it: the document and its adjectives in the
    nominative («дорожную карту сотрудничества» is «дорожная карта сотрудничества»,
    «Меморандума о …» «меморандум о …»); a plural stays plural, and so does a form that
    may be either («соглашения о сотрудничестве»)."""
    words = _nominative(_morph(), subject.split(" "))
    first = words[0] if words else ""
    if first[:1].isupper() and not first.isupper() and fold(first) in _DOCUMENT_FORMS:
        words[0] = first[:1].lower() + first[1:]
    return " ".join(words)


_CLAUSE_PREPOSITIONS = {"в", "во", "на", "с", "со", "между", "при", "под", "у"}


def _participial_clause(sentence: _Sentence, index: int) -> bool:
    """«меморандум о сотрудничестве состоявшегося в Омске форума»: a participle opening a
    phrase with a preposition ends the document's name."""
    following = sentence.lemmas[index + 1 : index + 2]
    if not following or following[0] not in _CLAUSE_PREPOSITIONS:
        return False
    word = _word_at(sentence, index)
    if not re.fullmatch(r"[а-яё]+", word):
        return False
    # pymorphy3 takes some participles («прошедшей») for adjectives: the suffix tells.
    return _morph().parse(word)[0].tag.POS == "PRTF" or bool(_PARTICIPLE_END.search(word))


_PARTICIPLE_END = re.compile(r"(?:вш|ш|щ)(?:ий|ая|ее|ей|его|ему|им|ем|их|ие|ую|ого|ому|ой)$")


def _in_sphere(sentence: _Sentence, index: int) -> bool:
    """«в сфере …» continues a subject; other «в …» end it."""
    return sentence.lemmas[index] in {"в", "во"} and sentence.lemmas[index + 1 : index + 2] == [
        "сфера"
    ]


def _is_adjective(sentence: _Sentence, index: int) -> bool:
    return bool(_ADJECTIVE_END.search(_word_at(sentence, index))) and bool(
        re.search(r"(?:ый|ий|ой)$", sentence.lemmas[index])
    )


def _word_at(sentence: _Sentence, index: int) -> str:
    match = _WORD.match(sentence.text, sentence.starts[index])
    return match.group() if match else ""


def _word_end(sentence: _Sentence, index: int) -> int:
    return sentence.starts[index] + len(_word_at(sentence, index))


def _status(sentence: _Sentence, offset: int) -> str | None:
    """Signed or planned, from the verbs of the sentence nearest to the document."""
    text = sentence.text
    planned = [m.start() for m in _PLANNED.finditer(text)]
    signed = [m.start() for m in _SIGNED.finditer(text)]
    if not planned and not signed:
        return None
    nearest_planned = min((abs(p - offset) for p in planned), default=10**6)
    nearest_signed = min((abs(s - offset) for s in signed), default=10**6)
    return PLANNED if nearest_planned <= nearest_signed else SIGNED


_LEADING_CIRCUMSTANCE = re.compile(
    r"^(?:(?:сегодня|вчера|завтра|также|кроме\s+того|в\s+частности|накануне|"
    r"по\s+итогам\s+\S+(?:\s+\S+)?|в\s+ходе\s+\S+(?:\s+\S+)?|"
    r"\d{1,2}\s+[а-я]+(?:\s+\d{4}\s*(?:года|г\.))?|в\s+[А-ЯЁ]\S+)[\s,]+)+",
    re.IGNORECASE,
)
_PARTY_WITH = re.compile(
    r"\bсо?\s+((?:(?!(?:о|об|на|по|в|во|для|до|сроком|который|подписан\w*|заключен\w*|был[оиа]?)[\s,.])(?:«[^»]{1,60}»|[^\s,.;:«»()]+)"
    r"\s*){1,8})",
    re.IGNORECASE,
)
_MAX_PARTY_WORDS = 9


def _parties(
    sentence: _Sentence, document_offset: int, region: str | None = None
) -> tuple[str, ...]:
    """Parties as written: «между X и Y»; «X и Y подписали …»; «X подписал … с Y»; «X и Y
    готовят соглашение» (any verb right before the document); «Соглашение подписали X и Y»
    (the subject after the verb).  ``region`` is the Russian region the article named before:
    «регион» among the parties stands for it, and it is the Russian side of a document
    «подписано с Y» that names only its foreign party."""
    text = sentence.text
    match = _PARTIES_BETWEEN.search(text, document_offset)
    if match is None:
        # «между» before the document only when both sides look like parties: not «отношения
        # между странами развиваются …, и свидетельство этого — договор».
        match = _PARTIES_BETWEEN.search(text, 0, document_offset)
        if match is not None and not all(_clean_enough(_short_party(g)) for g in match.groups()):
            match = None
    if match:
        return _clean_parties(_short_party(group) for group in match.groups())
    verb = _SIGNED.search(text) or _PLANNED.search(text)
    parties: list[str] = []
    active = verb is not None and re.match(
        r"(?i)подписал|заключил|подпиш|намерен|планиру|готов|скрепил|поставил|договорил",
        verb.group(),
    )
    verb_start = verb.start() if verb is not None and active else None
    governing = False
    if verb_start is None or verb_start > document_offset:
        verb_start = _verb_before(text, document_offset)
        governing = verb_start is not None
    if verb_start is not None and verb_start < document_offset:
        head = text[:verb_start]
        if head.count("«") == head.count("»"):
            head = re.split(r"[,:;—–]", head)[-1]
        head = _LEADING_CIRCUMSTANCE.sub("", head.strip()).strip(" ,—-")
        head = re.sub(r"^(?:а|и|но|также)\s+", "", head)
        words = head.split()
        if words and len(words) <= 2 * _MAX_PARTY_WORDS:
            parts = [part.strip(" ,") for part in re.split(r"\s+и\s+", head, maxsplit=1)]
            if region is not None:
                parts = [
                    region if fold(_PARTY_LEADING.sub("", part)) == "регион" else part
                    for part in parts
                ]
            if all(_looks_like_party(part) for part in parts) and (
                not governing
                or (
                    all(_clean_enough(_PARTY_LEADING.sub("", part)) for part in parts)
                    and not re.match(r"(?i)(?:на|в|во|по|при|за|из|от|до|у|к|о|об|с|со)\s", head)
                )
            ):
                parties.extend(parts)
    if not parties and verb is not None and active and verb.start() > document_offset:
        parties.extend(_parties_after_verb(text[verb.end() :]))
    with_party = _PARTY_WITH.search(text, document_offset)
    if with_party is not None and len(parties) < 2:
        if (
            not parties
            and verb_start is None
            and region is not None
            and _names_a_partner(sentence, with_party.start(1), with_party.end(1))
        ):
            parties.append(region)  # «Соглашение подписано с казахстанским производителем …»
        parties.append(with_party.group(1).strip())
    return _clean_parties(parties)


_AFTER_VERB_CIRCUMSTANCE = re.compile(
    rf"^(?:(?:\d{{1,2}}\s+(?:{_MONTH_STEMS})[а-я]*(?:\s+\d{{4}}\s*(?:года|г\.))?|сегодня|вчера|"
    r"также|накануне|(?:на\s+полях|в\s+ходе|в\s+рамках)\s+(?:«[^»]*»|\S+)(?:\s+«[^»]*»|\s+[А-ЯЁA-Z]\S*)*|"
    r"в\s+[А-ЯЁ]\S+)[\s,]+)+"
)


def _parties_after_verb(tail: str) -> list[str]:
    """«Соглашение подписали 5 июня на полях форума губернатор области и аким района»: the
    subject after the verb, when it names two parties."""
    tail = _AFTER_VERB_CIRCUMSTANCE.sub("", tail.strip())
    tail = re.split(r"[.;:!?]|,\s", tail, maxsplit=1)[0]
    parts = [part.strip(" ,") for part in re.split(r"\s+и\s+", tail, maxsplit=1)]
    if len(parts) == 2 and all(_clean_enough(part) for part in parts):
        return parts
    return []


def _names_a_partner(sentence: _Sentence, start: int, end: int) -> bool:
    first, last = _lemma_at(sentence, start), _lemma_at(sentence, end)
    return any(
        first <= position < last and code != "RU" for position, code in _country_mentions(sentence)
    )


_VERB_BEFORE_WORDS = 3


def _verb_before(text: str, document_offset: int) -> int | None:
    """Start of a finite verb among the few words before the document: «X и Y готовят
    соглашение», «X и Y подписали вчера договор»."""
    morph = _morph()
    words = list(re.finditer(r"[А-Яа-яЁё\-]+", text[:document_offset]))
    for match in reversed(words[-_VERB_BEFORE_WORDS:]):
        word = match.group()
        if word[:1].isupper():
            return None
        parse = morph.parse(word)[0]
        if parse.tag.POS == "VERB" and parse.tag.mood == "indc":
            # Only a verb that governs the document: nothing but words between them, not
            # «Как сообщало агентство, само соглашение …».
            if re.search(r"[^\sА-Яа-яЁё\-]", text[match.end() : document_offset]):
                return None
            return match.start()
    return None


def _region_named_before(sentences: list[_Sentence], position: int) -> str | None:
    """The Russian region the article named last before ``sentences[position]`` («Челябинская
    область»), in the nominative: what «регион» of a later sentence refers to."""
    names = _region_names()
    for sentence in reversed(sentences[:position]):
        lemmas = sentence.lemmas
        found: tuple[int, int] | None = None
        for index in range(len(lemmas) - 1):
            for size in (3, 2):
                if index + size <= len(lemmas) and tuple(lemmas[index : index + size]) in names:
                    found = (index, size)
                    break
        if found is not None:
            index, size = found
            end = _word_end(sentence, index + size - 1)
            return _clean_party(sentence.text[sentence.starts[index] : end])
    return None


@cache
def _region_names() -> frozenset[tuple[str, ...]]:
    """Lemmas of the Russian regions' full names of two words or more («Челябинская
    область», «Республика Алтай»)."""
    lemmatizer = shared_lemmatizer()
    return frozenset(
        key
        for entry in data.region_data().get("regions", [])
        for name in entry.get("names", ())
        if len(key := tuple(lemmatizer.lemma(w) for w in _WORD.findall(name))) > 1
    )


def _clean_parties(parties: Iterable[str]) -> tuple[str, ...]:
    split = [piece for party in parties for piece in _split_provinces(party)]
    cleaned = [_clean_party(party) for party in _share_province_noun(split)]
    return tuple(dict.fromkeys(party for party in cleaned if _clean_enough(party)))


_NAME_ADJECTIVE = re.compile(
    r"[А-ЯЁ][а-яё]*(?:-[А-ЯЁ]?[а-яё]+)*(?:ой|ая|ую|ий|ый|ого|ому|ым|им|ом|ых|их|ыми|ими|ые|ие)"
)


def _is_name_adjective(word: str) -> bool:
    """«Хатлонской», «Иссык-Кульской»: a capitalised adjective of a place, not a place itself
    («Москвой», «Ульяновском» of «с Ульяновском»), which the same endings may also end."""
    return bool(_NAME_ADJECTIVE.fullmatch(word)) and not any(
        parse.tag.POS == "NOUN" and "Geox" in parse.tag for parse in _morph().parse(word)
    )


def _split_provinces(party: str) -> list[str]:
    """«Ташкентской и Ферганской областями», «Наманганской, Ферганской и Андижанской областями»:
    one province per party, each with the noun."""
    match = re.fullmatch(
        rf"((?:{_NAME_ADJECTIVE.pattern})(?:\s*,\s*(?:{_NAME_ADJECTIVE.pattern}))*)\s+и\s+"
        rf"({_NAME_ADJECTIVE.pattern})\s+([а-яё]+)",
        party.strip(),
    )
    if match is None or shared_lemmatizer().lemma(match.group(3)) not in _PROVINCE_NOUNS:
        return [party]
    names = [*re.split(r"\s*,\s*", match.group(1)), match.group(2)]
    if not all(_is_name_adjective(name) for name in names):
        return [party]
    return [f"{name} {match.group(3)}" for name in names]


def _share_province_noun(parties: list[str]) -> list[str]:
    """«подписаны соглашения с Омской и Могилевской областями» gives «Омской» and «Могилевской
    областями»: the bare name takes the noun of the other."""
    lemmatizer = shared_lemmatizer()
    nouns = [
        words[-1]
        for words in (party.split() for party in parties)
        if len(words) > 1 and lemmatizer.lemma(words[-1]) in _PROVINCE_NOUNS
    ]
    if not nouns:
        return parties
    return [
        f"{party.strip()} {nouns[0]}" if _is_name_adjective(party.strip()) else party
        for party in parties
    ]


# The gender of a province noun, for its adjective in the nominative.
_PROVINCE_GENDERS = {"область": "femn", "провинция": "femn", "префектура": "femn"}


def _province_name(words: list[str]) -> str | None:
    """«Хатлонской областью», «Могилевской областями», «Алтайского края» as the names they
    are (ending rules: the dictionary does not know every province's adjective, and
    guesses some for surnames)."""
    if len(words) < 2 or not all(_is_name_adjective(word) for word in words[:-1]):
        return None
    noun = shared_lemmatizer().lemma(words[-1])
    if noun not in _PROVINCE_NOUNS:
        return None
    gender = _PROVINCE_GENDERS.get(noun, "masc")
    names = []
    for word in words[:-1]:
        stem = _ADJECTIVE_ENDING.sub("", word)
        if gender == "femn":
            names.append(stem + "ая")
        else:
            names.append(stem + ("ий" if stem[-1:] in "кгхжшщч" else "ый"))
    return " ".join((*names, noun))


def _clean_enough(party: str) -> bool:
    """A name or an organisation, not the sides («Стороны»), a reference («регион») or a piece
    of the clause («свидетельство этого — договор», «регион договора»)."""
    if not party or " — " in party or fold(party) in {"стороны", "сторона", "регион"}:
        return False
    if " " not in party and shared_lemmatizer().lemma(party) in _REGION_OFFICIALS | {"министр"}:
        return False  # «губернатор» alone
    lemmatizer = shared_lemmatizer()
    if any(lemmatizer.lemma(w) in _DOCUMENT_LEMMAS for w in _WORD.findall(party)):
        return False
    return _looks_like_party(party)


_PARTY_HEADS = {
    "производитель",
    "поставщик",
    "экспортёр",
    "импортёр",
    "оператор",
    "перевозчик",
    "аймак",
    "провинция",
    "штат",
    "вилоят",
    "велаят",
    "округ",
    "префектура",
    "оэз",
    "минэкономразвития",
    "минпромторг",
    "комитет",
    "управление",
    "торгпредство",
    "правление",
    "руководство",
    "правительство",
    "администрация",
    "министерство",
    "минсельхоз",
    "губернатор",
    "глава",
    "председатель",
    "хоким",
    "хокимият",
    "аким",
    "акимат",
    "мэр",
    "мэрия",
    "министр",
    "компания",
    "предприятие",
    "завод",
    "университет",
    "вуз",
    "больница",
    "агентство",
    "представительство",
    "делегация",
    "сторона",
    "область",
    "край",
    "республика",
    "город",
    "порт",
    "банк",
    "фонд",
    "палата",
    "посольство",
    "консульство",
    "ассоциация",
    "союз",
    "холдинг",
    "группа",
    "объединение",
    "корпорация",
    "институт",
    "академия",
    "центр",
}


def _looks_like_party(text: str) -> bool:
    """A name («Омская область», «АО «Узагроэкспорт»») or an organisation or official
    («правительство области», «хоким Бухарской области»), not a stray word of a clause."""
    words = text.split()
    if not words or len(words) > _MAX_PARTY_WORDS:
        return False
    if words[0][:1].isupper():
        return True
    lemmatizer = shared_lemmatizer()
    return any(lemmatizer.lemma(word.strip("«»")) in _PARTY_HEADS for word in words[:3])


def _short_party(text: str) -> str:
    words = text.split()
    return " ".join(words[:8]).strip(" ,")


# Words around a party that are no part of its name: «Ранее регион», «аким … 14 мая 2025 года».
_PARTY_LEADING = re.compile(
    r"^(?:(?:а|и|но|также|ранее|сегодня|вчера|затем|впервые|официально|уже|недавно|сначала)"
    r"[\s,]+)+",
    re.IGNORECASE,
)
_PARTY_TRAILING = re.compile(
    rf"(?:[\s,]+(?:\d{{1,2}}\s+(?:{_MONTH_STEMS})[а-я]*(?:\s+\d{{4}}\s*(?:года|г\.)?)?|"
    r"сегодня|вчера|также|ранее|уже|официально|впервые|торжественно|"
    r"(?:в|во|на)\s+(?:полях|ходе|рамках)\b.*|во\s+главе\s+с\b.*|в\s+[А-ЯЁ][а-яё\-]+))+$",
)
# An official of a region stands for the region: «губернатор Свердловской области» signs for
# «Свердловская область».
_REGION_OFFICIALS = {
    "губернатор",
    "глава",
    "аким",
    "хоким",
    "мэр",
    "врио",
    "руководитель",
    "председатель",
}
_PROVINCE_NOUNS = {
    "область",
    "провинция",
    "штат",
    "аймак",
    "вилоят",
    "велаят",
    "округ",
    "край",
    "район",
    "префектура",
    "уезд",
}
_OBLIQUE_CASES = {"gent", "datv", "accs", "ablt", "loct"}


def _morph() -> Any:
    return shared_lemmatizer().analyzer


def _clean_party(text: str) -> str:
    """A party as a clean noun phrase in the nominative: «Хабаровским краем» is «Хабаровский
    край», «губернатор Курганской области Вадим Шумков» «Курганская область», «Наманганская
    область Узбекистана» «Наманганская область», «аймак Сэлэнгэ 3 апреля» «аймак Сэлэнгэ»,
    «Монголией действует с 2015 года» «Монголия»."""
    text = re.sub(r"\s+", " ", text).strip(" ,—–-")
    if text.count("»") > text.count("«"):
        text = text[text.rfind("»") + 1 :].strip(" ,—–-")  # «…Азия» губернатор …»: a tail
    for _ in range(3):
        text = _PARTY_LEADING.sub("", text)
        text = _PARTY_TRAILING.sub("", text).strip(" ,—–-")
    words = _party_words(text)
    words = _after_leading_clause(words)
    while len(words) > 1 and fold(words[-1]) in {"им", "им.", "имени"}:
        words = words[:-1]  # «университет имени», the name cut off
    lemmatizer = shared_lemmatizer()
    if len(words) > 1 and lemmatizer.lemma(words[-1]) in _REGION_OFFICIALS | {"министр"}:
        words = words[:-1]  # «Казахстан губернатор»: the official of the next party
    if not words:
        return ""
    province_name = _province_name(words)
    if province_name is not None:
        return _same_case(words[0], province_name) if words[0][:1].isupper() else province_name
    morph = _morph()
    # Cut at a verb or a time circumstance: the clause goes on past the name.
    for position, word in enumerate(words):
        if position and (
            (not word.startswith("«") and _is_verb(morph, word))
            or (
                word.lower() in {"с", "со"}
                and position + 1 < len(words)
                and words[position + 1][:1].isdigit()
            )
        ):
            words = words[:position]
            break
    # A person's name after a title: «министр экономики Азербайджана Шахин Мустафаев».
    while (
        len(words) > 2
        and re.fullmatch(r"[А-ЯЁ][а-яё\-]+", words[-1])
        and _is_person_name(morph, words[-2])
    ):
        words = words[:-2]
    lemmas = [lemmatizer.lemma(word.strip("«»")) for word in words]
    province = next(
        (i for i, lemma in enumerate(lemmas[:5]) if lemma in _PROVINCE_NOUNS | {"республика"}),
        None,
    )
    if province is not None and len(words) > 1 and lemmas[0] in _REGION_OFFICIALS:
        # «хоким Бухарской области Республики Узбекистан Фаррух Саидов»: the region.
        words, lemmas = words[1:], lemmas[1:]
        province -= 1
        if lemmas[province] == "республика" and province + 1 < len(words):
            province += 1  # «глава Республики Алтай»
        words, lemmas = words[: province + 1], lemmas[: province + 1]
    if province is not None and province + 1 < len(words):
        # «Наманганская область Узбекистана», «… Республики Таджикистан», «… области
        # Российской Федерации»: the country of a province is no part of its name; a person
        # named after it neither.
        rest = lemmas[province + 1 :]
        if rest and rest[0] == "республика":
            rest = rest[1:]
        elif fold(words[province + 1]) == rest[0]:
            rest = []  # «аймак Дорнод»: a name in apposition, not a genitive
        if any(tuple(rest[:size]) in _country_names() for size in range(len(rest), 0, -1)):
            words = words[: province + 1]
    return " ".join(_nominative(morph, words))


# A clause or circumstance a party was cut with: «На этом мероприятии губернатор …», «что
# Ширакская область», «Для этого», «С целью развития отношений 7 октября».
_CLAUSE_OPENERS = {
    "в",
    "во",
    "на",
    "с",
    "со",
    "для",
    "по",
    "при",
    "после",
    "перед",
    "к",
    "от",
    "из",
    "за",
    "что",
    "чтобы",
    "как",
    "когда",
    "где",
    "поэтому",
    "этот",
}


def _after_leading_clause(words: list[str]) -> list[str]:
    """The words from the party's name on, when a clause or circumstance leads: from the first
    capitalised word or organisation («губернатор», «правительство») after it; none when
    there is no such word."""
    if not words or fold(words[0]) not in _CLAUSE_OPENERS:
        return words
    lemmatizer = shared_lemmatizer()
    for position in range(1, len(words)):
        word = words[position]
        if word[:1].isupper() or word.startswith("«") or lemmatizer.lemma(word) in _PARTY_HEADS:
            return words[position:]
    return []


def _party_words(text: str) -> list[str]:
    """Words of a party, a quoted name («Ашгабат Инжиниринг») kept as one."""
    return re.findall(r"«[^»]*»\S*|[^\s«]+", text)


def _is_verb(morph: Any, word: str) -> bool:
    if not re.fullmatch(r"[а-яё\-]+", word):
        return False
    parse = morph.parse(word)[0]
    return parse.tag.POS in {"VERB", "INFN", "PRTS", "GRND"}


def _is_person_name(morph: Any, word: str) -> bool:
    if not re.fullmatch(r"[А-ЯЁ][а-яё]+", word):
        return False
    parses = morph.parse(word)
    if any(p.tag.POS == "NOUN" and "Geox" in p.tag for p in parses[:2]):
        return False
    return any(
        {"Name", "Surn", "Patr"} & set(str(p.tag).replace(" ", ",").split(",")) for p in parses[:3]
    )


def _nominative(morph: Any, words: list[str]) -> list[str]:
    """The leading adjectives and head noun of a phrase put in the nominative; the rest (a
    genitive complement, a quoted name) stays as written."""
    head = None
    for position, word in enumerate(words[:4]):
        if word.startswith("«") or not re.fullmatch(r"[А-Яа-яЁё\-]+", word):
            return words
        parses = morph.parse(word)
        nouns = [p for p in parses if p.tag.POS == "NOUN"]
        adjectives = [p for p in parses if p.tag.POS in {"ADJF", "PRTF"}]
        if nouns and (not adjectives or nouns[0].score >= adjectives[0].score):
            head = (position, nouns)
            break
        if not adjectives:
            return words
    if head is None:
        return words
    position, nouns = head
    before = [
        [p for p in morph.parse(word) if p.tag.POS in {"ADJF", "PRTF"}] for word in words[:position]
    ]
    if any(p.tag.case == "nomn" for p in nouns) and all(
        any(p.tag.case == "nomn" for p in adjective) for adjective in before
    ):
        return words
    # The reading of the noun its adjectives agree with: «Курганской области» is genitive.
    agreeing = [
        p
        for p in nouns
        if p.tag.case in _OBLIQUE_CASES
        and all(
            any(a.tag.case == p.tag.case and a.tag.number == p.tag.number for a in adjective)
            for adjective in before
        )
    ]
    noun = agreeing[0] if agreeing else None
    if noun is None:
        return words
    number = noun.tag.number or "sing"
    result = list(words)
    inflected = noun.inflect({"nomn", number})
    if inflected is None:
        return words
    result[position] = _same_case(words[position], inflected.word)
    agreement = {"nomn", "plur"} if number == "plur" else {"nomn", noun.tag.gender or "masc"}
    for index in range(position):
        candidates = [
            p
            for p in morph.parse(words[index])
            if p.tag.POS in {"ADJF", "PRTF"}
            and p.tag.case == noun.tag.case
            and p.tag.number == noun.tag.number
        ]
        form = candidates[0].inflect(agreement) if candidates else None
        if form is None:
            return words
        result[index] = _same_case(words[index], form.word)
    return result


def _same_case(original: str, word: str) -> str:
    """``word`` with the capitals of ``original`` at the start of each hyphenated part."""
    parts = word.split("-")
    originals = original.split("-")
    return "-".join(
        part[:1].upper() + part[1:]
        if index < len(originals) and originals[index][:1].isupper()
        else part
        for index, part in enumerate(parts)
    )


def _lemma_key(text: str) -> frozenset[str]:
    lemmatizer = shared_lemmatizer()
    return frozenset(
        lemmatizer.lemma(w) for w in _WORD.findall(text) if len(w) > 2 or w[:1].isupper()
    )


def extract_agreements(
    title: str | None,
    text: str,
    countries: Iterable[str],
    published: date | None = None,
    *,
    sentences: list[_Sentence] | None = None,
) -> tuple[Agreement, ...]:
    partners = tuple(dict.fromkeys(countries))
    if not partners:
        return ()
    sentences = sentences if sentences is not None else _sentences(title, text)
    found: list[Agreement] = []
    keys: list[tuple[str, frozenset[str], str]] = []
    for position, sentence in enumerate(sentences):
        if _DOCUMENT_LEMMAS.isdisjoint(sentence.lemmas):
            continue
        mentioned = [code for _, code in _country_mentions(sentence)]
        for index in range(len(sentence.lemmas)):
            if not _is_document(sentence, index):
                continue
            offset = sentence.starts[index]
            status = _status(sentence, offset)
            if status is None and (
                _DATED_DOCUMENT.match(sentence.text, _word_end(sentence, index))
                or _under_execution(sentence, index)
            ):
                status = SIGNED
            if status is None:
                continue
            if _signed_with_a_federal_body(sentence, index, partners):
                continue
            if _unnamed_plural(sentence, index):
                continue
            sentence_partners = tuple(code for code in partners if code in mentioned)
            if not sentence_partners:
                if len(partners) != 1:
                    continue
                sentence_partners = partners
            subject = _subject(sentence, index)
            head = sentence.lemmas[index]
            key = (status, _lemma_key(subject) - {"о", "об", "по"}, head)
            day = None
            if status == SIGNED:
                day = _agreement_date(sentences, position, published)
            region = _region_named_before(sentences, position)
            agreement = Agreement(
                parties=_parties(sentence, offset, region),
                countries=sentence_partners,
                subject=subject,
                status=status,
                date=day,
            )
            same = next((i for i, other in enumerate(keys) if _same_document(key, other)), None)
            if same is None:
                found.append(agreement)
                keys.append(key)
            else:
                # A later mention of the same document may say more: keep the fuller one.
                found[same] = _fuller(found[same], agreement)
            break  # one document per sentence: the first named
    return tuple(found)


_GOVERNING_GENITIVE = {"проект", "подписание", "текст", "реализация", "рамка", "разработка"}
_DATED_DOCUMENT = re.compile(
    rf"(?:\s+\S+){{0,8}}?\s+от\s+\d{{1,2}}\s+(?:{_MONTH_STEMS})[а-я]*\s+\d{{4}}", re.IGNORECASE
)


_EXECUTION = {"исполнение", "реализация", "выполнение"}


def _under_execution(sentence: _Sentence, index: int) -> bool:
    """«мероприятия по исполнению протокола намерений …», «реализация соглашения»: a document
    being carried out was signed before."""
    first = index
    while first > 0 and _is_adjective(sentence, first - 1):
        first -= 1
    return first > 0 and sentence.lemmas[first - 1] in _EXECUTION


_FEDERAL_BODY = re.compile(
    r"\b(?:[Фф]едеральн\w+\s+(?:агентств|служб|министерств)\w*|Россотрудничеств\w*)"
)


def _signed_with_a_federal_body(sentence: _Sentence, index: int, partners: tuple[str, ...]) -> bool:
    """«соглашение, подписанное главой республики и руководителем Федерального агентства …»:
    a region's document with a Russian federal body has no foreign party, even when the
    sentence names the partner before it."""
    end = _word_end(sentence, index)
    signing = _SIGNED.search(sentence.text, end)
    if signing is None or not _FEDERAL_BODY.search(sentence.text, signing.end()):
        return False
    after = _lemma_at(sentence, end)
    return not any(
        position >= after and code in partners for position, code in _country_mentions(sentence)
    )


def _unnamed_plural(sentence: _Sentence, index: int) -> bool:
    """«подписала договоры с комбинатом», «заключено более 200 соглашений»: documents counted,
    not named, unless a complement («соглашений по новым проектам») names them."""
    word = fold(_word_at(sentence, index))
    if not re.search(r"(?:ы|и|ий|ов|ей)$", word) or word == sentence.lemmas[index]:
        return False
    if re.search(r"(?:ой|ей)$", fold(_word_at(sentence, index - 1)) if index else ""):
        return False  # «дорожной карты», «совместной программы»: one document, genitive
    if _GOVERNING_GENITIVE & set(sentence.lemmas[max(0, index - 2) : index]):
        return False  # «проект дорожной карты», «подписание декларации»
    following = sentence.lemmas[index + 1 : index + 2]
    return not following or following[0] not in _SUBJECT_TAIL_PREPOSITIONS


def _fuller(first: Agreement, second: Agreement) -> Agreement:
    """One agreement from two mentions of the same document: the longer subject and parties,
    the first date given."""
    return Agreement(
        parties=max((first.parties, second.parties), key=lambda p: (len(p), len(" ".join(p)))),
        countries=tuple(dict.fromkeys((*first.countries, *second.countries))),
        subject=first.subject if len(first.subject) >= len(second.subject) else second.subject,
        status=first.status,
        date=first.date or second.date,
    )


def _same_document(
    key: tuple[str, frozenset[str], str], other: tuple[str, frozenset[str], str]
) -> bool:
    if key[0] != other[0]:
        return False
    if key[2] == other[2]:
        return True
    rest = key[1] - {key[2]}
    other_rest = other[1] - {other[2]}
    return bool(rest) and rest == other_rest


def _agreement_date(
    sentences: list[_Sentence], position: int, published: date | None
) -> str | None:
    sentence = sentences[position]
    found = _first_date(sentence.text, published, allow_today=True)
    if found is not None:
        return found[0]
    for earlier in reversed(sentences[:position]):
        if earlier.paragraph != sentence.paragraph:
            break
        found = _first_date(earlier.text, published, allow_today=True)
        if found is not None and found[1] <= 12:
            return found[0]
    return None


# ---------------------------------------------------------------------------------------------
# Figures

_SCALE = (
    r"(?:тыс(?:\.|яч[а-я]*\b)|млн\.?|миллион[а-я]*\b|млрд\.?|миллиард[а-я]*\b|"
    r"трлн\.?|триллион[а-я]*\b)"
)
_CURRENCY = (
    r"(?:долл(?:\.|ар[а-я]*\b)(?:\s+США)?|\$|руб(?:\.|л[а-я]*\b)|евро\b|юан[а-я]*\b|"
    r"сом[а-я]*\b|тенге\b|сум[а-я]*\b|манат[а-я]*\b)"
)
_MASS = r"(?:тонн[а-я]*\b|т\b(?!\.\s*[а-я])|кубометр[а-я]*\b|куб\.\s*м\b)"
_NUMBER = r"\d{1,3}(?:[ \u00a0]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_FIGURE = re.compile(
    rf"(?P<dollar>\$\s*)?(?:(?P<low>{_NUMBER})\s*[-–—]\s*)?(?P<number>{_NUMBER})\s*"
    rf"(?P<unit>%|процент[а-я]*\b|{_SCALE}(?:\s*(?:{_CURRENCY}|{_MASS}))?|{_CURRENCY}|{_MASS}|"
    r"раза?\b)",
    re.IGNORECASE,
)
_WORD_TIMES = re.compile(
    r"\b(?:(?P<adverb>вдвое|втрое|вчетверо|впятеро)|в\s+(?P<word>полтора|два|две|три|четыре|пять|"
    r"шесть|семь|восемь|девять|десять)\s+раза?)\b",
    re.IGNORECASE,
)
_WORD_NUMBERS = {
    "вдвое": 2.0,
    "втрое": 3.0,
    "вчетверо": 4.0,
    "впятеро": 5.0,
    "полтора": 1.5,
    "два": 2.0,
    "две": 2.0,
    "три": 3.0,
    "четыре": 4.0,
    "пять": 5.0,
    "шесть": 6.0,
    "семь": 7.0,
    "восемь": 8.0,
    "девять": 9.0,
    "десять": 10.0,
}
_INDICATOR_LEMMAS = {
    "товарооборот": "trade_turnover",
    "внешнеторговый": "trade_turnover",
    "товарообмен": "trade_turnover",
    "торговля": "trade_turnover",
    "оборот": "trade_turnover",
    "наторговать": "trade_turnover",
    "обмен": "trade_turnover",
    "экспорт": "export",
    "экспортировать": "export",
    "экспортный": "export",
    "поставка": "export",
    "поставить": "export",
    "поставлять": "export",
    "вывезти": "export",
    "вывоз": "export",
    "отгрузка": "export",
    "отгрузить": "export",
    "отгружать": "export",
    "импорт": "import",
    "импортировать": "import",
    "импортный": "import",
    "ввоз": "import",
    "ввезти": "import",
    "закупка": "import",
    "закупать": "import",
    "инвестиция": "investment",
    "инвестпроект": "investment",
    "инвестиционный": "investment",
    "инвестировать": "investment",
    "вложить": "investment",
    "вкладывать": "investment",
    "вложение": "investment",
    "капиталовложение": "investment",
    "грузооборот": "other",
    "груз": "other",
}
_CHANGE_WORDS = re.compile(
    r"\b(?:рост\w*|вырос\w*|выросл\w*|увелич\w*|прирост\w*|сниз\w*|снижен\w*|сократ\w*|"
    r"сокращен\w*|упал\w*|паден\w*|уменьш\w*|больше|меньше|возрос\w*|подскочил\w*|прибав\w*)",
    re.IGNORECASE,
)
_PERIOD = re.compile(
    r"(?:(?:перв|втор|трет|четв[её]рт)\w+\s+(?:квартал|полугоди)\w*(?:\s+(?:\d{4}\s*(?:года|г\.)?|"
    r"этого\s+года|текущего\s+года|прошлого\s+года))?|"
    r"(?:\d+|одиннадцат\w+|десят\w+|девят\w+|восем\w+|сем\w+|шест\w+|пят\w+|четыр\w+|тр[её]х|"
    r"дв\w+)\s+месяц\w*(?:\s+(?:\d{4}\s*(?:года|г\.)?|этого\s+года|текущего\s+года|"
    r"прошлого\s+года))?|"
    rf"(?:{_MONTH_STEMS})[а-я]*\s*[-–—]\s*(?:{_MONTH_STEMS})[а-я]*(?:\s+(?:\d{{4}}\s*(?:года|г\.)?|"
    r"этого\s+года|текущего\s+года|прошлого\s+года))?|"
    r"(?:по\s+итогам|за)\s+(?:\d{4}\s*(?:года|г\.)?|года|прошлого\s+года)|"
    r"(?:в|за)\s+прошлом\s+году|за\s+год|"
    r"(?<=\bв\s)\d{4}(?=\s*(?:г\.|году|года))|(?<=\bза\s)\d{4}(?=\s*(?:г\.|год|года))|"
    r"(?<=\bитогам\s)\d{4}(?=[-\s]*(?:г|год)))",
    re.IGNORECASE,
)
# A place after an export or import keyword: «из РФ», «в Башкирию», «из Узбекистана».
_SIDE_AFTER = re.compile(
    r"\b(?P<preposition>из|в|во)\s+(?:[а-яё]+\s+)?(?P<word>[А-ЯЁ][А-Яа-яЁё\-]+)"
)
_MAX_INDICATOR_DISTANCE = 25


_CARDINALS = {
    "один": 1,
    "два": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
    "полтора": 1.5,
}
# A unit written after a number in words: «сорок тысяч тонн», «два миллиарда рублей».
_WORDS_UNIT = re.compile(
    rf"(?<=[а-яё])\s+(?P<unit>(?:тысяч[а-я]*\b|миллион[а-я]*\b|миллиард[а-я]*\b)"
    rf"(?:\s*(?:{_CURRENCY}|{_MASS}))?|процент[а-я]*\b)",
    re.IGNORECASE,
)


def _numbers_in_words(sentence: _Sentence) -> list[tuple[int, float, str, re.Match[str]]]:
    """Numbers written in words before a scale or per cent: «сорок тысяч тонн» is 40
    «тысяч тонн», «полтора миллиарда рублей» 1.5 «миллиарда рублей»."""
    found: list[tuple[int, float, str, re.Match[str]]] = []
    if _CARDINALS.keys().isdisjoint(sentence.lemmas):
        return found  # a number in words is read from its cardinals' lemmas
    for match in _WORDS_UNIT.finditer(sentence.text):
        index = _lemma_at(sentence, match.start()) - 1
        value = 0.0
        first = index + 1
        while index >= 0 and sentence.lemmas[index] in _CARDINALS:
            value += _CARDINALS[sentence.lemmas[index]]
            first = index
            index -= 1
        if value > 0:
            unit = re.sub(r"\s+", " ", match.group("unit")).strip()
            found.append((sentence.starts[first], value, unit, match))
    return found


_BARE_SCALE = re.compile(
    r"(?P<scale>тыс\.|тысяч[а-я]*|млн|миллион[а-я]*|млрд|миллиард[а-я]*|трлн|триллион[а-я]*)\.?",
    re.IGNORECASE,
)
_SCALE_PREFIX = re.compile(rf"^{_SCALE}\s*", re.IGNORECASE)


def _unit_base(unit: str) -> str | None:
    """The currency or mass words of a unit («долларов США» of «млн долларов США»)."""
    base = _SCALE_PREFIX.sub("", unit).strip()
    if not base or base == "%" or re.match(r"(?i)(?:процент|раз)", base):
        return None
    return base


def _value(raw: str) -> float:
    return float(re.sub(r"[ \u00a0]", "", raw).replace(",", "."))


def _unit(match: re.Match[str]) -> str:
    unit = re.sub(r"\s+", " ", match.group("unit")).strip()
    if match.group("dollar"):
        scale = unit.rstrip(".").lower()
        short = {"млн": "млн", "млрд": "млрд", "тыс": "тыс."}.get(scale[:4].rstrip("."))
        if short is None:
            for prefix, name in (("миллион", "млн"), ("миллиард", "млрд"), ("тысяч", "тыс.")):
                if scale.startswith(prefix):
                    short = name
        return f"{short} долл." if short else "долл."
    return unit


def _period(sentence: _Sentence) -> str | None:
    match = _PERIOD.search(sentence.text)
    if match:
        return match.group().strip()
    return None


_CLAUSE_BREAK = re.compile(r",\s+а\s+(?:также\s+)?|;\s+|,\s+при\s+этом\s+|,\s+тогда\s+как\s+")


def _clause(sentence: _Sentence, offset: int) -> tuple[int, int]:
    """Character span of the clause around ``offset``."""
    start, end = 0, len(sentence.text)
    for match in _CLAUSE_BREAK.finditer(sentence.text):
        if match.end() <= offset:
            start = match.end()
        elif match.start() >= offset:
            end = match.start()
            break
    return start, end


def _best_keyword(
    sentence: _Sentence, word_index: int, first: int, last: int, excluded: frozenset[str]
) -> tuple[str, int] | None:
    best: tuple[int, str, int] | None = None
    for index in range(first, last):
        indicator = _INDICATOR_LEMMAS.get(sentence.lemmas[index])
        if indicator is None or indicator in excluded:
            continue
        distance = word_index - index
        if abs(distance) > _MAX_INDICATOR_DISTANCE:
            continue
        # Keywords before the number weigh more than after it; "other" only when alone.
        cost = distance if distance >= 0 else (-distance) * 3 + 6
        if indicator == "other":
            cost += 30
        if best is None or cost < best[0]:
            best = (cost, indicator, index)
    return (best[1], best[2]) if best else None


# What a sentence without a trade keyword may measure instead of the exchange of the sentence
# before: «Средняя зарплата … выросла на 11 %» after a sentence on export.
_OTHER_MEASURES = {
    "зарплата",
    "заработный",
    "пенсия",
    "урожайность",
    "урожай",
    "цена",
    "стоимость",
    "тариф",
    "инфляция",
    "безработица",
    "население",
    "численность",
    "добыча",
    "производство",
    "выпуск",
    "бюджет",
    "налог",
    "доход",
    "прибыль",
}
# People and prices measured next to a trade keyword: «рост товарооборота, а также поток
# туристов, составляющий около 80 %» — the number is the tourists' share, not the exchange's.
_NOT_EXCHANGE = {
    "турист",
    "турпоток",
    "пассажир",
    "пассажиропоток",
    "население",
    "житель",
    "студент",
    "мигрант",
    "цена",
    "зарплата",
    "тариф",
    "инфляция",
}


def _indicator(
    sentence: _Sentence, word_index: int, previous: _Sentence | None, unit: str
) -> str | None:
    """The indicator a number belongs to, from the nearest keyword of its clause, else of its
    sentence, else of the sentence before.  Tonnes are never an investment: a plant's
    capacity next to the money invested in it is not a figure of exchange."""
    excluded = (
        frozenset({"investment"})
        if _canonical_unit(unit).endswith(" t") or (_canonical_unit(unit) == "t")
        else frozenset()
    )
    offset = (
        sentence.starts[word_index] if word_index < len(sentence.starts) else len(sentence.text)
    )
    clause_start, clause_end = _clause(sentence, offset)
    found = _best_keyword(
        sentence,
        word_index,
        _lemma_at(sentence, clause_start),
        _lemma_at(sentence, clause_end),
        excluded,
    )
    if found is None:
        found = _best_keyword(sentence, word_index, 0, word_index, excluded)
    if found is None and any(lemma in _INDICATOR_LEMMAS for lemma in sentence.lemmas):
        return None
    if found is not None:
        indicator, index = found
        low, high = sorted((index, word_index))
        if _NOT_EXCHANGE & set(sentence.lemmas[low + 1 : high]):
            return None
        if indicator in {"export", "import"}:
            indicator = _direction(sentence, index, indicator)
        return indicator
    if previous is not None and not (_OTHER_MEASURES | _NOT_EXCHANGE) & set(
        sentence.lemmas[:word_index]
    ):
        for index, lemma in enumerate(previous.lemmas):
            keyword = _INDICATOR_LEMMAS.get(lemma)
            if keyword is not None and keyword != "other" and keyword not in excluded:
                if keyword in {"export", "import"}:
                    keyword = _direction(previous, index, keyword)
                return keyword
    return None


def _direction(sentence: _Sentence, index: int, indicator: str) -> str:
    """The Russian side's direction: a partner's import from Russia is export.  A keyword that
    names no side of its own keeps the partner's view an earlier keyword of the sentence took:
    «рост экспорта в Башкирию …, а импорта из республики …» is the Turkish side speaking."""
    direction, _partner_view = _side(sentence, index, indicator)
    if direction is not None:
        return direction
    for earlier in range(index - 1, -1, -1):
        keyword = _INDICATOR_LEMMAS.get(sentence.lemmas[earlier])
        if keyword is None or keyword not in {"export", "import"}:
            continue
        earlier_direction, partner_view = _side(sentence, earlier, keyword)
        if earlier_direction is None:
            continue
        if partner_view:
            return "export" if indicator == "import" else "import"
        break
    return indicator


def _side(sentence: _Sentence, index: int, indicator: str) -> tuple[str | None, bool]:
    """The direction the words after (or just before) a keyword give, if any, and whether they
    show the partner speaking (a flow into or out of Russia named from abroad)."""
    after = sentence.text[_word_end(sentence, index) : _word_end(sentence, index) + 60]
    following = sentence.lemmas[index + 1 : index + 3]
    if "российский" in following:
        # «закупки российского рапса»: bought from Russia; «экспорт российской пшеницы» too.
        return "export", indicator == "import"
    partner_side = re.match(
        r"^\s*(?:\S+\s+){0,3}?(?:в|во)\s+(?:\w+\s+)?(?:страну|республику)\b", after
    )
    before = sentence.text[max(0, sentence.starts[index] - 50) : sentence.starts[index]]
    if partner_side is None:
        partner_side = re.search(
            r"\b(?:в|во)\s+(?:\w+\s+)?(?:страну|республику)\s+(?:\w+\s+)?$", before
        )
    if partner_side is not None and indicator == "import":
        # «ввезено в арабскую страну»: the partner's import, the Russian side's export.
        return "export", True
    gazetteer = _gazetteer()
    lemmatizer = shared_lemmatizer()
    for match in _SIDE_AFTER.finditer(after):
        code = gazetteer.names.get((lemmatizer.lemma(match.group("word")),))
        if code is None:
            continue
        towards = match.group("preposition").lower() != "из"
        if code == "RU":
            # «импорт из РФ» is export; «экспорт в Башкирию» is import.
            if indicator == "import" and not towards:
                return "export", True
            if indicator == "export" and towards:
                return "import", True
        else:
            # «поставки из Узбекистана» are import; «импорт в Казахстан» is export.
            if indicator == "export" and not towards:
                return "import", False
            if indicator == "import" and towards:
                return "export", False
        return indicator, False
    return None, False


def _figure_countries(
    sentence: _Sentence,
    word_index: int,
    mentions: list[tuple[int, str]],
    partners: tuple[str, ...],
    article_mentions: set[str],
) -> tuple[str, ...] | None:
    foreign = [(i, code) for i, code in mentions if code != "RU"]
    if foreign:
        before = [(word_index - i, code) for i, code in foreign if i <= word_index]
        after = [(i - word_index, code) for i, code in foreign if i > word_index]
        nearest = min(before)[1] if before else min(after)[1]
        if nearest in partners:
            return (nearest,)
        return None
    if len(partners) == 1:
        return partners
    return None


def _is_change(sentence: _Sentence, start: int, end: int, unit: str) -> bool:
    lower = unit.lower()
    if lower.startswith("раз"):
        return True
    if not (lower == "%" or lower.startswith("процент")):
        return False
    clause_start, _clause_end = _clause(sentence, start)
    before = sentence.text[max(clause_start, start - 80) : start]
    after = sentence.text[end : end + 30]
    if re.search(
        r"(?:\bна|\+)\s*(?:более\s+чем\s+|почти\s+|около\s+|свыше\s+)?$", before, re.IGNORECASE
    ):
        return True
    if re.search(r"^\s*(?:больше|меньше)", after):
        return True
    return bool(_CHANGE_WORDS.search(before)) or bool(
        re.search(r"(?:\bс|\bсо)\s+(?:\w+\s+)?(?:рост\w*|прирост\w*|увеличени\w*)", before)
    )


# Where a figure may start: a digit or a dollar sign. Most sentences have none.
_FIGURE_START = re.compile(r"[\d$]")


def _figures_in(text: str) -> Iterator[re.Match[str]]:
    """What `_FIGURE.finditer(text)` finds, tried only where a figure may start: the pattern
    opens with optional groups, so a scan would try it at every character."""
    end = 0
    for start in _FIGURE_START.finditer(text):
        position = start.start()
        if position < end:
            continue
        match = _FIGURE.match(text, position)
        if match is not None:
            yield match
            end = match.end()


# A multiple in words is either an adverb or «в … раза»: both are cheap to rule out.
_WORD_TIMES_HINTS = ("раз", "вдвое", "втрое", "вчетверо", "впятеро")


def _word_times_in(text: str) -> Iterator[re.Match[str]]:
    lowered = text.lower()
    if not any(hint in lowered for hint in _WORD_TIMES_HINTS):
        return iter(())
    return _WORD_TIMES.finditer(text)


_TIMES_UNIT = re.compile(r"(?i)раза?")
_TIMES_BEFORE = re.compile(r"\bв\s*(?:более\s+чем\s+в\s+)?$")
_DIGIT_BEFORE = re.compile(r"\d\.?$")
# «против 120 млн», «с 80 %», «+12 %»: the figure compared with, or a change already read.
_COMPARED_WITH = re.compile(r"(?:\bпротив|\bс|\bсо|\+)\s*(?:\$\s*)?$")


def extract_figures(
    title: str | None,
    text: str,
    countries: Iterable[str],
    *,
    sentences: list[_Sentence] | None = None,
) -> tuple[Figure, ...]:
    partners = tuple(dict.fromkeys(countries))
    if not partners:
        return ()
    sentences = sentences if sentences is not None else _sentences(title, text)
    figures: list[Figure] = []
    in_headline: list[bool] = []
    seen: set[tuple[str, float, str, bool]] = set()
    article_mentions: set[str] = set()
    last_base: str | None = None
    for position, sentence in enumerate(sentences):
        mentions = _country_mentions(sentence)
        article_mentions.update(code for _, code in mentions)
        previous = sentences[position - 1] if position else None
        numbers: list[tuple[int, float, str, re.Match[str]]] = []
        for match in _figures_in(sentence.text):
            unit = _unit(match)
            if _TIMES_UNIT.fullmatch(unit):
                before = sentence.text[max(0, match.start() - 12) : match.start()]
                if not _TIMES_BEFORE.search(before):
                    continue
            if _DIGIT_BEFORE.search(sentence.text[max(0, match.start() - 2) : match.start()]):
                continue
            if not _change_in_parentheses(sentence.text, match.start()):
                if _in_breakdown(sentence.text, match.start()):
                    continue
                if _COMPARED_WITH.search(sentence.text[: match.start()]):
                    continue
            numbers.append((match.start(), _value(match.group("number")), unit, match))
        for match in _word_times_in(sentence.text):
            word = (match.group("adverb") or match.group("word") or "").lower()
            numbers.append((match.start(), _WORD_NUMBERS[word], "раза", match))
        numbers.extend(_numbers_in_words(sentence))
        # Only a sentence with a figure needs its period (a slow expression).
        period: str | None = None
        period_read = False
        if previous is not None and previous.paragraph != sentence.paragraph:
            last_base = None
        for offset, value, unit, match in sorted(numbers, key=lambda n: n[0]):
            if value <= 0:
                continue
            scale = _BARE_SCALE.fullmatch(unit)
            if scale is None:
                last_base = _unit_base(unit) or last_base
            elif last_base is not None:
                # «экспорт 320 млн долларов, импорт — 41 млн»: the currency is elided.
                unit = f"{scale.group('scale')} {last_base}"
            word_index = _lemma_at(sentence, offset)
            indicator = _indicator(sentence, word_index, previous, unit)
            if indicator is None:
                continue
            unit_words = range(word_index, _lemma_at(sentence, match.end()))
            figure_countries = _figure_countries(
                sentence,
                word_index,
                [m for m in mentions if m[0] not in unit_words],
                partners,
                article_mentions,
            )
            if figure_countries is None:
                continue
            change = _is_change(sentence, offset, match.end(), unit)
            key = (indicator, value, _canonical_unit(unit), change)
            if key in seen:
                continue
            seen.add(key)
            if not period_read:
                period, period_read = _period(sentence), True
            in_headline.append(sentence.headline)
            figures.append(
                Figure(
                    indicator=indicator,
                    value=value,
                    unit=unit,
                    change=change,
                    period=period,
                    countries=figure_countries,
                )
            )
    body = [figure for figure, head in zip(figures, in_headline, strict=True) if not head]
    return tuple(
        figure
        for figure, head in zip(figures, in_headline, strict=True)
        if not (head and any(_rounded_from(figure, other) for other in body))
    )


_HEADLINE_ROUNDING = 0.15


def _rounded_from(headline: Figure, figure: Figure) -> bool:
    """A headline «около 50 млн долларов» over a text giving 47,6 млн долл.: the headline
    rounds the figure its text gives exactly; the text's figure is the one kept."""
    if (headline.indicator, headline.change) != (figure.indicator, figure.change):
        return False
    if _canonical_unit(headline.unit) != _canonical_unit(figure.unit):
        return False
    largest = max(headline.value, figure.value)
    return abs(headline.value - figure.value) <= _HEADLINE_ROUNDING * largest


_FIGURE_END = re.compile(
    rf"(?:{_NUMBER})\s*(?:%|процент[а-я]*|{_SCALE}(?:\s*(?:{_CURRENCY}|{_MASS}))?|{_CURRENCY}|"
    rf"{_MASS})\s*$",
    re.IGNORECASE,
)


def _change_in_parentheses(text: str, offset: int) -> bool:
    """«143 млн долларов (+19,6 %)»: a signed rate in parentheses right after a level is the
    change of that level, not a product breakdown."""
    opening = text.rfind("(", 0, offset)
    if opening == -1 or not re.fullmatch(r"\(\s*[+\-−]\s*", text[opening:offset]):
        return False
    return bool(_FIGURE_END.search(text[max(0, opening - 60) : opening]))


def _in_breakdown(text: str, offset: int) -> bool:
    """Inside parentheses that open with a number: a product breakdown «(78,2 тыс. т, +157%)»."""
    opening = text.rfind("(", 0, offset)
    if opening == -1 or text.rfind(")", 0, offset) > opening:
        return False
    return bool(re.match(r"\(\s*[+\-−]?\d", text[opening:]))


# ---------------------------------------------------------------------------------------------
# Units


def canonical_unit(unit: str) -> str:
    """A unit reduced to scale and base: «млн долларов США», «млн. долларов», «млн долл.» and
    «$ млн» are all "1e6 USD"; «процента» and «%» are "%"; «тысяч тонн» is "1e3 t"."""
    return _canonical_unit(unit)


@lru_cache(maxsize=4096)
def _canonical_unit(unit: str) -> str:
    text = fold(unit).replace("ё", "е")
    scale = ""
    if re.search(r"\bтыс", text):
        scale = "1e3 "
    elif re.search(r"\b(?:млн|миллион)", text):
        scale = "1e6 "
    elif re.search(r"\b(?:млрд|миллиард)", text):
        scale = "1e9 "
    elif re.search(r"\b(?:трлн|триллион)", text):
        scale = "1e12 "
    for pattern, base in (
        (r"\$|долл", "USD"),
        (r"руб", "RUB"),
        (r"евро", "EUR"),
        (r"юан", "CNY"),
        (r"тонн|\bт\b", "t"),
        (r"%|процент", "%"),
        (r"\bраз", "times"),
    ):
        if re.search(pattern, text):
            return scale + base
    return (scale + text).strip()


# ---------------------------------------------------------------------------------------------


def extract_facts(
    title: str | None,
    text: str,
    countries: Iterable[str],
    published: date | None = None,
) -> Facts:
    """Agreements and figures of one article; ``countries`` are the tagger's partners."""
    partners = tuple(dict.fromkeys(countries))
    if not partners:
        return Facts()
    sentences = _sentences(title, text)
    return Facts(
        agreements=extract_agreements(title, text, partners, published, sentences=sentences),
        figures=extract_figures(title, text, partners, sentences=sentences),
    )


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


_KEY_STOP = {"о", "об", "по", "на", "в", "во", "и", "с", "со", "для", "между", "год"}


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def agreement_key(
    agreement: Agreement,
    published: date | None,
    regions: Iterable[str] = (),
    places: Iterable[str] | None = None,
) -> str:
    """One key for reports of one agreement worded alike: countries, status, the content
    lemmas of the subject, the day (or the week of publication when the text has none), the
    places among the parties and the Russian regions of the article: «соглашение о
    сотрудничестве» with one country may be signed by two regions, or with two provinces, in
    one week.  Reports worded otherwise join by their AgreementTerms when they are stored.
    ``places``: agreement_terms' places, when the caller has them already."""
    lemmas = sorted(_lemma_key(agreement.subject) - _KEY_STOP)
    when = agreement.date or (
        f"week {_week_start(published).isoformat()}" if published is not None else "undated"
    )
    if places is None:
        _document, _subject, places = agreement_terms(agreement)
    return _digest(
        (
            "agreement",
            ",".join(sorted(agreement.countries)),
            agreement.status,
            " ".join(lemmas),
            when,
            " ".join(sorted(places)),
            ",".join(sorted(set(regions))),
        )
    )


def agreement_terms(agreement: Agreement) -> tuple[str, frozenset[str], frozenset[str]]:
    """What tells two outlets' reports of one agreement from two agreements when their
    wordings differ (and so do their keys): the document («соглашение», «карта» of «дорожная
    карта»), the content lemmas of its subject besides the document, and the partner's
    provinces and cities named among its parties («администрация Навоийской области» →
    навоийский; not people or firms, which outlets name or leave out as they please)."""
    lemmatizer = shared_lemmatizer()
    words = _WORD.findall(agreement.subject)
    lemmas = [lemmatizer.lemma(word) for word in words]
    document = next((lemma for lemma in lemmas if lemma in _DOCUMENT_LEMMAS), "")
    subject = frozenset(
        lemma
        for word, lemma in zip(words, lemmas, strict=True)
        if len(word) > 2 or word[:1].isupper()
    )
    partner_places, longest = _partner_places()
    places: set[str] = set()
    for party in agreement.parties:
        party_lemmas = [_place_stem(lemmatizer.lemma(word)) for word in _WORD.findall(party)]
        for start in range(len(party_lemmas)):
            for size in range(min(longest, len(party_lemmas) - start), 0, -1):
                place = tuple(party_lemmas[start : start + size])
                if place in partner_places:
                    places.add("_".join(place))
                    break
    return document, subject - _KEY_STOP - {document}, frozenset(places)


# The dictionary does not know every province's adjective: «Хатлонской» stays «хатлонской»
# while «Хатлонская» becomes «хатлонский»; without its ending it is «хатлонск» in both.
_ADJECTIVE_ENDING = re.compile(
    r"(?:[ыио]й|[ая]я|[оеиы]е|[ое]го|[ое]му|[ыи]ми|[ыи]м|[ое]м|[ую]ю|[ыи]х|ей)$"
)


def _place_stem(lemma: str) -> str:
    return _ADJECTIVE_ENDING.sub("", lemma) if len(lemma) > 5 else lemma


@cache
def _partner_places() -> tuple[frozenset[tuple[str, ...]], int]:
    """Lemmas of the provinces and cities of partner countries («Навоийская область»,
    «Худжанд»), and the most words one has: what tells one party from another where
    «Омская область» and «Омск», or «Таджикистан» and «Республика Таджикистан», are the
    same side."""
    lemmatizer = shared_lemmatizer()
    fields = ("capitals", "cities", "city_adjectives", "provinces", "province_adjectives")
    places = frozenset(
        tuple(_place_stem(lemmatizer.lemma(word)) for word in _WORD.findall(phrase))
        for entry in data.country_data()["countries"]
        for field_name in fields
        for phrase in entry.get(field_name, ())
        if _WORD.search(phrase)
    )
    return places, max((len(place) for place in places), default=1)


def figure_key(figure: Figure) -> str:
    """One key for one figure: indicator, value, unit (scale and base), change, countries and
    the period's lemmas."""
    period = " ".join(sorted(_lemma_key(figure.period or "") - _KEY_STOP))
    return _digest(
        (
            "figure",
            figure.indicator,
            repr(figure.value),
            _canonical_unit(figure.unit),
            str(figure.change),
            ",".join(sorted(figure.countries)),
            period,
        )
    )
