"""Assemble executed section notebooks into one report notebook.

The report notebook carries, in order: a title page, a table of contents, the
numbered sections, and generated appendices (the key-figures ledger, and what
changed since the previous edition). Structure is raw HTML cells; the section
cells keep their own Markdown and report outputs, tagged with their section.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import nbformat

import natoua
from . import fmt, links


@dataclass
class Part:
    """One section (or appendix) of the report."""

    section: str  # "07", "A1"
    title: str
    nb: nbformat.NotebookNode | None = None
    failed: str = ""  # error summary when the section failed (degraded edition)
    freshness: str = ""
    stale: bool = False

    @property
    def label(self) -> str:
        return self.section.lstrip("0") if self.section[0].isdigit() else ""

    @property
    def anchor(self) -> str:
        return f"sec-{self.section.lower()}"


@dataclass
class Edition:
    as_of: str
    params: dict
    parts: list[Part]
    ledger: dict[str, dict]
    changes_html: str = ""
    changes_title: str = ""
    degraded: list[str] = field(default_factory=list)
    releases: list[dict] = field(default_factory=list)  # natoua.releases.Release.to_json(), one per dataset read


def edition_date(as_of: str) -> date:
    """The edition's publication date: SOURCE_DATE_EPOCH when set (reproducible builds), else as_of."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date()
    return date.fromisoformat(as_of)


def season(d: date) -> str:
    return {12: "Winter", 1: "Winter", 2: "Winter", 3: "Spring", 4: "Spring", 5: "Spring",
            6: "Summer", 7: "Summer", 8: "Summer"}.get(d.month, "Autumn") + f" {d.year}"


def _raw(markup: str, section: str | None = None, front: bool = False) -> nbformat.NotebookNode:
    """A raw HTML cell; `front` cells (title page, contents) go before the page's <main> landmark."""
    cell = nbformat.v4.new_raw_cell(markup)
    cell.metadata["format"] = "text/html"
    cell.metadata["raw_mimetype"] = "text/html"
    if section:
        cell.metadata["natoua"] = {"section": section}
    if front:
        cell.metadata.setdefault("natoua", {})["front"] = True
    return cell


def title_page(ed: Edition) -> str:
    """The cover. The edition date is the data cut-off, not a publication date: releases published after it may be
    read (each is listed with its date in *About this edition*), so the cover never says "published"."""
    e = html.escape
    as_of = date.fromisoformat(ed.as_of)
    currency = ed.params.get("currency", "EUR")
    banner = ""
    if ed.degraded:
        banner = (f'<p class="status-banner">Degraded edition: {len(ed.degraded)} section(s) failed to build '
                  f'({e(", ".join(ed.degraded))}). See the build status page before relying on this edition.</p>')
    late = sorted({item for r in ed.releases for item in r.get("after_cutoff", [])})
    releases = ""
    if ed.releases:
        releases = ("<dt>Data releases</dt><dd>"
                    + ("The figures describe the period up to the cut-off, but some publications were read in a "
                       "version that appeared after it (only what they report up to the cut-off is used): "
                       f"{e('; '.join(late))}. "
                       if late else "Every publication read had appeared by the cut-off. ")
                    + "Each dataset's release and publication date are listed in "
                      f'{links.internal(ABOUT_ANCHOR, "About this edition")}.</dd>')
    return (
        '<header class="title-page">'
        '<p class="kicker">Analytical report</p>'
        f"<h1>{e(natoua.TITLE)}</h1>"
        f'<p class="subtitle">{e(natoua.SUBTITLE)}</p>'
        '<div class="rule"></div>'
        f"{banner}"
        "<dl>"
        f"<dt>Edition date</dt><dd>{e(fmt.day(as_of))} ({e(season(as_of))} edition): the data cut-off. Events, "
        "dated figures and years after it are excluded.</dd>"
        f"<dt>Currency</dt><dd>{e(currency)}</dd>"
        f"{releases}"
        "</dl>"
        '<p class="abstract">Every figure in this report is computed from a sourced dataset row; '
        "the sources, editions and coverage of each dataset are listed in the appendix. "
        "Where the data contradict the project brief, the report follows the data and says so.</p>"
        "</header>"
    )


ABOUT_ANCHOR = "sec-about"


