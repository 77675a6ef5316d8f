"""Decoding fetched feed bytes: BOM, HTTP charset, XML declaration, and the bytes themselves.

Russian feeds come in UTF-8, windows-1251 and koi8-r, sometimes with a declaration that
lies (windows-1251 declared, UTF-8 bytes) or with the charset only in the HTTP header.
The result is always UTF-8 bytes with a declaration that says so, so the XML parser
never has to guess.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARATION = re.compile(rb"^\s*<\?xml\b[^>]*?\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""\bencoding\s*=\s*["']\s*([A-Za-z0-9._:\-]+)\s*["']""")
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.IGNORECASE
)
_CHARSET_PARAMETER = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.IGNORECASE)
_TEXT_DECLARATION = re.compile(r"^\s*<\?xml\b[^>]*?\?>", re.IGNORECASE)
_TEXT_VERSION_ATTRIBUTE = re.compile(r"""\bversion\s*=\s*["']([0-9.]+)["']""")
_LOWER_CYRILLIC = re.compile("[а-яё]")
_UPPER_CYRILLIC = re.compile("[А-ЯЁ]")
# Single-byte Cyrillic encodings worth trying when nothing trustworthy is declared.
_CYRILLIC_FALLBACKS = ("cp1251", "koi8-r")
# How much text the plausibility check looks at; enough for a few headlines.
_SAMPLE_CHARACTERS = 20_000
_MIN_PLAUSIBLE_LOWERCASE_SHARE = 0.55
# At most one broken sequence per this many non-ASCII characters still counts as UTF-8.
_MAX_BROKEN_UTF8_SHARE_INVERSE = 50


@dataclass(frozen=True, slots=True)
class DecodedDocument:
    text: str
    encoding: str
    declared: str | None
    header_charset: str | None

    @property
    def declaration_lied(self) -> bool:
        return self.declared is not None and self.declared != self.encoding

    def as_utf8_xml(self) -> bytes:
        """The document as UTF-8 bytes whose XML declaration says UTF-8."""
        return with_utf8_declaration(self.text).encode("utf-8")


def normalise_encoding_name(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAMETER.search(content_type)
    return normalise_encoding_name(match.group(1)) if match else None


def declared_encoding(body: bytes, *, html: bool = False) -> str | None:
    """The encoding the document names: its XML declaration, or for HTML a <meta> charset."""
    declaration = _DECLARATION.match(body[:1024])
    if declaration is not None:
        match = _DECLARED_ENCODING.search(declaration.group(0))
        if match:
            return normalise_encoding_name(match.group(1).decode("ascii"))
    if html:
        meta = _META_CHARSET.search(body[:8192])
        if meta:
            return normalise_encoding_name(meta.group(1).decode("ascii"))
    return None


def cyrillic_plausibility(text: str) -> float | None:
    """Share of lower-case letters among Cyrillic ones; None when there is no Cyrillic.

    Russian prose is mostly lower case. Decoding windows-1251 bytes as koi8-r (or the
    other way round) swaps the cases, so a wrong guess scores far below a right one.
    """
    sample = text[:_SAMPLE_CHARACTERS]
    lower = len(_LOWER_CYRILLIC.findall(sample))
    upper = len(_UPPER_CYRILLIC.findall(sample))
    total = lower + upper
    return lower / total if total else None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_document(
    body: bytes, content_type: str | None = None, *, html: bool = False
) -> DecodedDocument:
    """Picks the encoding of a fetched XML (or HTML) document and decodes it.

    Order of evidence: a byte-order mark; bytes that are valid UTF-8 (a single-byte
    Cyrillic text practically never is, so a declaration saying otherwise is lying); the
    HTTP charset and the XML declaration, each accepted only if the bytes decode with it
    into plausible Russian; then windows-1251 and koi8-r judged by the bytes alone.
    """
    header_charset = charset_from_content_type(content_type)
    declared = declared_encoding(body, html=html)
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(encoding, errors="replace")
            return DecodedDocument(text, normalise_encoding_name(encoding) or encoding, None, None)

    utf8 = _strict(body, "utf-8")
    if utf8 is not None:
        return DecodedDocument(utf8, "utf-8", declared, header_charset)
    # A UTF-8 feed with a few broken sequences (a multi-byte letter cut in half) is still
    # UTF-8; single-byte Cyrillic read as UTF-8 breaks at nearly every letter.
    lenient = body.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    non_ascii = len(lenient) - len(lenient.encode("ascii", errors="ignore"))
    if broken * _MAX_BROKEN_UTF8_SHARE_INVERSE < non_ascii:
        return DecodedDocument(lenient, "utf-8", declared, header_charset)

    candidates: list[str] = []
    for name in (header_charset, declared):
        if name and name != "utf-8" and not name.startswith(("utf-16", "utf-32")):
            candidates.append(name)
    best: tuple[float, str, str] | None = None
    for encoding in candidates:
        strict = _strict(body, encoding)
        if strict is None:
            continue
        score = cyrillic_plausibility(strict)
        if score is None or score >= _MIN_PLAUSIBLE_LOWERCASE_SHARE:
            return DecodedDocument(strict, encoding, declared, header_charset)
        if best is None or score > best[0]:
            best = (score, encoding, strict)
    for encoding in _CYRILLIC_FALLBACKS:
        text = body.decode(encoding, errors="replace")
        score = cyrillic_plausibility(text)
        if score is not None and (best is None or score > best[0]):
            best = (score, encoding, text)
    if best is not None and best[0] >= _MIN_PLAUSIBLE_LOWERCASE_SHARE:
        return DecodedDocument(best[2], best[1], declared, header_charset)
    guessed = _guess_with_charset_normalizer(body)
    if guessed is not None:
        return DecodedDocument(guessed[1], guessed[0], declared, header_charset)
    if best is not None:
        return DecodedDocument(best[2], best[1], declared, header_charset)
    return DecodedDocument(
        body.decode("utf-8", errors="replace"), "utf-8", declared, header_charset
    )


def _guess_with_charset_normalizer(body: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    match = from_bytes(body[:_SAMPLE_CHARACTERS]).best()
    if match is None or match.encoding is None:
        return None
    encoding = normalise_encoding_name(match.encoding) or match.encoding
    return encoding, body.decode(encoding, errors="replace")


def with_utf8_declaration(text: str) -> str:
    """The document with its XML declaration stating UTF-8 (added when missing)."""
    text = text.removeprefix("\ufeff")
    declaration = _TEXT_DECLARATION.match(text)
    if declaration is None:
        return '<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip()
    version = _TEXT_VERSION_ATTRIBUTE.search(declaration.group(0))
    fixed = f'<?xml version="{version.group(1) if version else "1.0"}" encoding="utf-8"?>'
    return fixed + text[declaration.end() :]
