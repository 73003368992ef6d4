"""Importers: the committed raw snapshots reproduce the committed datasets byte for byte; malformed copies of
the real files (made here, from the committed snapshots) fail with sheet, row and column and change nothing;
a newer file is reviewed before anything is written."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest

from natoua import paths
from natoua.cli import main
from natoua.importers import LayoutError, ecb, guard, nato, sha256, sipri, snapshot_meta, snapshot_problems

DATA = paths.ROOT / "data"
SIPRI_FILE, SIPRI_META = snapshot_meta("sipri", DATA)
ECB_FILE, ECB_META = snapshot_meta("ecb", DATA)
NATO_FILE, NATO_META = snapshot_meta("nato", DATA)


# --- reproducibility -------------------------------------------------------------------

def test_sipri_snapshot_reproduces_the_committed_dataset_byte_for_byte():
    tidy = sipri.read(SIPRI_FILE, SIPRI_META)
    assert tidy.csv_bytes() == (DATA / "military_expenditure_sipri.csv").read_bytes()
    assert tidy.source_id == SIPRI_META["source_id"]


def test_ecb_snapshot_reproduces_the_committed_dataset_byte_for_byte():
    tidy = ecb.read(ECB_FILE, ECB_META)
    assert tidy.csv_bytes() == (DATA / "exchange_rates.csv").read_bytes()
    assert tidy.source_id == ECB_META["source_id"]


def test_nato_snapshot_reproduces_its_rows_of_the_committed_dataset_byte_for_byte():
    target = DATA / "defence_expenditure.csv"
    tidy = nato.read(NATO_FILE, NATO_META)
    assert tidy.dataset_bytes(target) == target.read_bytes()
    assert tidy.source_id == NATO_META["source_id"] == "nato-defexp-2014-2024-jun-2024"
    assert len(tidy.rows) == 31 and {r[5] for r in tidy.rows} == {"nato-2024-06"}


def test_nato_rows_are_the_2024_estimates_as_displayed_in_table3():
    rows = {(r["iso3"], r["edition"]): r for r in _rows("defence_expenditure") if r["year"] == "2024"}
    # TABLE3 2024e stores 4.120190989357147 (POL), 2 (SVK), 2.0294680677363757 (ALB) in cells formatted '#,##0.00'
    assert rows[("POL", "nato-2024-06")]["pct_gdp"] == "4.12"
    assert rows[("SVK", "nato-2024-06")]["pct_gdp"] == "2.00"
    assert rows[("ALB", "nato-2024-06")]["pct_gdp"] == "2.03"
    assert all(r["estimate"] == "true" and r["decimals"] == "2" for k, r in rows.items() if k[1] == "nato-2024-06")
    # the other editions' rows are not the importer's: Poland's August 2025 estimate for 2024 stays
    assert rows[("POL", "nato-2025-08")]["pct_gdp"] == "3.79"


def test_nato_import_keeps_other_editions_and_replaces_its_own(data_copy, capsys):
    target = data_copy / "defence_expenditure.csv"
    original = target.read_bytes()
    lines = original.decode().splitlines(keepends=True)
    edited = [ln.replace(",4.12,2,true,nato-2024-06", ",4.00,2,true,nato-2024-06") for ln in lines]
    target.write_text("".join(edited), encoding="utf-8")
    assert main(["import", "nato", "--data", str(data_copy)]) == 0
    assert "POL/2024/nato-2024-06 pct_gdp: 4.00 -> 4.12" in capsys.readouterr().out
    assert main(["import", "nato", "--write", "--data", str(data_copy)]) == 0
    assert target.read_bytes() == original


def test_snapshots_match_their_recorded_hashes():
    assert sha256(SIPRI_FILE) == SIPRI_META["sha256"]
    assert sha256(ECB_FILE) == ECB_META["sha256"]
    assert sha256(NATO_FILE) == NATO_META["sha256"]
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


def test_sipri_unavailable_cells_hold_three_dots_though_the_legend_says_spaced_dots():
    """SIPRI's legend: '". ." = data unavailable'; the 2025 workbook writes '...' in every such cell (Iceland's share
    of GDP among them) and never '. .'. Both mean unavailable."""
    from openpyxl import load_workbook

    wb = load_workbook(SIPRI_FILE, read_only=True, data_only=True)
    try:
        ws = wb[sipri.SHARE]
        legend = " ".join(str(c.value) for row in ws.iter_rows(max_row=5) for c in row if isinstance(c.value, str))
        iceland = next(row for row in ws.iter_rows(min_row=sipri.HEADER_ROW) if row[0].value == "Iceland")
        cells = {c.value for c in iceland[sipri.FIRST_YEAR_COLUMN[sipri.SHARE] - 1:] if isinstance(c.value, str)}
    finally:
        wb.close()
    assert '". ." = data unavailable' in legend
    assert cells == {"..."}
    rows = {(r["iso3"], r["year"]): r for r in _rows("military_expenditure_sipri")}
    assert all(rows[("ISL", str(y))]["pct_gdp_flag"] == "unavailable" for y in range(2008, 2025))


def test_sipri_values_are_rounded_once_as_sipri_displays_them():
    # Türkiye 2015, current US$ m: the workbook stores 15668.749999999998 (15668.75 to 15 significant digits);
    # SIPRI displays 15668.8. Rounding the binary float itself would give 15668.7.
    rows = {(r["iso3"], r["year"]): r for r in _rows("military_expenditure_sipri")}
    assert rows[("TUR", "2015")]["usd_m_current"] == "15668.8"


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


def _with_text_in_cell(src: Path, dst: Path, sheet: str, cell: str, text: str = "n/a") -> Path:
    """A copy of the workbook whose numeric cell `cell` on `sheet` holds the inline string `text` instead."""
    part = _sheet_xml(src, sheet)

    def edit(name, xml):
        if name != part:
            return xml
        new, n = re.subn(r'<c r="%s"([^>]*?)(?: t="[a-z]+")?([^>]*)>\s*(?:<f>[^<]*</f>\s*)?<v>[^<]*</v>\s*</c>' % cell,
                         r'<c r="%s"\1\2 t="inlineStr"><is><t>%s</t></is></c>' % (cell, text), xml)
        assert n == 1, f"cell {cell} not found once on sheet {sheet!r}"
        return new

    return _rezip(src, dst, edit)


def test_missing_sheet_names_the_sheet(tmp_path):
    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx", lambda name, text: text.replace(
        'name="Share of GDP"', 'name="GDP share"') if name == "xl/workbook.xml" else text)
    with pytest.raises(LayoutError, match=r"sheet 'Share of GDP' is missing"):
        sipri.read(bad)


def test_renamed_country_names_sheet_and_column(tmp_path):
    bad = _rezip(SIPRI_FILE, tmp_path / "bad.xlsx",
                 lambda name, text: text.replace("<t>Ukraine</t>", "<t>Ukraina</t>") if name == "xl/sharedStrings.xml" else text)
    with pytest.raises(LayoutError) as err:
        sipri.read(bad)
    message = str(err.value)
    assert "'Ukraine' (UKR) not found" in message and "sheet '" in message and "column A" in message


def test_text_in_a_number_cell_names_sheet_row_and_column(tmp_path):
    # Poland 2024 (row 146, column BZ) becomes text
    bad = _with_text_in_cell(SIPRI_FILE, tmp_path / "bad.xlsx", "Current US$", "BZ146")
    with pytest.raises(LayoutError) as err:
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
    with pytest.raises(LayoutError, match=r"sheet 'Share of GDP', row 6, column A: expected the header 'Country'"):
        sipri.read(bad)


def test_not_a_workbook_is_a_layout_error(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("Country,2024\n")
    with pytest.raises(LayoutError, match="not an .xlsx workbook"):
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
    with pytest.raises(LayoutError) as err:
        ecb.read(bad)
    assert "row 4, column GBP: '0.83x' is not a positive rate" in str(err.value)


def test_ecb_missing_currency_column_is_named(tmp_path):
    bad = _ecb_csv(tmp_path, lambda text: text.replace(",NOK,", ",NOKX,", 1))
    with pytest.raises(LayoutError, match=r"row 1, column NOK: currency column 'NOK' is missing"):
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


def test_make_data_reimports_every_snapshot_byte_for_byte(data_copy, capsys):
    """What `make data` runs, for every publisher: each reports its dataset up to date and changes nothing."""
    from natoua.importers import publishers

    before = _snapshot_of(data_copy)
    for publisher in publishers():
        assert main(["import", publisher, "--write", "--data", str(data_copy)]) == 0
        assert "up to date (byte for byte)" in capsys.readouterr().out
    assert _snapshot_of(data_copy) == before
    make = (paths.ROOT / "Makefile").read_text()
    assert all(f"natoua import {p} --write" in make for p in publishers())


# --- files that must not knock an importer over: one line, exit code 2, bounded memory ----------------------

def _bomb(path: Path, member: str = "xl/workbook.xml", size: int = 64 * 2**20) -> Path:
    """A small zip (about 64 KB) whose one member inflates to `size` bytes of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            chunk = b"\0" * 2**20
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return path


