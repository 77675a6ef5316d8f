"""Hostile documents shared by the parser and pipeline tests."""

from __future__ import annotations

# Nine levels of ten: a billion "lol"s if any parser expanded it, plus an external entity.
BILLION_LAUGHS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + ' <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    '<rss version="2.0"><channel><title>Бомба</title><link>https://bomb.example/</link>'
    "<item><title>Заголовок &lol9;</title><link>https://bomb.example/1</link>"
    "<description>Текст &lol9; &xxe; конец</description></item>"
    "<item><title>Обычная новость</title><link>https://bomb.example/2</link>"
    "<description>Нормальный текст.</description></item></channel></rss>"
)
