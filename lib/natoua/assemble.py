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
from .generated import generated_html
from .ledger import claim_contexts, ledger_data, unit_parts  # noqa: F401 (unit_parts, claim_contexts: used by edition, tests)


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
    changes: dict = field(default_factory=dict)  # the What changed page's data (natoua.changes.to_data), if any
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


def html_cell(markup: str, section: str | None = None, front: bool = False) -> nbformat.NotebookNode:
    """A raw HTML cell; `front` cells (title page, contents) go before the page's <main> landmark."""
    cell = nbformat.v4.new_raw_cell(markup)
    cell.metadata["format"] = "text/html"
    cell.metadata["raw_mimetype"] = "text/html"
    if section:
        cell.metadata["natoua"] = {"section": section}
    if front:
        cell.metadata.setdefault("natoua", {})["front"] = True
    return cell


def _generated(data: dict, front: bool = False) -> nbformat.NotebookNode:
    """A raw cell of a generated page: its data in the cell's metadata (what the PDF typesets), its HTML rendered
    from them (what the page shows)."""
    cell = html_cell(generated_html(data), front=front)
    cell.metadata.setdefault("natoua", {})["data"] = data
    return cell


def title_page(ed: Edition) -> str:
    """The cover's HTML (from its data, title_page_data)."""
    return generated_html(title_page_data(ed))


def title_page_data(ed: Edition) -> dict:
    """The cover as data. The edition date is the data cut-off, not a publication date: releases published after it
    may be read (each is listed with its date in *About this edition*), so the cover never says "published"."""
    as_of = date.fromisoformat(ed.as_of)
    banner = ""
    if ed.degraded:
        banner = (f"Degraded edition: {len(ed.degraded)} section(s) failed to build ({', '.join(ed.degraded)}). "
                  "See the build status page before relying on this edition.")
    late = sorted({item for r in ed.releases for item in r.get("after_cutoff", [])})
    facts = [["Edition date", [f"{fmt.day(as_of)} ({season(as_of)} edition): the data cut-off. Events, dated figures "
                               "and years after it are excluded."]],
             ["Currency", [ed.params.get("currency", "EUR")]]]
    if ed.releases:
        facts.append(["Data releases", [
            ("The figures describe the period up to the cut-off, but some publications were read in a version that "
             f"appeared after it (only what they report up to the cut-off is used): {'; '.join(late)}. "
             if late else "Every publication read had appeared by the cut-off. ")
            + "Each dataset's release and publication date are listed in ",
            {"t": "plainref", "to": ABOUT_ANCHOR, "c": ["About this edition"]}, "."]])
    return {"kind": "title_page", "kicker": "Analytical report", "title": natoua.TITLE, "subtitle": natoua.SUBTITLE,
            "banner": banner, "facts": facts,
            "abstract": "Every figure in this report is computed from a sourced dataset row; the sources, editions and "
                        "coverage of each dataset are listed in the appendix. Where the data contradict the project "
                        "brief, the report follows the data and says so."}


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
    return generated_html(contents_data(ed, extra))


def contents_data(ed: Edition, extra: list[tuple[str, str, str]]) -> dict:
    """The contents as data: (number, title, anchor) of each section and appendix."""
    return {"kind": "contents", "title": "Contents",
            "items": [[p.label, p.title, p.anchor] for p in ed.parts] + [list(x) for x in extra]}


def key_figures_appendix(ledger: dict[str, dict], parts: list[Part]) -> str:
    """The Key figures appendix's HTML (from its data, natoua.ledger.ledger_data)."""
    return generated_html(ledger_data(ledger, parts))


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
    if ed.changes:
        extra.insert(0, ("", ed.changes["title"], ed.changes["anchor"]))
    if ed.degraded:
        extra.insert(0, ("", "Build status", "sec-status"))
    cells = [_generated(title_page_data(ed), front=True), _generated(contents_data(ed, extra), front=True)]
    for part in ed.parts:
        heading = (f'<h1 class="section-title">'
                   f'{"<span class=" + chr(34) + "secno" + chr(34) + ">" + part.label + "</span> " if part.label else ""}'
                   f"{html.escape(part.title)}</h1>")
        fresh = ""
        if part.freshness:
            cls = "freshness stale" if part.stale else "freshness"
            fresh = f'<p class="{cls}">{html.escape(part.freshness)}</p>'
        cells.append(html_cell(f'<section class="report-section" id="{part.anchor}">{heading}{fresh}', part.section))
        if part.failed:
            cells.append(html_cell(f'<p class="status-banner">This section failed to build: {html.escape(part.failed)}</p>',
                                   part.section))
        elif part.nb is not None:
            cells += _section_cells(part)
        cells.append(html_cell("</section>", part.section))
    if ed.degraded:
        cells.append(html_cell(status_page(ed)))
    if ed.changes:
        cells.append(_generated(ed.changes))
    cells.append(_generated(ledger_data(ed.ledger, ed.parts)))
    if ed.releases:
        cells.append(html_cell(about_edition(ed)))
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
