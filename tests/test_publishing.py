"""Publishing: the PDF's fonts and reproducibility, links, PDF structure, and the page's accessibility.

Unit-level checks on small documents; the checks on the real built edition are in test_build.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from io import BytesIO

import pytest

from natoua import claims, links, paths
from natoua.export import FONTS, ReportHTMLExporter, drop_dangling_links, html_to_pdf

from test_export import section_notebook

CSS = paths.TEMPLATES / "natoua" / "report.css"

# A small page that uses every face and the characters a reader of this report meets.
SAMPLE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sample</title>
<meta name="dcterms.created" content="2026-03-31T00:00:00+00:00"><style>{css}</style></head><body><main id="main">
<h1>Київ and Ґданськ: €349.9 bn, £2.5 bn, ₴30 bn, № 5</h1><p>Aid rose − 3% → 4%, ≥ 2% of GDP, “quoted”, <em>Élysée</em>,
<strong>Łódź</strong>, <code>defence_expenditure.csv</code>. <a href="https://www.nato.int/cps/en/natohq/official_texts_156624.htm">NATO</a>
<a href="#t">the table</a>.</p><h2>Table</h2><table id="t"><thead><tr><th scope="col">Ally</th></tr></thead>
<tbody><tr><td>Poland</td></tr></tbody></table></main></body></html>"""


def sample_html() -> str:
    return SAMPLE.replace("{css}", CSS.read_text(encoding="utf-8"))


# --- fonts ---------------------------------------------------------------------------

def test_project_fonts_cover_latin_ukrainian_and_currency_signs_and_carry_their_licence():
    from fontTools.ttLib import TTFont

    faces = sorted(FONTS.glob("*.ttf"))
    assert len(faces) >= 7
    assert sum(p.stat().st_size for p in faces) < 3_000_000, "keep the committed fonts small"
    assert "SIL Open Font License" in (FONTS / "OFL.txt").read_text(encoding="utf-8")
    text = "AZaz0123456789 ÀÉÜàéüŁłŚśŻżŞşĞğ АЯая ҐґЄєІіЇїʼ €£₴$№ –—‘’“”…•†§"
    for face in faces:
        if "Math" in face.name:
            continue
        cmap = TTFont(face).getBestCmap()
        missing = [c for c in text if c != " " and ord(c) not in cmap]
        assert not missing, f"{face.name} lacks {missing}"
    math = TTFont(FONTS / "NotoSansMath-Regular.ttf").getBestCmap()
    assert all(ord(c) in math for c in "→−≥≤×±"), "symbols the text faces lack come from the math face"
    template = (paths.TEMPLATES / "natoua" / "report.typ").read_text(encoding="utf-8")
    families = {TTFont(face)["name"].getDebugName(1) for face in faces}
    assert families == {"Noto Serif", "Noto Sans", "Noto Sans Mono", "Noto Sans Math"}
    assert all(f'"{family}"' in template for family in families), "the PDF template names every project face"


def _project_postscript_names() -> set[str]:
    from fontTools.ttLib import TTFont

    return {TTFont(face)["name"].getDebugName(6) for face in FONTS.glob("*.ttf")}


def test_pdf_embeds_only_the_project_fonts():
    """System fonts are ignored and maths symbols come from Noto Sans Math, not Typst's bundled Libertinus."""
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(html_to_pdf(sample_html())))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    assert names and names <= _project_postscript_names(), names
    assert "NotoSansMath-Regular" in names, "→ − ≥ are set in the project's maths face"


_RENDER = """
import hashlib, sys
from natoua.export import html_to_pdf
html = open(sys.argv[1], encoding="utf-8").read()
sys.stdout.write(hashlib.sha256(html_to_pdf(html, [("claims.json", b"{}", "claims")])).hexdigest())
"""


