"""End to end: the real notebooks on the real data, built through the `natoua` command.

The tests read the default edition built once per session (conftest.default_edition: cold cache, with PDF);
further builds reuse that reports folder (nothing to do) or build into their own.
"""

from __future__ import annotations

import json
import os
import re
from io import BytesIO
from pathlib import Path

import pytest

from natoua import paths

from conftest import KEEP_CACHE_ENV, natoua
from test_export import external_references


@pytest.fixture(scope="module")
def reports(default_edition) -> Path:
    return default_edition


@pytest.fixture(scope="module")
def edition(reports) -> Path:
    return reports / "latest"


@pytest.fixture(scope="module")
def pdf_read(edition, default_edition_pdf_text):
    """The edition's PDF: (reader, page texts, per page the (text, cm, tm) of every piece of text pypdf met),
    the texts read once per test run (conftest.default_edition_pdf_text)."""
    from pypdf import PdfReader

    texts, placed = default_edition_pdf_text
    return PdfReader(BytesIO(_files(edition, ".pdf").read_bytes())), texts, placed


@pytest.fixture(scope="module")
def pdf_pages(pdf_read):
    """(reader, page texts) of the edition's PDF."""
    reader, texts, _ = pdf_read
    return reader, texts


def _files(edition: Path, suffix: str) -> Path:
    found = list(edition.glob(f"nato-ukraine-relations-*{suffix}"))
    assert len(found) == 1, found
    return found[0]


def test_edition_layout(edition, reports):
    assert edition.is_symlink() and edition.resolve().parent.name == "_editions"
    names = {p.name for p in edition.iterdir()}
    for expected in ("nato-ukraine-relations-2026-03-31.html", "nato-ukraine-relations-2026-03-31.pdf",
                     "manifest.json", "claims.json", "build.log", "notebooks", "datasets.json"):
        assert expected in names
    assert len(list((edition / "notebooks").glob("*.ipynb"))) == len(paths.section_notebooks())


def test_html_has_every_section_title_and_nothing_external(edition):
    html = _files(edition, ".html").read_text(encoding="utf-8")
    manifest = json.loads((edition / "manifest.json").read_text())
    import html as htmlmod

    text = htmlmod.unescape(html)
    for section in manifest["sections"]:
        assert section["title"] in text, section["title"]
    assert external_references(html) == []
    assert "<script" not in html.lower()
    assert re.search(r'href="#sec-07"', html), "table of contents links to numbered sections"
    assert "Figure 7.1" in html and "Source:" in html


def test_pdf_has_contents_footers_and_key_figures(edition, pdf_pages):
    reader, texts = pdf_pages
    n = len(reader.pages)
    assert "Edition date 31 March 2026" in texts[0] and "published" not in texts[0].replace("published after", "")
    assert "Contents" in texts[1]
    assert f"Page 2 of {n}" in texts[1] and f"Page {n} of {n}" in texts[-1]
    claims = json.loads((edition / "claims.json").read_text())
    everything = " ".join(" ".join(texts).split())
    numeric = sorted(n for n, c in claims.items() if isinstance(c["value"], (int, float)) and c["section"] in ("01", "07"))
    assert len(numeric) >= 10
    missing = [n for n in numeric if claims[n]["text"] not in everything]
    assert not missing, f"key figures not found in the PDF text: {missing}"


def test_every_claim_appears_in_the_built_text(edition):
    import html as htmlmod

    html = htmlmod.unescape(_files(edition, ".html").read_text(encoding="utf-8"))
    claims = json.loads((edition / "claims.json").read_text())
    assert len(claims) > 20
    missing = [n for n, c in claims.items() if c["text"] not in html]
    assert not missing, missing


