"""Reading a built edition as a reader does: the visible text, and which of its numbers trace to the ledger.

Used by tests/test_traced_numbers.py; runnable on any built HTML (`python tests/reading.py report.html`) to list
the numbers a reader sees that are not claim links.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString

MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
         r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)")

#: What a number token may be without a claim link: the short, explicit list.
ALLOWED = [
    ("ISO date", re.compile(r"\b\d{4}-\d{2}-\d{2}\b")),
    ("date (day and month)", re.compile(rf"\b\d{{1,2}}(?:[–-]\d{{1,2}})? {MONTH}\b")),
    ("year", re.compile(r"(?<![\d.,])(?:19|20)\d{2}(?:[–/-](?:19|20)?\d{2})?(?![\d.,]\d)")),
    ("section, figure or table number", re.compile(
        r"\b(?:[Ss]ections?|[Ff]igures?|[Tt]ables?|[Aa]ppendix|§)\s*[A-Z]?\d+(?:\.\d+)?"
        r"(?:(?:,\s*|\s+and\s+|\s+to\s+|\s*[–-]\s*)[A-Z]?\d+(?:\.\d+)?)*")),
    ("appendix label", re.compile(r"\bA\d\b")),
    ("quotation of others' words (the brief, a source)", re.compile(r"“[^”]*”")),
    ("name holding a number", re.compile(r"\b(?:Article|Release) \d+\b|\b\d+-point plan\b")),
]

#: Elements whose numbers are not prose: tables, figures and dataset rows listed as a list (blocks.bullets with a
#: source) cite their data (a figure's image and caption; its title states a finding in words and numbers a reader
#: reads as prose, so it is read); the ledger is the trace itself; contents and section numbers; identifiers,
#: addresses, source lines and bibliographic entries.
EXEMPT_SELECTORS = [
    "a.claim", "figure > :not(.figure-title)", ".report-table", "table", "style", "script", "nav.toc", ".secno", ".toc-no",
    "code", ".url", ".ref-url", ".ident", "ol.references", "#sec-key-figures", ".skip-link",
    ".data-rows", ".source",  # dataset rows listed as they are (like a table) and the "Source:" lines citing data
]

NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")


@dataclass
class Untraced:
    token: str
    context: str
    where: str


def _exempt(soup) -> None:
    for selector in EXEMPT_SELECTORS:
        for element in soup.select(selector):
            element.decompose()


def _where(node) -> str:
    section = node.find_parent("section")
    if section is None:
        section = node.find_parent(["header", "nav"])
    return section.get("id", section.name) if section is not None else "page"


def untraced_numbers(html: str) -> list[Untraced]:
    """Every number token in the visible text that is neither a claim link nor on the allowed list."""
    soup = BeautifulSoup(html, "html.parser")
    _exempt(soup)
    found = []
    for node in soup.find_all(string=True):
        if not isinstance(node, NavigableString) or node.parent.name in ("style", "script", "title", "[document]"):
            continue
        text = str(node)
        if not re.search(r"\d", text):
            continue
        blanked = text
        for _, pattern in ALLOWED:
            blanked = pattern.sub(lambda m: " " * len(m.group(0)), blanked)
        for match in NUMBER.finditer(blanked):
            start = max(0, match.start() - 50)
            found.append(Untraced(match.group(0), " ".join(text[start:match.end() + 30].split()), _where(node)))
    return found


#: Money not in the house style (fmt.money: '€90 bn', '$500 m', 'CAD 3.0 bn'): ISO code before a symbol currency,
#: 'billion'/'million' spelled out after an amount, '$170B'.
OFF_STYLE_MONEY = re.compile(r"\b(?:EUR|USD|GBP)\s?\d|[€$£]\s?\d[\d,.]*\s?(?:B|M|billion|million)\b"
                             r"|\b(?:CAD|SEK|NOK)\s?\d[\d,.]*\s?(?:billion|million)\b")
QUOTATION = re.compile(r"“[^”]*”")


def visible_text(html: str, keep_tables: bool = True) -> list[tuple[str, str]]:
    """(where, text) of each text node a reader sees (style, script and the embedded fonts left out)."""
    soup = BeautifulSoup(html, "html.parser")
    # the Sources list quotes what each publication reported, in its words ("up to EUR 3 billion")
    for element in soup.select("style, script, title, ol.references" + ("" if keep_tables else ", table")):
        element.decompose()
    return [(_where(node), str(node)) for node in soup.find_all(string=True) if str(node).strip()]


def off_style_money(html: str) -> list[str]:
    """Amounts of money written outside the house style, in prose, lists, tables and captions (quotations of
    others' words are kept verbatim and not counted)."""
    found = []
    for where, text in visible_text(html):
        for match in OFF_STYLE_MONEY.finditer(QUOTATION.sub("", text)):
            found.append(f"{where}: {match.group(0)!r} in “{' '.join(text.split())[:120]}”")
    return found


#: A ledger label is a name for the figure, not a sentence: short, and never the quoted words around the figure
#: (the ledger's fallback when a claim has no label).
LABEL_MAX_CHARS = 80


def ledger_label_problems(ledger: dict[str, dict]) -> list[str]:
    """What makes a claims.json ledger hard to read: a claim without a label, a label that is a sentence or a
    placeholder, and two rows of one section with the same label but different values (a reader could not
    tell them apart)."""
    problems = []
    seen: dict[tuple[str, str], dict] = {}
    for name, c in sorted(ledger.items()):
        label = " ".join(str(c.get("label") or "").split())
        if not label:
            problems.append(f"{name} (section {c.get('section')}): no label")
            continue
        if len(label) > LABEL_MAX_CHARS or label.startswith(("“", '"')) or "{{" in label or "…" in label:
            problems.append(f"{name}: label {label!r} is not a short name for the figure")
        key = (str(c.get("section")), label.casefold())
        other = seen.setdefault(key, c)
        if other is not c and other.get("text") != c.get("text"):
            problems.append(f"{other['name']} and {name} (section {key[0]}): same label {label!r}, "
                            f"different values ({other.get('text')!r}, {c.get('text')!r})")
    return problems


def ledger_fallback_rows(html: str) -> list[str]:
    """Ledger rows (Key figures appendix) that show the sentence around the figure instead of a label."""
    soup = BeautifulSoup(html, "html.parser")
    rows = soup.select("#sec-key-figures tbody tr")
    return [row.get("id", "?") for row in rows
            if (label := row.select_one(".ledger-label")) is None or label.get_text().startswith("“")]


if __name__ == "__main__":
    from pathlib import Path

    items = untraced_numbers(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for item in items:
        print(f"{item.where}\t{item.token}\t{item.context}")
    print(f"{len(items)} untraced number tokens", file=sys.stderr)
    for line in off_style_money(Path(sys.argv[1]).read_text(encoding="utf-8")):
        print("money:", line)