@pytest.mark.full
def test_pdf_bytes_do_not_depend_on_hash_seed_process_or_clock(tmp_path):
    """The PDF's dates come from the edition (Typst's binding ignores SOURCE_DATE_EPOCH): two processes, two
    hash seeds and two different seconds give the same bytes."""
    page = tmp_path / "page.html"
    page.write_text(sample_html(), encoding="utf-8")
    digests = []
    for seed in ("1", "2"):
        env = {k: v for k, v in __import__("os").environ.items() if k != "SOURCE_DATE_EPOCH"}
        env["PYTHONHASHSEED"] = seed
        proc = subprocess.run([sys.executable, "-c", _RENDER, str(page)], capture_output=True, text=True,
                              env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        digests.append(proc.stdout)
        time.sleep(1.1)  # a different second: no clock may reach the file
    assert digests[0] == digests[1]


# --- what the typesetter may read ----------------------------------------------------------

def test_the_typesetter_reads_only_its_private_folder():
    """Typst's root is a fresh folder holding the form, the page's images and the attachments: the template
    cannot read a file outside it, whatever a form says."""
    from natoua import pdf_form, typst_pdf

    doc, files = pdf_form.document_form(sample_html())
    doc["blocks"].append({"t": "figure", "img": "../../../../../../etc/passwd", "fmt": "png", "alt": "x", "title": [],
                          "label": "", "caption": [], "source": []})
    with pytest.raises(typst_pdf.PdfError, match="escape the project root"):
        typst_pdf.render(doc, files)


# --- links ---------------------------------------------------------------------------

def test_urls_and_identifiers_wrap_only_at_safe_points():
    assert links.breakable("official_texts_156624.htm") == "official_<wbr>texts_<wbr>156624.<wbr>htm"
    markup = links.url("https://www.nato.int/cps/en/a?b=1&c=2")
    assert markup.startswith('<a class="url" href="https://www.nato.int/cps/en/a?b=1&amp;c=2">')
    assert ">https://<wbr>www.<wbr>nato.<wbr>int/<wbr>cps/<wbr>" in markup
    encoded = links.breakable("https://www.pio.gov.cy/en/%CE%B3%CE%BD")  # long escaped runs (seen at 390 px)
    assert encoded.endswith("en/<wbr>%CE<wbr>%B3<wbr>%CE<wbr>%BD")
    # only http(s) addresses become links: a hostile address stays text
    assert "<a" not in links.url("javascript:alert(1)") and "<a" not in links.url('https://x" onclick="y')
    linked = links.linkify('reported by AFP, https://example.org/a_b. And <b>bold</b>')
    assert '<a class="url" href="https://example.org/a_b">' in linked and "&lt;b&gt;" in linked
    assert linked.endswith(". And &lt;b&gt;bold&lt;/b&gt;")


def test_each_number_in_the_prose_links_to_its_ledger_row():
    html, _ = ReportHTMLExporter().from_notebook_node(section_notebook())
    # the section notebook has no ledger, so the link is dropped rather than left dangling ...
    assert "By 2024, 23 allies met the guideline." in html and 'href="#claim-' not in html
    # ... and with a ledger row to point at it is kept
    linked = claims.substitute("{{ allies_at_2pct }} allies", {"allies_at_2pct": {"text": "23"}}, link=links.claim)
    assert linked == '<a class="claim" href="#claim-allies_at_2pct">23</a> allies'
    page = f'<p>{linked}</p><table><tr id="claim-allies_at_2pct"><td>23</td></tr></table>'
    assert drop_dangling_links(page) == page


def test_links_without_a_target_in_the_document_keep_only_their_text():
    page = '<p><a class="cite" href="#src-x">NATO</a> <a href="#here">here</a> <a href="https://a.b/">out</a></p><i id="here"></i>'
    assert drop_dangling_links(page) == '<p>NATO <a href="#here">here</a> <a href="https://a.b/">out</a></p><i id="here"></i>'


# --- PDF structure -------------------------------------------------------------------

def pdf_standards(pdf) -> dict:
    """What the XMP declares: PDF/A part and conformance, PDF/UA part, and the namespaces it describes in
    PDF/A extension schemas (PDF/A-3 6.6.2.3: a property outside the standard schemas must be described)."""
    xmp = bytes(pdf.Root.Metadata.read_bytes()).decode()
    meta = pdf.open_metadata()
    extension_namespaces = set(re.findall(r"<pdfaSchema:namespaceURI>([^<]+)</pdfaSchema:namespaceURI>", xmp))
    extension_namespaces |= set(re.findall(r'pdfaSchema:namespaceURI="([^"]+)"', xmp))
    return {"pdfa": meta.get("pdfaid:part", "") + meta.get("pdfaid:conformance", ""),
            "pdfua": meta.get("{http://www.aiim.org/pdfua/ns/id/}part", ""),
            "extensions": extension_namespaces, "title": meta.get("dc:title", "")}


def link_annotations(pdf) -> list:
    return [a for page in pdf.pages for a in page.get("/Annots", []) if a.get("/Subtype") == "/Link"]


def zero_area(annot) -> bool:
    x0, y0, x1, y1 = (float(v) for v in annot.Rect)
    return abs(x1 - x0) < 0.01 or abs(y1 - y0) < 0.01


def structure(root) -> list:
    """Every structure element of the tag tree, depth first."""
    import pikepdf

    found, stack = [], [root.StructTreeRoot]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Dictionary) and "/S" in node:
            found.append(node)
        kids = node.get("/K") if isinstance(node, pikepdf.Dictionary) else None
        if isinstance(kids, pikepdf.Array):
            stack.extend(reversed(list(kids)))
        elif isinstance(kids, pikepdf.Dictionary):
            stack.append(kids)
    return found


