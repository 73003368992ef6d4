"""Ally briefs: bad codes are rejected before anything runs; every ally gets a PDF with its name and figures."""

from __future__ import annotations

import pytest

from natoua.briefs import parse_allies
from natoua.errors import BuildError

from reading import off_style_money, untraced_numbers, visible_text
from conftest import natoua, seeded_reports


@pytest.mark.parametrize("value", ["../../etc/passwd", "POL,../x", "pol;rm", "PO", "POLAND", "", ",", "XXX", "UKR", "RUS"])
def test_bad_ally_codes_are_rejected(value):
    with pytest.raises(BuildError) as err:
        parse_allies(value, "2026-03-31")
    assert err.value.code == 2


def test_ally_codes_are_checked_against_the_date():
    assert len(parse_allies("all", "2026-03-31")) == 32
    assert "SWE" not in parse_allies("all", "2023-12-31")
    with pytest.raises(BuildError, match="SWE"):
        parse_allies("SWE", "2023-12-31")
    assert parse_allies("pol, DEU,POL", "2026-03-31") == ["POL", "DEU"]


@pytest.mark.full
def test_every_ally_gets_a_brief_with_its_name_and_figures(tmp_path, default_edition):
    from pypdf import PdfReader

    seeded_reports(tmp_path, default_edition)  # section 11 from the cache: these briefs go into its partial build
    assert natoua("build", "--sections", "11", "--no-pdf", "--out", tmp_path).returncode == 0
    bad = natoua("briefs", "--allies", "POL,../../x", "--out", tmp_path)
    assert bad.returncode == 2 and not (tmp_path / "partial" / "latest" / "briefs").exists()
    proc = natoua("briefs", "--out", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    briefs = tmp_path / "partial" / "latest" / "briefs"
    assert f"in {tmp_path / 'partial' / '2026-03-31' / 'briefs'}/ in" in proc.stdout, "the published folder, not a staging one"
    from natoua import data

    countries = data.load("countries").set_index("iso3")
    spending = {r.iso3 for r in data.load("defence_expenditure").itertuples()}
    pdfs = sorted(briefs.glob("*.pdf"))
    assert len(pdfs) == 32
    for pdf in pdfs:
        iso = pdf.stem
        reader = PdfReader(pdf)
        text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
        name = countries.loc[iso, "name"]
        assert reader.metadata.title.startswith(f"{name}: "), reader.metadata.title
        assert f"{name}: ally brief" in text, iso
        assert "Page 1 of" in text and "At a glance" in text
        if iso in spending:
            assert "% of GDP" in text and "Figure 1" in text, iso
        else:
            assert "no armed forces" in text, iso  # Iceland: a correct brief, not a crash
        assert (briefs / f"{iso}.html").exists()
        page = (briefs / f"{iso}.html").read_text(encoding="utf-8")  # money and quotes in the report's house style
        assert not off_style_money(page), (iso, off_style_money(page))
        assert not [t for _, t in visible_text(page) if '"' in t], iso
        untraced = untraced_numbers(page)  # every number in the brief's text links to its own ledger
        assert not untraced, (iso, [(u.token, u.context) for u in untraced[:10]])
        assert page.count('class="claim"') >= 3 and 'id="claim-brief_' in page, iso
    again = natoua("briefs", "--out", tmp_path)
    assert "32 cached" in again.stdout, again.stdout
