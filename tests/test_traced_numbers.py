"""Every number traced: the built edition's text, read as a reader reads it (not the notebooks' source).

Any number token a reader sees outside a claim link fails, except the explicit list in tests/reading.py:
years, dates, section, figure and table numbers, quotations of others' words, and tables and figures
themselves (which cite their data).
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from natoua import paths
from reading import ledger_fallback_rows, ledger_label_problems, off_style_money, untraced_numbers, visible_text

from conftest import cli_env


def _build(out: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "natoua.cli", "build", "--jobs", "1", "--out", str(out), *args],
                          capture_output=True, text=True, env=cli_env(), cwd=paths.ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def reports(default_edition) -> Path:
    """The default edition built once for the session (read only here)."""
    return default_edition


@pytest.fixture(scope="module")
def built_html(reports) -> str:
    (page,) = (reports / "latest").glob("nato-ukraine-relations-*.html")
    return page.read_text(encoding="utf-8")


def test_the_reader_check_finds_what_it_should():
    page = ('<section id="sec-07"><p>In 2024, <a class="claim" href="#claim-x">23</a> allies, on 12 July 2024 '
            '(section 7, Figure 7.2), and 19 more; the brief counts “approximately 20 nations”.</p>'
            '<figure><p class="figure-title">Allies at 2% rose from <a class="claim" href="#claim-y">3</a> in 2014 to 18'
            '</p><img alt="18 allies"/><figcaption>31 allies</figcaption></figure><table><tr><td>4.3</td></tr></table>'
            '</section>')
    found = untraced_numbers(page)
    assert [(u.token, u.where) for u in found] == [("19", "sec-07"), ("2", "sec-07"), ("18", "sec-07")]


def test_no_number_in_the_built_text_is_outside_the_ledger(built_html):
    found = untraced_numbers(built_html)
    listing = "\n".join(f"{u.where}: {u.token!r} in “{u.context}”" for u in found[:60])
    assert not found, f"{len(found)} numbers a reader sees are not claim links:\n{listing}"


def test_every_ledger_row_has_a_label_a_reader_recognises(reports, built_html):
    ledger = json.loads((reports / "latest" / "claims.json").read_text(encoding="utf-8"))
    problems = ledger_label_problems(ledger)
    assert not problems, f"{len(problems)} claims:\n" + "\n".join(problems[:40])
    fallback = ledger_fallback_rows(built_html)
    assert not fallback, f"{len(fallback)} ledger rows show the sentence, not a label: {fallback[:20]}"


def test_the_label_check_finds_missing_sentence_and_ambiguous_labels():
    ledger = {
        "a": {"name": "a", "section": "05", "text": "€1 bn", "label": "Aid allocated"},
        "b": {"name": "b", "section": "05", "text": "€2 bn", "label": "aid  allocated"},  # same label, other value
        "c": {"name": "c", "section": "07", "text": "€2 bn", "label": "Aid allocated"},  # another section: fine
        "d": {"name": "d", "section": "07", "text": "3", "label": ""},
        "e": {"name": "e", "section": "07", "text": "4", "label": "“By 2024, … allies spent”"},
        "f": {"name": "f", "section": "01", "text": "5", "label": "Data cut-off"},
        "g": {"name": "g", "section": "01", "text": "5", "label": "Data cut-off"},  # same value: one figure twice
    }
    found = ledger_label_problems(ledger)
    assert [p.split(" ")[0] for p in found] == ["a", "d", "e:"], found
    page = ('<section id="sec-key-figures"><table><tbody>'
            '<tr id="claim-a"><td><span class="ledger-label">Aid allocated</span><br/><code>a</code></td></tr>'
            '<tr id="claim-b"><td><span class="ledger-label">“By 2024, … allies”</span></td></tr>'
            '<tr id="claim-c"><td><code>c</code></td></tr></tbody></table></section>')
    assert ledger_fallback_rows(page) == ["claim-b", "claim-c"]


def test_money_reads_in_one_house_style(built_html):
    found = off_style_money(built_html)
    assert not found, "\n".join(found[:30])


def test_money_check_finds_the_styles_the_house_does_not_use():
    page = ("<p>EUR 90 billion, $170B, GBP 2.5 bn, CAD 3 billion and €3 bn; the brief says “$170B”.</p>"
            "<table><tr><td>about USD 500 million</td></tr></table>")
    assert [f.split(": ")[1].split(" in ")[0] for f in off_style_money(page)] == [
        "'EUR 9'", "'$170B'", "'GBP 2'", "'CAD 3 billion'", "'USD 5'"]


def test_quotation_marks_read_in_one_house_style(built_html):
    straight = [f"{where}: “{' '.join(text.split())[:100]}”" for where, text in visible_text(built_html)
                if '"' in text]
    assert not straight, "\n".join(straight[:20])


@pytest.mark.full
def test_a_usd_edition_sits_beside_the_eur_edition_and_traces_its_numbers_too(default_edition, tmp_path):
    import shutil

    reports = tmp_path / "reports"  # a copy of the shared edition's folder: the USD edition is built beside it
    shutil.copytree(default_edition, reports, symlinks=True, ignore=shutil.ignore_patterns(".build.lock"))
    before = {name: os.readlink(reports / name) for name in ("2026-03-31", "latest")}
    _build(reports, "--currency", "USD")
    assert {name: os.readlink(reports / name) for name in ("2026-03-31", "latest")} == before
    usd = reports / "latest-usd"
    assert os.readlink(usd) == "2026-03-31-usd"
    (page,) = usd.glob("nato-ukraine-relations-2026-03-31-usd.html")
    found = untraced_numbers(page.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{u.where}: {u.token!r} in “{u.context}”" for u in found[:30])
    # claims.json: a money value is in the edition's currency, as its text and unit say
    eur = json.loads((reports / "latest" / "claims.json").read_text())["ov_support_alloc"]
    dollars = json.loads((usd / "claims.json").read_text())["ov_support_alloc"]
    assert dollars["unit"].startswith("USD") and dollars["text"].startswith("$")
    assert float(dollars["text"].strip("$ bn").replace(",", "")) == round(dollars["value"], 1)
    assert dollars["value"] > eur["value"]  # the euro was worth more than a dollar on the cut-off
    assert not (usd / "changes.md").exists()  # compared with no euro edition
    # a dollar brief: its conversion note and amounts trace to the brief's own ledger too
    proc = subprocess.run([sys.executable, "-m", "natoua.cli", "briefs", "--currency", "USD", "--allies", "POL",
                           "--jobs", "1", "--out", str(reports)], capture_output=True, text=True, env=cli_env(),
                          cwd=paths.ROOT, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    brief = (usd / "briefs" / "POL.html").read_text(encoding="utf-8")
    assert "$" in brief and not untraced_numbers(brief), [(u.token, u.context) for u in untraced_numbers(brief)]


def _text(html: str) -> str:
    from bs4 import BeautifulSoup

    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def test_statements_in_the_built_text_follow_the_data(built_html):
    """Headlines and sentences that name leaders, a count or an exception, checked against the CSVs read here
    (not the notebooks' code): figure 7.2's title, the heatmap's leaders, section 7's verdict on the guideline,
    the publishers read after the cut-off (Sources and methodology)."""
    import pandas as pd

    text = _text(built_html)
    series = pd.read_csv(paths.ROOT / "data" / "defence_expenditure.csv").query("edition == 'nato-2025-08'")
    wide = series.pivot(index="iso3", columns="year", values="pct_gdp")
    countries = pd.read_csv(paths.ROOT / "data" / "countries.csv").set_index("iso3")["name"]
    rose = int((wide[2024] > wide[2022]).sum())
    top3 = [countries[i] for i in wide[2024].sort_values(ascending=False).index[:3]]
    leaders = f"{top3[0]}, {top3[1]} and {top3[2]}"
    assert f"Spending rose in {rose} of {int(wide[2024].notna().sum())} allies from 2022 to 2024; {leaders} spend the most" in text
    assert f"{leaders} spend the most relative to their economies" in text
    assert "the eastern flank leads" not in text and "The allies closest to Russia spend the most" not in text
    # every ally with a 2025 figure is at or above 2% in the data: the text must not say "most"
    assert "On the newest figures, every ally with a figure meets the guideline" in text
    sources = pd.read_csv(paths.ROOT / "data" / "sources.csv")
    late = sorted(sources.loc[pd.to_datetime(sources["published"], errors="coerce", format="mixed")
                              > pd.Timestamp("2026-03-31"), "publisher"].unique())
    assert len(late) >= 2 and "(the Kiel tracker)" not in text
    named = text.split("read in a version that appeared after the cut-off")[1].split("only what it reports")[0]
    assert all(publisher in named for publisher in late), (late, named)
    assert "members took between 2.8 years and 13.8 years" in text  # not "2.8 years to 13.8 years"


def test_the_preview_page_traces_its_numbers_like_the_edition(default_edition, tmp_path):
    """What `natoua preview` serves is the page its engine writes (index.html) plus a reload script and a status
    bar added as it is served; the bar's numbers (refresh count, seconds) are the tool's state, not the report's,
    so the page as written is what is read here. Every section comes from the shared edition's cache."""
    from conftest import seeded_reports
    from natoua.preview import Engine
    from natoua.runner import RunOptions

    engine = Engine(RunOptions(as_of="2026-03-31", out=seeded_reports(tmp_path / "reports", default_edition), jobs=1))
    try:
        result = engine.refresh()
    finally:
        engine.close()
    assert result.ok and not result.executed, result
    page = engine.page.read_text(encoding="utf-8")
    assert 'class="claim"' in page
    found = untraced_numbers(page)
    assert not found, "\n".join(f"{u.where}: {u.token!r} in “{u.context}”" for u in found[:30])
    assert not off_style_money(page)


def pdf_reading_text(pages: list[str]) -> str:
    """The PDF's text (its pages' texts) as a reader meets it, without the Sources list (which quotes each
    publication's own words, 'up to EUR 3 billion', like the HTML's) and without quotations of others' words."""
    from reading import QUOTATION

    text = " ".join(" ".join(pages).split())
    start = text.find("Every publication cited by a dataset row")
    end = text.find("Key figures: the claim ledger", start)
    assert 0 < start < end, "the Sources list and the ledger are where the PDF is read"
    return QUOTATION.sub("", text[:start] + text[end:])


def test_money_and_quotes_in_the_pdf_read_in_the_house_style_too(default_edition_pdf_text):
    import re

    from reading import OFF_STYLE_MONEY

    texts, _ = default_edition_pdf_text
    text = pdf_reading_text(texts)
    found = [text[max(0, m.start() - 60):m.end() + 20] for m in OFF_STYLE_MONEY.finditer(text)]
    assert not found, found[:10]
    assert re.search(r"€\d[\d.,]* bn", text)  # the house style is what the PDF prints (€349.9 bn)
    straight = [text[max(0, i - 60):i + 60] for i in [m.start() for m in re.finditer('"', text)]]
    assert not straight, straight[:10]  # quotation marks typographic in the PDF as in the HTML


def pdf_unlinked_card_values(pdf: Path, texts: list[str], placed: list[list[tuple]]) -> list[str]:
    """Numbers on the PDF's key-figure cards (the only text set at 13 pt, report.typ's key-figures) that are not
    inside a link to a row of the claim ledger, as 'page N: text'. `texts` and `placed`: per page, its text and
    the (text, cm, tm, size) of each piece of it, from one pypdf pass (conftest.default_edition_pdf_text)."""
    import math

    from pypdf import PdfReader

    reader = PdfReader(pdf)
    number = {page.indirect_reference.idnum: n for n, page in enumerate(reader.pages)}
    ledger, cards = set(), []  # cards: (page, numbers set at 13 pt, link rectangles with their target page)
    for n, page in enumerate(reader.pages):
        big: list[tuple[str, float, float]] = []
        for text, cm, tm, size in placed[n]:
            drawn = size * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
            if 12.5 < drawn < 13.5 and re.search(r"\d", text):
                big.append((text, tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))
        if "Claim ledger: every figure in the prose" in texts[n]:
            ledger.add(n)
        if not big:
            continue
        links = []
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            dest = (annot.get("/A") or {}).get("/D") or annot.get("/Dest")
            dest = dest.get_object() if dest is not None else None
            page_ref = list.__getitem__(dest, 0) if isinstance(dest, list) and dest else None  # [page, /XYZ, x, y, z]
            if getattr(page_ref, "idnum", None) is not None:
                links.append(([float(v) for v in annot["/Rect"]], number.get(page_ref.idnum)))
        cards.append((n, big, links))
    assert ledger, "the PDF has its claim ledger"
    found = []
    for n, big, links in cards:
        to_ledger = [rect for rect, target in links if target in ledger]
        for text, x, y in big:
            if not any(x0 - 1 <= x <= x1 and y0 - 1 <= y <= y1 for x0, y0, x1, y1 in to_ledger):
                found.append(f"page {n + 1}: {text.strip()!r}")
    return found


def test_key_figure_cards_in_the_pdf_link_their_values_to_the_ledger(reports, built_html, default_edition_pdf_text):
    """In the HTML each card's value is a link to its ledger row; in the PDF too (it once printed plain text)."""
    from bs4 import BeautifulSoup

    cards = BeautifulSoup(built_html, "html.parser").select(".kf-value")
    assert cards and all(card.select("a.claim") for card in cards), "the HTML's card values are claim links"
    (pdf,) = (reports / "latest").glob("nato-ukraine-relations-*.pdf")
    found = pdf_unlinked_card_values(pdf, *default_edition_pdf_text)
    assert not found, f"card values in the PDF that are not links to the ledger: {found[:10]}"
