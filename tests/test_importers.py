"""Importers: the committed raw snapshots reproduce the committed datasets byte for byte; malformed copies of
the real files (made here, from the committed snapshots) fail with sheet, row and column and change nothing;
a newer file is reviewed before anything is written."""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from natoua import paths
from natoua.cli import main
from natoua.importers import ReleaseLayoutError, ecb, sha256, sipri, snapshot_meta, snapshot_problems

DATA = paths.ROOT / "data"
SIPRI_FILE, SIPRI_META = snapshot_meta("sipri", DATA)
ECB_FILE, ECB_META = snapshot_meta("ecb", DATA)


# --- reproducibility -------------------------------------------------------------------

def test_sipri_snapshot_reproduces_the_committed_dataset_byte_for_byte():
    tidy = sipri.read(SIPRI_FILE, SIPRI_META)
    assert tidy.csv_bytes() == (DATA / "military_expenditure_sipri.csv").read_bytes()
    assert tidy.source_id == SIPRI_META["source_id"]


def test_ecb_snapshot_reproduces_the_committed_dataset_byte_for_byte():
    tidy = ecb.read(ECB_FILE, ECB_META)
    assert tidy.csv_bytes() == (DATA / "exchange_rates.csv").read_bytes()
    assert tidy.source_id == ECB_META["source_id"]


def test_snapshots_match_their_recorded_hashes():
    assert sha256(SIPRI_FILE) == SIPRI_META["sha256"]
    assert sha256(ECB_FILE) == ECB_META["sha256"]
    assert snapshot_problems(DATA) == []


def test_an_edited_snapshot_fails_validation(data_copy):
    from natoua.validate import validate_package

    snap = data_copy / "raw" / "ecb" / ECB_FILE.name
    snap.write_bytes(snap.read_bytes() + b"\0")
    problems = [str(p) for p in validate_package(data_copy)]
    assert any(p.startswith("data/raw/ecb/eurofxref-hist.zip.meta.json:-:sha256:") for p in problems), problems


# --- SIPRI's conventions, read from the real workbook ----------------------------------------

def _rows(name):
    with open(DATA / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_sipri_estimates_are_flagged_from_the_blue_font():
    rows = {(r["iso3"], r["year"]): r for r in _rows("military_expenditure_sipri")}
    for year in ("2022", "2023", "2024"):  # blue in SIPRI's 2025 release
        assert rows[("RUS", year)]["pct_gdp_flag"] == "estimate"
        assert rows[("UKR", year)]["usd_m_current_flag"] == "estimate"
    assert rows[("RUS", "2021")]["pct_gdp_flag"] == ""
    assert rows[("POL", "2024")]["pct_gdp_flag"] == ""


def test_sipri_unavailable_is_not_zero_and_zero_is_zero():
    rows = {(r["iso3"], r["year"]): r for r in _rows("military_expenditure_sipri")}
    isl = rows[("ISL", "2024")]  # Iceland: share ". ." (unavailable), US$ 0 (no military: footnote 86)
    assert (isl["pct_gdp"], isl["pct_gdp_flag"]) == ("", "unavailable")
    assert (isl["usd_m_current"], isl["usd_m_current_flag"]) == ("0.0", "")
    assert isl["sipri_notes"] == "86"
    assert rows[("MKD", "2024")]["sipri_notes"] == "†77"


def test_sipri_share_is_percent_and_constant_prices_name_their_base_year():
    rows = {(r["iso3"], r["year"]): r for r in _rows("military_expenditure_sipri")}
    assert 30 < float(rows[("UKR", "2024")]["pct_gdp"]) < 40  # SIPRI stores 0.3448...
    assert {r["constant_price_year"] for r in rows.values()} == {"2023"}
    # in the base year, constant and current US$ coincide
    assert rows[("USA", "2023")]["usd_m_constant"] == rows[("USA", "2023")]["usd_m_current"]


# --- malformed copies of the real files ---------------------------------------------------------

def _sheet_xml(xlsx: Path, sheet: str) -> str:
    with zipfile.ZipFile(xlsx) as zf:
        book = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % re.escape(sheet.replace("&", "&amp;")), book).group(1)
    target = re.search(r'<Relationship [^>]*Id="%s"[^>]*Target="([^"]+)"' % rid, rels)
    if target is None:
        target = re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="%s"' % rid, rels)
    return "xl/" + target.group(1).lstrip("/").removeprefix("xl/")