def test_manifest_lists_inputs_versions_and_timings(edition):
    manifest = json.loads((edition / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-03-31"
    assert manifest["parameters"]["common"] == {"as_of": "2026-03-31", "currency": "EUR"}
    for name in ("data/countries.csv", "data/defence_expenditure.csv", "data/datapackage.json"):
        assert re.fullmatch(r"[0-9a-f]{64}", manifest["inputs"][name])
    assert manifest["versions"]["papermill"] and manifest["versions"]["typst"]
    sec07 = next(s for s in manifest["sections"] if s["section"] == "07")
    assert "defence_expenditure" in sec07["datasets"]
    if os.environ.get(KEEP_CACHE_ENV) and sec07["status"] == "cached":  # make test-quick, a later run: nothing ran
        assert sec07["seconds"] is None
    else:
        assert sec07["status"] == "executed" and sec07["seconds"] > 0


def test_nothing_changed_starts_no_kernel(reports):
    proc = natoua("build", "--out", reports, check=True)
    assert "up to date" in proc.stdout
    assert " ok " not in proc.stdout


@pytest.mark.full
def test_same_inputs_give_identical_html_and_pdf_with_plain_kernels_and_the_pdf_typeset_after_the_html(reports, tmp_path):
    """Executing every section again gives the same bytes, with a plain kernel per notebook instead of one
    forked from the warm zygote (the zygote is only a start-up optimisation) and the PDF typeset after the
    HTML instead of beside it (NATOUA_SERIAL_EXPORT=1, how `make bench` times the PDF phase alone): neither
    changes what is built. One build checks all three (the shared edition used neither)."""
    first = (reports / "latest").resolve()
    natoua("build", "--out", tmp_path, "--force", env={"NATOUA_FORK_KERNELS": "0", "NATOUA_SERIAL_EXPORT": "1"},
           check=True)
    second = (tmp_path / "latest").resolve()
    for suffix in (".html", ".pdf"):
        assert _files(first, suffix).read_bytes() == _files(second, suffix).read_bytes(), suffix


# --- traceable and accessible (issue 9): the link graph, the PDF's structure and attachments ----------

def test_link_graph_numbers_to_ledger_to_datasets_to_sources_to_publishers(edition):
    from bs4 import BeautifulSoup

    from natoua import links

    soup = BeautifulSoup(_files(edition, ".html").read_text(encoding="utf-8"), "html.parser")
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    internal = [a["href"][1:] for a in soup.find_all("a", href=True) if a["href"].startswith("#")]
    assert not [h for h in internal if h not in ids], "every internal link has a target"
    claims = json.loads((edition / "claims.json").read_text())
    assert all(links.claim_anchor(name) in ids for name in claims), "every claim has a ledger row"
    numbers = soup.select("a.claim")
    assert len({a["href"] for a in numbers}) > 100, "numbers in the prose link to their ledger rows"
    ledger = soup.find(id="sec-key-figures")
    dataset_links = {a["href"][1:] for a in ledger.select("tbody a")}
    assert dataset_links and all(h.startswith("ds-") and h in ids for h in dataset_links)
    references = soup.select("ol.references > li")
    assert len(references) > 50 and all(li.get("id", "").startswith("src-") for li in references)
    urls = [a["href"] for li in references for a in li.select("a.ref-url")]
    assert len(urls) > 30 and all(re.match(r"https?://", u) for u in urls)
    assert not soup.select("span.ref-url"), "every source address is a link"
    cites = [a for fig in soup.select("figure.report-figure") for a in fig.select(".source a.cite")]
    assert len(cites) >= 15, "figure source lines link to their Sources entries"
    for dictionary_entry in (soup.find(id=h) for h in dataset_links):
        assert dictionary_entry.select(".source a.cite") or "data/datapackage.json" in dictionary_entry.text


def test_pdf_links_work_and_urls_are_never_split(edition, pdf_pages):
    reader, texts = pdf_pages
    names = set(reader.named_destinations)
    uris, internal = set(), []
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A") or {}
            if "/URI" in action:
                uris.add(str(action["/URI"]))
            elif "/D" in action or "/Dest" in annot.get_object():
                internal.append(str(action.get("/D") or annot.get_object()["/Dest"]))
    assert len(internal) > 300 and all(d in names for d in internal if not d.startswith("[")), \
        "internal links (numbers, sources, contents) resolve to named destinations"
    html = _files(edition, ".html").read_text(encoding="utf-8")
    expected = set(re.findall(r'<a class="ref-url" href="([^"]+)"', html))
    assert expected and {u.replace("&amp;", "&") for u in expected} <= uris
    text = "".join("".join(texts).split())
    assert "\u2010" not in "".join(u for u in uris if u in text) and "ht\u2010tps" not in text
    split = [u for u in uris if "nato.int" in u and u.replace(" ", "") not in text.replace("\u2010", "")]
    assert not split, f"URLs broken in the text: {split[:3]}"


def test_pdf_prose_is_hyphenated_and_quoted_as_the_html_but_no_identifier_is_broken(edition, pdf_pages):
    """Prose is hyphenated; a claim's name, a dataset file name, an address or a hash never is (each is printed
    whole once the lines are joined); double quotes are typographic, as in the HTML."""
    reader, texts = pdf_pages
    body = [re.sub(r"\s*Page \d+ of \d+\s*$", "", t) for t in texts]
    # a line ending in a hyphen inside a word: hyphenation (pypdf reads its hyphen as "-" or U+00AD, depending on
    # which the font's glyph met first) or a compound's own hyphen ("full-scale"), about 40 of those
    breaks = [m.group(0) for t in body for m in re.finditer(r"\S+[\u00ad-]\n\S+", t)]
    assert len([b for b in breaks if re.search(r"[a-z][\u00ad-]\n[a-z]", b)]) > 100, "prose is hyphenated"
    odd = [b for b in breaks if "\u00ad" in b and not re.fullmatch(r"\(?[A-Za-z]+\u00ad\n[a-z]+\W*", b)]
    assert not odd, f"hyphenated inside something that is not a word: {odd[:5]}"
    joined = "".join("".join(texts).split()).replace("\u00ad", "-")  # a real hyphen may read as U+00AD in pypdf
    claims = json.loads((edition / "claims.json").read_text())
    assert len(claims) > 100 and not [n for n in claims if n not in joined], "every claim's name printed whole"
    files = sorted({m for t in texts for m in re.findall(r"[a-z_]+\.csv", t)})
    assert len(files) > 10 and not [f for f in files if f not in joined]
    assert '"' not in "".join(texts) and "“" in "".join(texts)


def page_fill(reader, placed) -> list[tuple[float, bool]]:
    """Per page: (fill, ends a section). Fill is the share of the body area (A4 less the template's 22 mm top and
    20 mm bottom margins) from its top down to the lowest line of text (a figure or a table ends with its caption
    or source line); a page ends a section when the next page starts one (a top-level bookmark) or is the last.
    `placed`: per page, the (text, cm, tm, size) pypdf met (see pdf_read)."""
    mm = 72 / 25.4
    starts = {reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list)}
    out = []
    for i, page in enumerate(reader.pages):
        top, bottom = float(page.mediabox.height) - 22 * mm, 20 * mm
        lows = [top]
        for text, cm, tm, _ in placed[i]:
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            if text.strip() and bottom < y < top:
                lows.append(y)
        out.append(((top - min(lows)) / (top - bottom), i + 1 in starts or i == len(reader.pages) - 1))
    return out


def test_no_page_inside_a_section_is_less_than_half_full(edition, pdf_read):
    reader, _, placed = pdf_read
    fills = page_fill(reader, placed)
    first_section = min(reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list))
    poor = [(n, f"{fill:.0%}") for n, (fill, ends) in enumerate(fills, 1) if n > first_section and not ends and fill < 0.5]
    assert not poor, f"pages less than half full inside a section: {poor}"
    assert sum(1 for fill, ends in fills if ends) >= 14 and max(fill for fill, _ in fills) > 0.9