def _run_import(publisher: str, path: Path, data: Path, limit_mb: int = 768):
    """`natoua import` in a child process whose address space is capped: a parser that inflates the file would
    die of MemoryError instead of passing."""
    import resource
    import subprocess
    import sys

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))

    return subprocess.run([sys.executable, "-m", "natoua.cli", "import", publisher, str(path), "--data", str(data)],
                          capture_output=True, text=True, preexec_fn=cap, timeout=300)


@pytest.mark.parametrize("publisher", ["sipri", "nato", "ecb"])
def test_zip_bomb_stops_with_one_line_and_exit_2(publisher, data_copy, tmp_path):
    member = "eurofxref-hist.csv" if publisher == "ecb" else "xl/workbook.xml"
    bomb = _bomb(tmp_path / ("bomb.zip" if publisher == "ecb" else "bomb.xlsx"), member)
    assert bomb.stat().st_size < 200_000
    before = _snapshot_of(data_copy)
    proc = _run_import(publisher, bomb, data_copy)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bomb.name}: member '{member}' expands "), lines
    assert "nothing written" in lines[0]
    assert _snapshot_of(data_copy) == before


def test_guard_limits_member_size_total_and_count(tmp_path):
    small = _bomb(tmp_path / "small.xlsx", size=2 * 2**20)
    with pytest.raises(LayoutError, match=r"member 'xl/workbook.xml' expands to 2,097,152 bytes, over the 2,000,000"):
        guard.check(small, limits={"member": 2_000_000, "ratio": 10**9})
    with pytest.raises(LayoutError, match=r"members expand to 2,097,152 bytes in all, over the 1,000-byte limit"):
        guard.check(small, limits={"total": 1000, "ratio": 10**9})
    with pytest.raises(LayoutError, match=r"file is [\d,]+ bytes, over the 100-byte limit"):
        guard.check(small, limits={"file": 100})
    guard.check(SIPRI_FILE)  # the publishers' own files pass
    guard.check(NATO_FILE)
    guard.check(ECB_FILE)


