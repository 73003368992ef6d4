"""Text from datasets is text: escaping for Markdown and the URL schemes a report may link to.

Dataset strings reach the report through the claim ledger (substituted into
Markdown prose) and through generated blocks and tables (HTML). Neither may
turn a cell into a link, an image, emphasis, markup or an entity. Where the
report does make a link from data (a source URL), the URL must pass
`safe_url`: only http and https, with a host, no credentials, no spaces or
control characters.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LINK_SCHEMES = ("https", "http")
# Every ASCII punctuation character may be backslash-escaped in CommonMark (and mistune), and an escaped
# character is always literal text: no link, image, emphasis, code, math, table, heading, HTML or entity.
_MARKDOWN_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_markdown(text: str) -> str:
    """`text` as literal Markdown inline text (one line: a line break could start a new block)."""
    text = _CONTROL.sub("", " ".join(str(text).split()))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def safe_url(url) -> str | None:
    """The URL if a report may link to it (http or https, with a host), else None (print it as text)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or _CONTROL.search(url) or any(c.isspace() for c in url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return None
    del port
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.hostname or "@" in parts.netloc:
        return None
    return url