def has_scope(th) -> bool:
    import pikepdf

    attrs = th.get("/A")
    attrs = list(attrs) if isinstance(attrs, pikepdf.Array) else [attrs]
    return any(isinstance(a, pikepdf.Dictionary) and "/Scope" in a for a in attrs)


def test_pdf_is_tagged_pdf_a_3a_and_pdf_ua_with_its_attachments():
    import pikepdf

    files = [("claims.json", b'{"a": 1}\n', "claims"), ("defence_expenditure.csv", b"iso3,x\nPOL,4.1\n", "data")]
    pdf = pikepdf.open(BytesIO(html_to_pdf(sample_html(), files)))
    root = pdf.Root
    assert root.MarkInfo.Marked is True and "/StructTreeRoot" in root
    assert str(root.Lang) == "en" and root.ViewerPreferences.DisplayDocTitle is True
    declared = pdf_standards(pdf)
    assert declared["pdfa"] == "3A" and declared["pdfua"] == "1" and declared["title"] == "Sample"
    assert "http://www.aiim.org/pdfua/ns/id/" in declared["extensions"], "pdfuaid is described (PDF/A-3 6.6.2.3)"
    attached = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
    assert attached == {name: content for name, content, _ in files}
    assert all(str(spec.obj.AFRelationship) == "/Data" for spec in pdf.attachments.values())
    annots = link_annotations(pdf)
    assert len(annots) == 2 and all("/Contents" in a for a in annots), "PDF/UA: every link is described"
    assert not [a for a in annots if zero_area(a)], "no empty link annotation"
    ths = [n for n in structure(root) if n.S == "/TH"]
    assert ths and all(has_scope(th) for th in ths), "every header cell says what it heads"


# --- the page's accessibility ----------------------------------------------------------

def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_of_the_palette_computed_from_the_stylesheet():
    css = CSS.read_text(encoding="utf-8")
    palette = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    text = {k: palette[k] for k in ("ink", "muted", "accent", "gold")}
    backgrounds = {"white": "#ffffff", **{k: palette[k] for k in ("accent-soft", "gap")}}
    backgrounds.update({m: m for m in re.findall(r"background: (#[0-9a-fA-F]{6})", css)})
    low = [(t, b, round(contrast(c, bg), 2)) for t, c in text.items() for b, bg in backgrounds.items()
           if contrast(c, bg) < 4.5]
    assert not low, f"text colours under 4.5:1: {low}"
    for rule in re.findall(r"\{[^{}]*\bcolor: (#[0-9a-fA-F]{6})[^{}]*\}", css):  # literal text colours too
        assert contrast(rule, "#ffffff") >= 4.5, rule
    assert contrast("#c99700", "#ffffff") < 4.5  # the check can fail: the old gold


def test_page_has_landmarks_skip_link_alt_text_and_headings_in_order():
    from bs4 import BeautifulSoup

    html, _ = ReportHTMLExporter().from_notebook_node(section_notebook())
    soup = BeautifulSoup(html, "html.parser")
    assert soup.html["lang"] == "en"
    assert len(soup.find_all("main")) == 1
    first_link = soup.body.find("a")
    assert "skip-link" in first_link["class"] and first_link["href"] == "#main" and soup.find(id="main")
    for img in soup.find_all("img"):
        assert img.get("alt", "").strip(), img
    for table in soup.find_all("table"):
        assert table.find("th"), "every table has header cells"
    assert_headings_in_order(soup)


def assert_headings_in_order(soup) -> None:
    levels = [int(h.name[1]) for h in soup.find_all(re.compile(r"^h[1-6]$"))]
    assert levels and levels[0] == 1
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not skips, f"heading levels skip: {skips}"


def test_heading_check_fails_on_a_skipped_level():
    from bs4 import BeautifulSoup

    with pytest.raises(AssertionError):
        assert_headings_in_order(BeautifulSoup("<h1>a</h1><h3>b</h3>", "html.parser"))


# --- what a reader stumbled on -------------------------------------------------------------

def test_a_count_says_which_year_and_edition_each_ally_figure_comes_from():
    import pandas as pd

    from natoua import analysis

    latest = pd.DataFrame({"name": ["Poland", "Czechia", "Hungary"], "year": [2025, 2025, 2024],
                           "edition_label": ["Annual Report 2025", "August 2025 edition", "August 2025 edition"]})
    assert analysis.count_basis(latest) == ("2025 for 2 allies (Annual Report 2025 and August 2025 edition); "
                                            "2024 for Hungary (August 2025 edition)")
    assert analysis.editions(latest[latest["year"] == 2024]) == "August 2025 edition"