@pytest.mark.parametrize("publisher,snapshot", [("sipri", SIPRI_FILE), ("nato", NATO_FILE), ("ecb", ECB_FILE)])
def test_truncated_file_stops_with_one_line_and_exit_2(publisher, snapshot, data_copy, tmp_path):
    cut = tmp_path / snapshot.name
    cut.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    proc = _run_import(publisher, cut, data_copy)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {cut.name}: not a valid zip file, truncated or damaged")


def _encrypted_workbook(path: Path) -> Path:
    """What Excel writes for a password-protected workbook: an OLE2 compound file (its header; the encrypted
    package inside is irrelevant, the importer must stop at the magic bytes)."""
    header = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16) + bytes.fromhex("3E000300FEFF0900")
    path.write_bytes(header + bytes(512 - len(header)) + b"EncryptedPackage".ljust(512, b"\0"))
    return path


@pytest.mark.parametrize("publisher", ["sipri", "nato"])
def test_password_protected_workbook_stops_with_one_line_and_exit_2(publisher, data_copy, tmp_path, capsys):
    locked = _encrypted_workbook(tmp_path / "locked.xlsx")
    before = _snapshot_of(data_copy)
    assert main(["import", publisher, str(locked), "--write", "--data", str(data_copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: locked.xlsx: an encrypted (password-protected) or legacy .xls Office file, not an .xlsx "
                   "workbook; save it without a password as .xlsx; nothing written"]
    assert _snapshot_of(data_copy) == before


def test_nato_layout_errors_name_sheet_row_and_column(tmp_path):
    bad = _rezip(NATO_FILE, tmp_path / "bad.xlsx", lambda name, text: text.replace(
        'name="TABLE3"', 'name="TABLE 3"') if name == "xl/workbook.xml" else text)
    with pytest.raises(LayoutError, match=r"sheet 'TABLE3' is missing"):
        nato.read(bad)

    # Poland 2024e (N32) becomes text
    bad = _with_text_in_cell(NATO_FILE, tmp_path / "bad2.xlsx", "TABLE3", "N32")
    with pytest.raises(LayoutError) as err:
        nato.read(bad)
    assert str(err.value) == "bad2.xlsx: sheet 'TABLE3', row 32, column N: expected a share of GDP (a number), found 'n/a'"


def test_xml_entity_expansion_stops_with_one_line_and_exit_2(data_copy, tmp_path):
    """A 'billion laughs' workbook: a small member whose XML entities would expand without bound. The parsers
    openpyxl uses refuse it (lxml's amplification limit; defusedxml for the parts parsed with ElementTree); the
    importer reports it as one line, exit code 2."""
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
              + ']>')

    def edit(name, text):
        if name != "xl/workbook.xml":
            return text
        return laughs + text.split("?>", 1)[1].replace("<sheets>", "<sheets>&lol9;", 1)

    bad = _rezip(NATO_FILE, tmp_path / "laughs.xlsx", edit)
    assert bad.stat().st_size < 400_000
    proc = _run_import("nato", bad, data_copy)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: laughs.xlsx: "), lines


def test_a_pipe_instead_of_a_file_is_refused_without_blocking(data_copy, tmp_path, capsys):
    import os

    fifo = tmp_path / "release.xlsx"
    os.mkfifo(fifo)
    assert main(["import", "sipri", str(fifo), "--data", str(data_copy)]) == 2
    assert capsys.readouterr().err.strip() == ("error: release.xlsx: not a regular file (a pipe, device or folder); "
                                               "give the release file itself; nothing written")


def test_a_newer_nato_release_adds_its_edition_and_keeps_the_older_snapshot(data_copy, tmp_path, capsys):
    part = _sheet_xml(NATO_FILE, "TABLE3")

    def edit(name, text):  # NATO saves a later release (June 2025) that revises Poland's 2024e
        if name == "docProps/core.xml":
            new, n = re.subn(r"(<dcterms:modified[^>]*>)[^<]*", r"\g<1>2025-06-05T09:00:00Z", text)
            assert n == 1
            return new
        if name == part:
            new, n = re.subn(r'(<c r="N32"[^>]*>\s*(?:<f>[^<]*</f>\s*)?<v>)[^<]*(</v>)', r"\g<1>4.0\g<2>", text)
            assert n == 1
            return new
        return text

    newer = _rezip(NATO_FILE, tmp_path / "250605-def-exp-2025-TABLES-en.xlsx", edit)
    target = data_copy / "defence_expenditure.csv"
    before = target.read_bytes()
    assert main(["import", "nato", str(newer), "--write", "--data", str(data_copy),
                 "--file-url", "https://www.nato.int/example.xlsx"]) == 0
    assert "rows will cite nato-defexp-2014-2024-jun-2025" in capsys.readouterr().out
    after = target.read_text(encoding="utf-8")
    assert after.startswith(before.decode())  # every older row stays, byte for byte, where it was
    assert "POL,2024,4.00,2,true,nato-2025-06,nato-defexp-2014-2024-jun-2025," in after
    raw = sorted(p.name for p in (data_copy / "raw" / "nato").iterdir())
    assert raw == sorted([NATO_FILE.name, NATO_FILE.name + ".meta.json", newer.name, newer.name + ".meta.json"])
    assert snapshot_problems(data_copy) == []
    sources = {r["source_id"]: r for r in csv.DictReader(open(data_copy / "sources.csv", encoding="utf-8"))}
    assert sources["nato-defexp-2014-2024-jun-2025"]["via"] == ("the publisher's file as downloaded from "
                                                               "https://www.nato.int/example.xlsx")
    # make data: both snapshots re-import to the same bytes
    assert main(["import", "nato", "--write", "--data", str(data_copy)]) == 0
    assert capsys.readouterr().out.count("up to date (byte for byte)") == 2
    assert target.read_text(encoding="utf-8") == after