def test_pdf_is_tagged_archival_and_accessible(edition):
    import pikepdf

    from test_publishing import has_scope, link_annotations, pdf_standards, structure, zero_area

    pdf = pikepdf.open(_files(edition, ".pdf"))
    root = pdf.Root
    assert root.MarkInfo.Marked is True and str(root.Lang) == "en"
    assert root.ViewerPreferences.DisplayDocTitle is True
    declared = pdf_standards(pdf)
    assert declared["title"] == "NATO–Ukraine Relations 2026" and declared["pdfa"] == "3A" and declared["pdfua"] == "1"
    assert "http://www.aiim.org/pdfua/ns/id/" in declared["extensions"]
    elements = structure(root)
    headings = [int(str(n.S)[2]) for n in elements if re.fullmatch(r"/H[1-6]", str(n.S))]
    figures = [n for n in elements if n.S == "/Figure"]
    ths = [n for n in elements if n.S == "/TH"]
    assert headings[0] == 1 and not [(a, b) for a, b in zip(headings, headings[1:]) if b > a + 1], headings
    assert len(figures) >= 20 and all(str(f.get("/Alt", "")).strip() for f in figures)
    assert len(ths) > 50, "table header cells are tagged"
    assert all(has_scope(th) for th in ths), "every header cell has its /Scope"
    annots = link_annotations(pdf)
    assert len(annots) > 1000 and not [a for a in annots if zero_area(a)], "no zero-area link annotation"
    assert all("/Contents" in a for a in annots), "every link is described"
    assert len(pdf.open_outline().root) >= 14, "bookmarks for every section"