def about_edition(ed: Edition) -> str:
    """The colophon: what the edition date means and the release of each dataset read, with its publication date."""
    e = html.escape
    cutoff = fmt.day(date.fromisoformat(ed.as_of))
    rows = "".join(
        "<tr>"
        f'<td class="txt">{links.internal(links.dataset_anchor(r["dataset"]), links.breakable(r["dataset"]), "ident")}'
        f'<br/>{e(r["title"])}</td>'
        f'<td class="txt">{e(r["release"])}</td>'
        f'<td class="txt">{e(r["published"])}</td>'
        f'<td class="txt">{"after the cut-off" if r["after_cutoff"] else "by the cut-off"}</td>'
        "</tr>"
        for r in ed.releases
    )
    return (
        f'<section class="report-section" id="{ABOUT_ANCHOR}">'
        '<h1 class="section-title">About this edition</h1>'
        f"<p>This is the {e(cutoff)} edition. Its date is the data cut-off: rows describing events, dated figures "
        f"and years after {e(cutoff)} are excluded, and no exchange rate after it is used. It is not a publication "
        "date: where the only release of a dataset in the data was published after the cut-off, the edition reads "
        "that release, cut at the cut-off, and the table below says so. The PDF carries the rows each dataset "
        "contributed (up to the cut-off) as attached files.</p>"
        '<div class="report-table"><div class="table-scroll" tabindex="0" role="region" '
        'aria-label="Table E.1: the release of each dataset"><table><caption><span class="table-number">Table E.1</span> '
        "The release of each dataset this edition read, and when it was published</caption>"
        '<colgroup><col style="width:30%"/><col style="width:38%"/><col style="width:17%"/><col style="width:15%"/>'
        "</colgroup>"
        '<thead><tr><th class="txt" scope="col">Dataset</th><th class="txt" scope="col">Release</th>'
        '<th class="txt" scope="col">Published</th><th class="txt" scope="col">Against the cut-off</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></div>"
        "</section>"
    )


def contents(ed: Edition, extra: list[tuple[str, str, str]]) -> str:
    e = html.escape
    items = [(p.label, p.title, p.anchor) for p in ed.parts] + extra
    lis = "".join(
        f'<li><span class="toc-no">{e(no)}</span><a href="#{e(anchor)}">{e(title)}</a></li>'
        for no, title, anchor in items
    )
    return f'<nav class="toc" id="contents" aria-labelledby="contents-title"><h2 id="contents-title">Contents</h2><ol>{lis}</ol></nav>'


_MD_MARKUP = re.compile(r"[#*`>]+|\[([^\]]*)\]\([^)]*\)|<[^>]+>")
_WORDS_AROUND = 7


def claim_contexts(ledger: dict[str, dict], parts: list[Part]) -> dict[str, str]:
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


def key_figures_appendix(ledger: dict[str, dict], parts: list[Part]) -> str:
    """The claim ledger: one row per figure in the prose (each number there links to its row here); each
    row links to its datasets in the data dictionary, which link to the publications their rows cite."""
    e = html.escape
    order = {p.section: i for i, p in enumerate(parts)}
    rows = sorted(ledger.values(), key=lambda c: (order.get(c.get("section"), 99), c["name"]))
    contexts = claim_contexts(ledger, parts)
    rows = [dict(c, context=contexts.get(c["name"], "")) for c in rows]
    body = "".join(
        f'<tr id="{e(links.claim_anchor(c["name"]), quote=True)}">'
        f"<td class=\"txt\">{_ledger_name(c)}</td>"
        f"<td class=\"{'num' if _reads_as_number(c) else 'txt'}\">{_ledger_value(c)}</td>"
        f"<td class=\"txt\">{e(unit_parts(c['unit'])[0])}</td>"
        f"<td class=\"txt\">{', '.join(links.internal(links.dataset_anchor(d), links.breakable(d), 'ident') for d in c['datasets'])}</td>"
        f"<td class=\"txt\">{e(_short_label(c.get('section', '')))}</td>"
        f"<td class=\"txt\">{_ledger_notes(c)}</td>"
        "</tr>"
        for c in rows
    )
    return (
        '<section class="report-section" id="sec-key-figures">'
        '<h1 class="section-title">Key figures: the claim ledger</h1>'
        "<p>Every number stated in the prose of this report is a named value computed in the section "
        "notebooks from the datasets listed. This appendix lists them all, with the section that computed "
        "each and, where one applies, the check the data had to pass for the section to build. Each number in "
        "the text links to its row here; each dataset name links to its entry in the data dictionary "
        "(Sources and methodology), which links to the publications its rows cite.</p>"
        '<div class="report-table compact"><div class="table-scroll" tabindex="0" role="region" '
        'aria-label="Table K.1: the claim ledger"><table><caption><span class="table-number">Table K.1</span> '
        "Claim ledger: every figure in the prose</caption>"
        '<colgroup><col style="width:30%"/><col style="width:14%"/><col style="width:11%"/><col style="width:17%"/>'
        '<col style="width:4%"/><col style="width:24%"/></colgroup>'
        '<thead><tr><th class="txt" scope="col">Figure</th><th class="num" scope="col">Value</th>'
        '<th class="txt" scope="col">Unit</th><th class="txt" scope="col">Dataset(s)</th>'
        '<th class="txt" scope="col"><abbr title="Section">§</abbr></th><th class="txt" scope="col">Check and notes</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
        '<p class="source">Source: the datasets named in each row; see '
        f'{links.internal(links.SOURCES_SECTION, "Sources and methodology")}.</p></div>'
        "</section>"
    )


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


