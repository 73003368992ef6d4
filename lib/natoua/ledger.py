"""The Key figures appendix (the claim ledger) as data: one row per figure in the prose, with its label, value,
unit, datasets, section and notes. natoua.generated renders it as HTML, natoua.pdf_generated for the PDF."""

from __future__ import annotations

import html
import re

from . import fmt, links

LEDGER_ANCHOR = "sec-key-figures"
LEDGER_TITLE = "Key figures: the claim ledger"


_MD_MARKUP = re.compile(r"[#*`>]+|\[([^\]]*)\]\([^)]*\)|<[^>]+>")
_WORDS_AROUND = 7


def claim_contexts(ledger: dict[str, dict], parts: list) -> dict[str, str]:
    """Where each claim is first used, in the reader's words: the few words of prose around its placeholder
    (Markdown, generated blocks, figure and table titles), the figure itself shown as "…". A claim the report
    never prints has no entry."""
    from . import claims, mimes

    def texts(part):
        """Pieces of text a reader reads as one: Markdown paragraphs, and the paragraphs, list items, cells and
        captions of generated HTML (a key-figure card is one piece)."""
        for cell in part.nb.cells if part.nb is not None else []:
            if cell.cell_type == "markdown":
                yield from re.split(r"\n\s*\n", cell.source)
            elif cell.cell_type == "code":
                for out in cell.get("outputs", []):
                    data = out.get("data", {})
                    if "text/html" in data and any(m in data for m in (mimes.BLOCK, mimes.FIGURE, mimes.TABLE)):
                        markup = re.sub(r"<img[^>]*>", " ", data["text/html"])
                        for piece in re.split(r"</(?:p|li|div|td|th|caption|figcaption|aside)>|<br\s*/?>", markup):
                            yield html.unescape(re.sub(r"<[^>]+>", " ", piece))

    found: dict[str, str] = {}
    for part in parts:
        for piece in texts(part):
            for text in re.split(r"(?<=[.!?])\s+(?=[A-Z“])", piece):  # the sentence that holds the figure
                text = " ".join(_MD_MARKUP.sub(lambda m: m.group(1) or ("" if m.group(0)[0] in "#*`>" else " "),
                                               text).split())
                for match in claims.PLACEHOLDER.finditer(text):
                    name = match.group(1)
                    if name in found or name not in ledger:
                        continue
                    value = lambda m: ledger.get(m.group(1), {}).get("text", "…")  # noqa: E731
                    before = claims.PLACEHOLDER.sub(value, text[:match.start()]).split()[-_WORDS_AROUND:]
                    after = claims.PLACEHOLDER.sub(value, text[match.end():]).split()[:_WORDS_AROUND]
                    found[name] = " ".join(before + ["…"] + after)
    return found


def ledger_data(ledger: dict[str, dict], parts: list) -> dict:
    """The claim ledger: one row per figure in the prose (each number there links to its row here); each
    row links to its datasets in the data dictionary, which link to the publications their rows cite."""
    order = {p.section: i for i, p in enumerate(parts)}
    contexts = claim_contexts(ledger, parts)
    rows = []
    for c in sorted(ledger.values(), key=lambda c: (order.get(c.get("section"), 99), c["name"])):
        context = contexts.get(c["name"], "")
        basis = unit_parts(c["unit"])[1]
        unused = "" if context else "Not printed in this edition's text (kept for the data and checks)."
        number = ""
        if _is_number(c.get("value")) and not re.search(r"[0-9]", c["text"]):  # a number the prose puts in words
            number = fmt.number(c["value"], 0 if isinstance(c["value"], int) else 1)
        rows.append({
            "anchor": links.claim_anchor(c["name"]), "name": c["name"],
            "label": c.get("label") or (f"“{context}”" if context else ""),  # as a reader knows it
            "text": c["text"], "number": number, "numeric": _reads_as_number(c),
            "unit": unit_parts(c["unit"])[0], "datasets": list(c["datasets"]),
            "section": _short_label(c.get("section", "")),
            "notes": [n for n in (c.get("check") and f"Check: {c['check']}", basis and f"Unit: {basis}", c.get("note"),
                                  unused) if n]})
    return {"kind": "ledger", "anchor": LEDGER_ANCHOR, "title": LEDGER_TITLE,
            "intro": "Every number stated in the prose of this report is a named value computed in the section "
                     "notebooks from the datasets listed. This appendix lists them all, with the section that computed "
                     "each and, where one applies, the check the data had to pass for the section to build. Each number "
                     "in the text links to its row here; each dataset name links to its entry in the data dictionary "
                     "(Sources and methodology), which links to the publications its rows cite.",
            "label": "Table K.1", "caption": "Claim ledger: every figure in the prose",
            "columns": ["Figure", "Value", "Unit", "Dataset(s)", "§", "Check and notes"],
            "widths": [30, 14, 11, 17, 4, 24], "rows": rows,
            "source": ["Source: the datasets named in each row; see ",
                       {"t": "plainref", "to": links.SOURCES_SECTION, "c": ["Sources and methodology"]}, "."]}


def unit_parts(unit: str) -> tuple[str, str]:
    """(short unit, basis): 'USD bn, each year's allocations at ...' -> ('USD bn', "each year's allocations at ...").
    The ledger's Unit column holds the short unit; the basis (a conversion rate, a definition) goes with the notes."""
    unit = str(unit or "")
    if len(unit) <= 24:
        return unit, ""
    match = re.match(r"^(.{1,24}?)(, | \(| at )(.*)$", unit)
    if not match:
        return unit, ""
    short, sep, rest = match.groups()
    if sep == " (" and rest.endswith(")") and rest.count("(") < rest.count(")"):
        rest = rest[:-1]
    return short, ("at " + rest if sep == " at " else rest)


def _reads_as_number(c: dict) -> bool:
    """A value set as a number (right-aligned, never wrapped) only when its text is a short figure: a number the
    prose puts in words ('0 (“None” in the text)') or a sentence ('ECB reference rate of …') wraps as text."""
    return _is_number(c.get("value")) and len(c["text"]) <= 16 and bool(re.search(r"[0-9]", c["text"]))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short_label(section: str) -> str:
    return section.lstrip("0") if section[:1].isdigit() else section