def test_a_table_across_pages_stays_one_table_and_says_continued(edition, pdf_pages):
    """The claim ledger runs over several pages: one Table element in the tags, its header repeated on
    every page with "(continued)" after the caption."""
    import pikepdf

    from test_publishing import structure

    _, texts = pdf_pages
    ledger_pages = [i for i, t in enumerate(texts) if "Claim ledger: every figure in the prose" in t]
    assert len(ledger_pages) >= 3
    for i in ledger_pages[1:]:
        assert "(continued)" in texts[i] and "Value" in texts[i] and "Dataset(s)" in texts[i], i
    assert "(continued)" not in texts[ledger_pages[0]]
    pdf = pikepdf.open(_files(edition, ".pdf"))
    tables = [n for n in structure(pdf.Root) if n.S == "/Table"]
    html = _files(edition, ".html").read_text(encoding="utf-8")
    assert len(tables) == html.count("<table"), "each table of the page is one table in the tags"


def test_no_body_page_is_less_than_half_full_except_where_a_section_ends(edition, pdf_read):
    """Figures and sections do not force page breaks that leave holes: a body page whose text stops above
    the middle of the page is the last page of a section (the next page starts one) or of the report."""
    reader, _, placed = pdf_read
    starts = {reader.get_destination_page_number(o) for o in reader.outline if not isinstance(o, list)}
    mm = 72 / 25.4
    top, bottom = float(reader.pages[0].mediabox.height) - 22 * mm, 20 * mm  # the template's text area
    holes = []
    for i in range(2, len(reader.pages)):  # after the title page and the contents
        lowest = []
        for text, cm, tm, _ in placed[i]:
            y = tm[5] * cm[3] + cm[5]
            if text.strip() and bottom - 1 < y < top + 1:
                lowest.append(y)
        used = (top - min(lowest)) / (top - bottom) if lowest else 0
        if used < 0.5 and i + 1 not in starts and i != len(reader.pages) - 1:
            holes.append((i + 1, round(used, 2)))
    assert len(starts) >= 14 and not holes, f"pages (number, share used) less than half full mid-section: {holes}"