def _ledger_name(c: dict) -> str:
    """The figure as a reader knows it: its label (given in the notebook), else the words around it in the text,
    with the name the prose and claims.json use."""
    code = f"<code>{links.breakable(c['name'])}</code>"
    label = c.get("label") or (f"“{c['context']}”" if c.get("context") else "")
    return f'<span class="ledger-label">{html.escape(label)}</span><br/>{code}' if label else code


def _ledger_notes(c: dict) -> str:
    basis = unit_parts(c["unit"])[1]
    unused = "" if c.get("context") else "Not printed in this edition's text (kept for the data and checks)."
    notes = [html.escape(n) for n in (c.get("check") and f"Check: {c['check']}", basis and f"Unit: {basis}",
                                      c.get("note"), unused) if n]
    return "<br/>".join(notes)


def _reads_as_number(c: dict) -> bool:
    """A value set as a number (right-aligned, never wrapped) only when its text is a short figure: a number the
    prose puts in words ('0 (“None” in the text)') or a sentence ('ECB reference rate of …') wraps as text."""
    return _is_number(c.get("value")) and len(c["text"]) <= 16 and bool(re.search(r"[0-9]", c["text"]))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ledger_value(c: dict) -> str:
    """The value as the prose shows it; a number the prose puts in words ("None") also shows as a number."""
    text = html.escape(c["text"])
    if _is_number(c.get("value")) and not re.search(r"[0-9]", c["text"]):
        return f"{fmt.number(c['value'], 0 if isinstance(c['value'], int) else 1)} (&ldquo;{text}&rdquo; in the text)"
    return text


def _short_label(section: str) -> str:
    return section.lstrip("0") if section[:1].isdigit() else section


def status_page(ed: Edition) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><td class="txt">{e(p.label or p.section)}</td><td class="txt">{e(p.title)}</td>'
        f'<td class="txt">{"FAILED: " + e(p.failed) if p.failed else "built"}</td></tr>'
        for p in ed.parts
    )
    return (
        '<section class="report-section" id="sec-status">'
        '<h1 class="section-title">Build status</h1>'
        '<p class="status-banner">This edition is degraded: the sections marked FAILED did not build and are '
        "missing from it. Their executed notebooks are kept for diagnosis.</p>"
        '<div class="report-table"><table><caption><span class="table-number">Table S.1</span> '
        "Section build status</caption>"
        '<thead><tr><th class="txt">Section</th><th class="txt">Title</th><th class="txt">Status</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def assemble(ed: Edition) -> nbformat.NotebookNode:
    report = nbformat.v4.new_notebook()
    report.metadata["natoua"] = {"title": natoua.TITLE, "as_of": ed.as_of, "claims": ed.ledger, "releases": ed.releases,
                                 "params": ed.params, "title_page": True,
                                 "created": edition_date(ed.as_of).isoformat()}
    extra = [("", "Key figures: the claim ledger", "sec-key-figures")]
    if ed.releases:
        extra.append(("", "About this edition", ABOUT_ANCHOR))
    if ed.changes_html:
        extra.insert(0, ("", ed.changes_title or "What changed since the previous edition", "sec-changes"))
    if ed.degraded:
        extra.insert(0, ("", "Build status", "sec-status"))
    cells = [_raw(title_page(ed), front=True), _raw(contents(ed, extra), front=True)]
    for part in ed.parts:
        heading = (f'<h1 class="section-title">'
                   f'{"<span class=" + chr(34) + "secno" + chr(34) + ">" + part.label + "</span> " if part.label else ""}'
                   f"{html.escape(part.title)}</h1>")
        fresh = ""
        if part.freshness:
            cls = "freshness stale" if part.stale else "freshness"
            fresh = f'<p class="{cls}">{html.escape(part.freshness)}</p>'
        cells.append(_raw(f'<section class="report-section" id="{part.anchor}">{heading}{fresh}', part.section))
        if part.failed:
            cells.append(_raw(f'<p class="status-banner">This section failed to build: {html.escape(part.failed)}</p>',
                              part.section))
        elif part.nb is not None:
            cells += _section_cells(part)
        cells.append(_raw("</section>", part.section))
    if ed.degraded:
        cells.append(_raw(status_page(ed)))
    if ed.changes_html:
        cells.append(_raw(ed.changes_html))
    cells.append(_raw(key_figures_appendix(ed.ledger, ed.parts)))
    if ed.releases:
        cells.append(_raw(about_edition(ed)))
    report.cells = cells
    return report


_H1 = re.compile(r"^# .*$", re.MULTILINE)


def _section_cells(part: Part) -> list:
    out = []
    dropped_title = False
    for cell in part.nb.cells:
        cell = nbformat.from_dict(cell)
        if cell.cell_type == "markdown" and not dropped_title and _H1.search(cell.source):
            cell.source = _H1.sub("", cell.source, count=1).strip()
            dropped_title = True
            if not cell.source:
                continue
        if cell.cell_type == "code" and not cell.get("outputs"):
            continue
        cell.metadata["natoua"] = {"section": part.section}
        out.append(cell)
    return out