def _rezip(src: Path, dst: Path, edit) -> Path:
    """A copy of the workbook with edit(member_name, text) -> text applied to its XML parts."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith(".xml"):
                data = edit(item.filename, data.decode("utf-8")).encode("utf-8")
            zout.writestr(item, data)
    return dst


def test_missing_sheet_names_the_sheet(tmp_path):
    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx", lambda name, text: text.replace(
        'name="Share of GDP"', 'name="GDP share"') if name == "xl/workbook.xml" else text)
    with pytest.raises(ReleaseLayoutError, match=r"sheet 'Share of GDP' is missing"):
        sipri.read(bad)


def test_renamed_country_names_sheet_and_column(tmp_path):
    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx",
                 lambda name, text: text.replace("<t>Ukraine</t>", "<t>Ukraina</t>") if name == "xl/sharedStrings.xml" else text)
    with pytest.raises(ReleaseLayoutError) as err:
        sipri.read(bad)
    message = str(err.value)
    assert "'Ukraine' (UKR) not found" in message and "sheet '" in message and "column A" in message


def test_text_in_a_number_cell_names_sheet_row_and_column(tmp_path):
    part = _sheet_xml(SIPRI_FILE, "Current US$")

    def edit(name, text):
        if name != part:
            return text
        # Poland 2024 (row 146, column BZ) becomes an inline string
        new, n = re.subn(r'<c r="BZ146"([^>]*?)(?: t="[a-z]+")?([^>]*)>\s*<v>[^<]*</v>\s*</c>',
                         r'<c r="BZ146"\1\2 t="inlineStr"><is><t>n/a</t></is></c>', text)
        assert n == 1
        return new

    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx", edit)
    with pytest.raises(ReleaseLayoutError) as err:
        sipri.read(bad)
    assert str(err.value) == ("bad.xlsx: sheet 'Current US$', row 146, column BZ: 'n/a' is neither a number nor "
                              "one of SIPRI's symbols ('. .', 'xxx')")


def test_moved_header_names_sheet_row_and_column(tmp_path):
    part = _sheet_xml(SIPRI_FILE, "Share of GDP")

    def edit(name, text):
        if name != part:
            return text
        # the header row moves down one row (row 6 -> the empty row 7): it is no longer where SIPRI puts it
        row = re.search(r'<row r="6".*?</row>', text, re.S).group(0)
        moved = re.sub(r'r="([A-Z]+)6"', r'r="\g<1>7"', row.replace('<row r="6"', '<row r="7"', 1))
        return text.replace(row, moved)

    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx", edit)
    with pytest.raises(ReleaseLayoutError, match=r"sheet 'Share of GDP', row 6, column A: expected the header 'Country'"):
        sipri.read(bad)


def test_not_a_workbook_is_a_layout_error(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("Country,2024\n")
    with pytest.raises(ReleaseLayoutError, match="not an .xlsx workbook"):
        sipri.read(bad)


def _ecb_csv(tmp_path, edit) -> Path:
    with zipfile.ZipFile(ECB_FILE) as zf:
        text = zf.read("eurofxref-hist.csv").decode()
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(edit(text), encoding="utf-8")
    return path


def test_ecb_text_in_a_rate_names_row_and_column(tmp_path):
    lines = None

    def edit(text):
        nonlocal lines
        lines = text.splitlines()
        head = lines[0].split(",")
        cells = lines[3].split(",")
        cells[head.index("GBP")] = "0.83x"
        lines[3] = ",".join(cells)
        return "\n".join(lines) + "\n"

    bad = _ecb_csv(tmp_path, edit)
    with pytest.raises(ReleaseLayoutError) as err:
        ecb.read(bad)
    assert "row 4, column GBP: '0.83x' is not a positive rate" in str(err.value)


def test_ecb_missing_currency_column_is_named(tmp_path):
    bad = _ecb_csv(tmp_path, lambda text: text.replace(",NOK,", ",NOKX,", 1))
    with pytest.raises(ReleaseLayoutError, match=r"row 1, column NOK: currency column 'NOK' is missing"):
        ecb.read(bad)


# --- the command: review first, write with --write, bad input changes nothing -------------------------------

def _snapshot_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bad_file_exits_2_naming_the_cell_and_writes_nothing(data_copy, tmp_path, capsys):
    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx",
                 lambda name, text: text.replace("<t>Ukraine</t>", "<t>Ukraina</t>") if name == "xl/sharedStrings.xml" else text)
    before = _snapshot_of(data_copy)
    assert main(["import", "sipri", str(bad), "--write", "--data", str(data_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.xlsx: sheet '") and "nothing written" in err
    assert _snapshot_of(data_copy) == before


def test_newer_file_is_reviewed_then_written_with_write(data_copy, tmp_path, capsys):
    part = _sheet_xml(SIPRI_FILE, "Share of GDP")

    def edit(name, text):  # SIPRI revises Ukraine's 2024 share of GDP
        if name != part:
            return text
        new, n = re.subn(r'(<c r="BZ159"[^>]*>\s*<v>)[^<]*(</v>)', r"\g<1>0.35\g<2>", text)
        assert n == 1
        return new

    newer = _rezip(SIPRI_FILE, tmp_path / "SIPRI-Milex-data-1949-2024_3.xlsx", edit)
    before = _snapshot_of(data_copy)
    assert main(["import", "sipri", str(newer), "--data", str(data_copy)]) == 0
    out = capsys.readouterr().out
    assert "values revised: 1" in out and "UKR/2024 pct_gdp: 34.4815 -> 35.0000" in out
    assert "nothing written" in out
    assert _snapshot_of(data_copy) == before

    assert main(["import", "sipri", str(newer), "--write", "--data", str(data_copy),
                 "--file-url", "https://www.sipri.org/example.xlsx"]) == 0
    rows = {(r["iso3"], r["year"]): r for r in csv.DictReader(open(data_copy / "military_expenditure_sipri.csv"))}
    assert rows[("UKR", "2024")]["pct_gdp"] == "35.0000"
    raw = data_copy / "raw" / "sipri"
    assert sorted(p.name for p in raw.iterdir()) == [newer.name, newer.name + ".meta.json"]
    meta = json.loads((raw / (newer.name + ".meta.json")).read_text())
    assert meta["sha256"] == sha256(newer) and meta["file_url"] == "https://www.sipri.org/example.xlsx"
    assert snapshot_problems(data_copy) == []
    # the same file again: nothing left to change
    capsys.readouterr()
    assert main(["import", "sipri", str(raw / newer.name), "--data", str(data_copy)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_committed_snapshot_reimport_is_a_no_op(data_copy, capsys):
    before = _snapshot_of(data_copy)
    assert main(["import", "ecb", "--write", "--data", str(data_copy)]) == 0
    assert "up to date (byte for byte)" in capsys.readouterr().out
    assert _snapshot_of(data_copy) == before