def test_pdf_carries_claims_and_every_csv_it_read(edition):
    import pikepdf

    pdf = pikepdf.open(_files(edition, ".pdf"))
    attached = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
    assert attached.pop("claims.json") == (edition / "claims.json").read_bytes()
    manifest = json.loads((edition / "manifest.json").read_text())
    read = {d for s in manifest["sections"] for d in s["datasets"]}
    assert attached.pop("datapackage.json") == (paths.data_dir() / "datapackage.json").read_bytes()
    assert len(attached) == len(read)
    for name, content in attached.items():  # the rows the edition read: the file's header and rows, none after
        lines = (paths.data_dir() / name).read_text(encoding="utf-8-sig").splitlines()  # the cut-off, none invented
        kept = content.decode("utf-8-sig").splitlines()
        assert kept[0] == lines[0] and len(kept) > 1, name
        rows = set(kept[1:])
        assert [line for line in lines[1:] if line in rows] == kept[1:], name


def test_html_is_accessible_in_what_python_can_check(edition):
    from bs4 import BeautifulSoup

    from test_publishing import assert_headings_in_order

    soup = BeautifulSoup(_files(edition, ".html").read_text(encoding="utf-8"), "html.parser")
    assert len(soup.find_all("main")) == 1 and soup.find("header") and soup.find("nav")
    assert soup.body.find("a")["href"] == "#main"
    body_children = [c for c in soup.body.find_all(recursive=False) if c.name]
    assert all(c.name in ("header", "nav", "main") or "skip-link" in c.get("class", []) for c in body_children)
    assert all(img.get("alt", "").strip() for img in soup.find_all("img"))
    assert_headings_in_order(soup)
    toc = {a["href"] for a in soup.select("nav.toc a")}
    assert {f"#{s['id']}" for s in soup.select("section.report-section")} <= toc


def test_ledger_shows_zero_as_a_number(edition):
    html = _files(edition, ".html").read_text(encoding="utf-8")
    row = re.search(r'<tr id="claim-ov_agreements_treaty">(.*?)</tr>', html).group(1)
    # the zero as a number, then the words the prose uses; set as text so the words wrap in their column
    assert '<td class="txt">0 (“None” in the text)</td>' in row


def test_build_log_gives_the_html_size_in_bytes(edition):
    size = _files(edition, ".html").stat().st_size
    assert f".html ({size} bytes)" in (edition / "build.log").read_text(encoding="utf-8")


def test_every_built_figure_is_a_legible_vector_in_the_projects_fonts(edition):
    from test_charts import check_built_figures

    sizes = check_built_figures(edition)  # valid SVG at print width, Noto only, no text under 7 pt on paper
    assert len(sizes) >= 20


def test_every_heading_link_is_named_by_its_heading(edition):
    """Screen readers announce each "¶" by its accessible name: 'Link to this section: ' and the heading's
    own text (the contents' title, which has no such link, once lent its whole list to the next one)."""
    from html.parser import HTMLParser

    class Headings(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.text, self.labels, self.found = 0, [], [], []

        def handle_starttag(self, tag, attrs):
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.depth, self.text, self.labels = 1, [], []
            elif self.depth and tag == "a" and dict(attrs).get("class") == "anchor-link":
                self.labels.append(dict(attrs).get("aria-label"))
                self.depth = 2  # the "¶" is not part of the heading's text

        def handle_endtag(self, tag):
            if tag == "a" and self.depth == 2:
                self.depth = 1
            elif tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self.depth:
                self.found += [(" ".join("".join(self.text).split()), label) for label in self.labels]
                self.depth = 0

        def handle_data(self, data):
            if self.depth == 1:
                self.text.append(data)

    page = Headings()
    page.feed(_files(edition, ".html").read_text(encoding="utf-8"))
    assert len(page.found) > 50
    wrong = [(heading, label) for heading, label in page.found if label != f"Link to this section: {heading}"]
    assert not wrong, wrong[:3]
