"""The report's generated pages (title page, contents, the Key figures ledger) are data in the report notebook:
the HTML page shows them rendered from those data, and the PDF typesets the same data, never their HTML."""

from __future__ import annotations

import copy
import re
from io import BytesIO

import nbformat

from natoua import assemble, releases
from natoua.export import ReportHTMLExporter, notebook_to_pdf
from natoua.generated import generated_html


def edition() -> assemble.Edition:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Spending\n\nBy 2024, {{ n_at_2 }} allies spent at least {{ guide }}.")]
    ledger = {"n_at_2": {"name": "n_at_2", "text": "23", "value": 23, "unit": "allies", "datasets": ["defence_expenditure"],
                         "section": "07", "check": "fewer than 32"},
              "guide": {"name": "guide", "text": "2%", "value": 2.0, "unit": "% of GDP", "datasets": ["nato_targets"],
                        "section": "07", "label": "NATO's spending guideline"}}
    rel = [r.to_json() for r in releases.edition_releases("2026-03-31", ["support_tracker", "summits"])]
    return assemble.Edition(as_of="2026-03-31", params={"currency": "EUR"}, ledger=ledger, releases=rel,
                            parts=[assemble.Part(section="07", title="Spending", nb=nb)])


def generated_cells(report) -> dict:
    return {c.metadata["natoua"]["data"]["kind"]: c for c in report.cells
            if c.cell_type == "raw" and "data" in c.metadata.get("natoua", {})}


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages).split())


def test_title_page_contents_and_ledger_are_data_and_their_html_is_rendered_from_them():
    report = assemble.assemble(edition())
    cells = generated_cells(report)
    assert set(cells) == {"title_page", "contents", "ledger"}
    for cell in cells.values():
        assert cell.source == generated_html(cell.metadata["natoua"]["data"])
    ledger = cells["ledger"].metadata["natoua"]["data"]
    assert [r["name"] for r in ledger["rows"]] == ["guide", "n_at_2"]
    assert ledger["rows"][0]["label"] == "NATO's spending guideline" and ledger["rows"][1]["notes"] == ["Check: fewer than 32"]
    title = cells["title_page"].metadata["natoua"]["data"]
    assert ["Currency", ["EUR"]] in title["facts"]
    assert [item for item in cells["contents"].metadata["natoua"]["data"]["items"] if item[2] == "sec-07"] == \
        [["7", "Spending", "sec-07"]]
    html, _ = ReportHTMLExporter().from_notebook_node(copy.deepcopy(report), resources={"metadata": {"name": "r"}})
    assert 'id="claim-guide"' in html and "s spending guideline" in html and 'href="#sec-about"' in html


def test_the_pdf_typesets_the_generated_pages_from_their_data_not_their_html():
    import pikepdf

    report = assemble.assemble(edition())
    for cell in generated_cells(report).values():  # HTML the PDF must not read
        cell.source = re.sub(r">([^<>]+)<", lambda m: ">HTML only<" if m.group(1).strip() else m.group(0), cell.source)
    pdf = notebook_to_pdf(report, name="r")
    text = pdf_text(pdf)
    assert "HTML only" not in text
    assert "Analytical report".upper() in text and "Edition date" in text and "Contents" in text
    assert "Claim ledger: every figure in the prose" in text and "NATO's spending guideline" in text
    assert "Check: fewer than 32" in text
    # the title page's pointer to About this edition is a link in the PDF too, as in the HTML
    doc = pikepdf.open(BytesIO(pdf))
    first = doc.pages[0]
    dests = [str(a.get("/Dest", "")) for a in first.get("/Annots", []) if a.get("/Subtype") == "/Link"]
    assert dests == ["sec-about"]


def test_what_changed_is_data_too_and_the_pdf_reads_it_not_its_html():
    from natoua import changes

    diff = changes.Changes(previous_as_of="2025-12-31", added_claims=["n_at_2"], new_events=[("2026-01-05", "A summit")],
                           moved=[{"name": "guide", "old": "1%", "new": "2%", "unit": "% of GDP", "datasets": ["x"],
                                   "changed_datasets": ["nato_targets"]}])
    ed = edition()
    ed.changes = changes.to_data(diff, ed.as_of)
    report = assemble.assemble(ed)
    cell = generated_cells(report)["changes"]
    assert cell.source == generated_html(ed.changes) and 'id="sec-changes"' in cell.source
    assert "What changed since the 31 December 2025 edition" in generated_cells(report)["contents"].source
    cell.source = cell.source.replace("A summit", "HTML only").replace("Figures that moved", "HTML only")
    text = pdf_text(notebook_to_pdf(report, name="r"))
    assert "HTML only" not in text
    assert "Table C.1 Figures that moved" in text and "5 January 2026 A summit" in text and "Figure added: n_at_2." in text
