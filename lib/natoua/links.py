"""Every trace is a link: anchors and link markup shared by the prose, captions, ledger and appendices.

The chain a reader can follow, in the HTML and in the PDF:
number in the prose -> its row in the Key figures ledger (`#claim-<name>`) -> the dataset's entry in
the data dictionary (`#ds-<dataset>`) -> the publications its rows cite (`#src-<source_id>`) -> the
publisher's own page (an http(s) link). Figure and table "Source:" lines link to the same entries.

URLs, identifiers and file names are never hyphenated: they may wrap only after `/`, `.`, `_`, `-`,
`?`, `&`, `=` or `#`, or before a `%XX` escape (a <wbr>, which adds no character when the text is copied).
"""

from __future__ import annotations

import html
import re

from .safety import safe_url

SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
WRAP_AFTER = re.compile(r"([/._?&=#-]+)")
PERCENT = re.compile(r"(?<![>%])(%[0-9A-Fa-f]{2})")


def _id(text: str) -> str:
    return SAFE_ID.sub("-", str(text)).strip("-") or "x"


def claim_anchor(name: str) -> str:
    return f"claim-{_id(name)}"


def dataset_anchor(name: str) -> str:
    return f"ds-{_id(name)}"


def source_anchor(source_id: str) -> str:
    return f"src-{_id(source_id)}"


SOURCES_SECTION = "sec-a2"  # the Sources and methodology appendix (notebooks/A2_*)


def breakable(text: str) -> str:
    """Escaped text that may wrap only at safe points (after / . _ - ? & = #), never hyphenated."""
    parts = WRAP_AFTER.split(str(text))
    markup = "".join(html.escape(p) + ("<wbr>" if i % 2 else "") for i, p in enumerate(parts))
    return PERCENT.sub(r"<wbr>\1", markup)  # long percent-encoded runs may wrap before each %XX


def is_web_url(url: str) -> bool:
    """Whether an address may become a link: the one allow-list (http/https with a host) in natoua.safety."""
    return safe_url(url) is not None and not re.search(r"[<>\"']", url)


def readable(address: str) -> str:
    """An address as a reader reads it: percent-escapes of UTF-8 text decoded (`%D1%80%D1%83...` -> `ру...`), so a
    Cyrillic or Greek address is not printed as four lines of escapes. Escapes that do not decode to printable
    text (control characters, spaces, reserved characters such as %2F) are kept, so the text never says more than
    the address does."""
    from urllib.parse import unquote

    def decode(match: re.Match) -> str:
        run = match.group(0)
        try:
            text = unquote(run, errors="strict")
        except UnicodeDecodeError:
            return run
        if any(not ch.isprintable() or ch.isspace() or ch in RESERVED for ch in text):
            return run
        return text

    return ESCAPED_RUN.sub(decode, str(address))


RESERVED = set(":/?#[]@!$&'()*+,;=%<>\"")
ESCAPED_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def url(address: str, css_class: str = "url") -> str:
    """A working link to an http(s) address showing the address (decoded for reading, see `readable`); the link
    target is the address itself. Anything else stays plain text."""
    if not is_web_url(address):
        return f'<span class="{css_class}">{breakable(address)}</span>'
    return f'<a class="{css_class}" href="{html.escape(address, quote=True)}">{breakable(readable(address))}</a>'


def linkify(text: str) -> str:
    """Escaped plain text in which every http(s) address becomes a link (e.g. a source's 'via' note)."""
    out, last = [], 0
    for match in URL.finditer(str(text)):
        out.append(html.escape(text[last:match.start()]))
        out.append(url(match.group(0)))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def internal(anchor: str, markup: str, css_class: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return f'<a{cls} href="#{html.escape(anchor, quote=True)}">{markup}</a>'


def claim(name: str, text_markup: str) -> str:
    """A number in the prose, linked to its ledger row."""
    return internal(claim_anchor(name), text_markup, "claim")


def source_line(source) -> tuple[str, str]:
    """(plain text, markup) of a "Source:" line; in the markup each citation links to its Sources entry.

    `source` is text (kept as is: no entry to link to), a DataFrame with a source_id column, or source ids.
    """
    from . import data

    text = data.source_text(source)
    if isinstance(source, str):
        return text, html.escape(text)
    found = [data.source(i) for i in data.source_ids(source)]
    first: dict[str, str] = {}
    for src in found:
        first.setdefault(src.citation(), src.source_id)
    if not first:
        return text, html.escape(text)
    if len(first) <= data.MAX_FULL_CITATIONS:
        cites = "; ".join(internal(source_anchor(i), html.escape(c), "cite") for c, i in first.items())
        return text, f"Source: {cites}."
    by_publisher: dict[str, str] = {}
    for src in found:
        by_publisher.setdefault(src.publisher, src.source_id)
    # Same wording as the plain line; each publisher named there links to its first publication.
    markup = html.escape(text)
    for publisher, sid in sorted(by_publisher.items(), key=lambda kv: -len(kv[0])):
        escaped = html.escape(publisher)
        markup = re.sub(rf"(?<![\w>]){re.escape(escaped)}(?![\w<])",
                        lambda _m, s=sid, e=escaped: internal(source_anchor(s), e, "cite"), markup, count=1)
    return text, markup.replace("Sources and methodology", internal(SOURCES_SECTION, "Sources and methodology"))
