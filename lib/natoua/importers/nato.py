"""NATO's defence-expenditure tables workbook -> that release's rows of `defence_expenditure`.

NATO publishes its yearly release "Defence Expenditure of NATO Countries (2014-YYYY)" as a PDF and, beside
it, a tables workbook (e.g. 240617-def-exp-2024-TABLES-en.xlsx, 17 June 2024). Sheet TABLE3 ("Defence
expenditure as a share of GDP and annual real change", based on 2015 prices) holds, under a header row of
years (`2014` ... `'2023e'`, `'2024e'`: an `e` marks NATO's estimates; some years are stored as text), a block
"Share of real GDP (%)" with one row per ally (names in column C, `*` marking allies with a national 2% law)
and the aggregates "NATO Europe and Canada" and "NATO Total" (column B), then a block "Annual real change (%)".
Values are stored unrounded and displayed with the cell's number format (`#,##0.00`: two decimals); the
dataset keeps the figure as NATO displays it (`natoua.rounding.displayed`).

The dataset holds several NATO editions (`edition` column). This importer owns the rows of its release's
edition and replaces only those; rows from other editions stay as they are. From the June 2024 release the
report uses each ally's newest figure (2024e): the 2014-onwards series comes from a later edition (see
`analysis.SERIES_EDITION`). The `notes` of a row already in the dataset are the project's remarks and are kept.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from . import guard
from .tidy import LayoutError, Tidy
from ..rounding import displayed

DATASET = "defence_expenditure"
SHEET = "TABLE3"
TITLE = re.compile(r"^Table 3\s*:\s*Defence expenditure as a share of GDP", re.I)
SHARE_BLOCK = "Share of real GDP (%)"
CHANGE_BLOCK = "Annual real change (%)"
HEADER_ROW = 8  # the row of years in NATO's 2024 layout
FIRST_YEAR_COLUMN = 4  # D
NAME_COLUMN = 3  # C: allies
YEAR = re.compile(r"^(\d{4})(e?)$")

# NATO's names for the allies (a trailing '*' marks a national 2% law and is dropped). Iceland has no armed
# forces and is not in NATO's tables.
ALLIES = {
    "Albania": "ALB", "Belgium": "BEL", "Bulgaria": "BGR", "Canada": "CAN", "Croatia": "HRV", "Czechia": "CZE",
    "Denmark": "DNK", "Estonia": "EST", "Finland": "FIN", "France": "FRA", "Germany": "DEU", "Greece": "GRC",
    "Hungary": "HUN", "Italy": "ITA", "Latvia": "LVA", "Lithuania": "LTU", "Luxembourg": "LUX", "Montenegro": "MNE",
    "Netherlands": "NLD", "North Macedonia": "MKD", "Norway": "NOR", "Poland": "POL", "Portugal": "PRT",
    "Romania": "ROU", "Slovak Republic": "SVK", "Slovenia": "SVN", "Spain": "ESP", "Sweden": "SWE",
    "Türkiye": "TUR", "United Kingdom": "GBR", "United States": "USA",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

COLUMNS = ["iso3", "year", "pct_gdp", "decimals", "estimate", "edition", "source_id", "notes"]
KEYS = ["iso3", "year", "edition"]
VALUE_COLUMNS = ["pct_gdp", "decimals", "estimate"]
OWNED_BY = "edition"  # the importer replaces the rows of its own edition only
NEW_ROW_NOTE = "{year} estimate, {month} {release_year} edition"


def read(path: Path, meta: dict | None = None) -> Tidy:
    """That release's rows of `defence_expenditure` from one NATO tables workbook; LayoutError otherwise."""
    from openpyxl import load_workbook

    path = Path(path)
    name = path.name
    guard.check(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on a damaged file; the guard caught the dangerous ones
        raise LayoutError(name, f"not an .xlsx workbook NATO publishes ({type(exc).__name__}: {exc})") from None
    try:
        if SHEET not in wb.sheetnames:
            raise LayoutError(name, f"sheet {SHEET!r} is missing (sheets: {', '.join(wb.sheetnames)})")
        released = _release_date(wb, meta, name)
        values, years, last_year = _table3(wb[SHEET], name)
    finally:
        wb.close()

    first_year = min(years)
    month = MONTHS[released.month - 1]
    edition = f"nato-{released.year}-{released.month:02d}"
    source_id = f"nato-defexp-{first_year}-{last_year}-{month}-{released.year}"
    estimate = years[last_year]
    note = NEW_ROW_NOTE.format(year=last_year, month=released.strftime("%B"), release_year=released.year)
    rows = []
    for iso3 in sorted(values):
        text, decimals = values[iso3]
        rows.append([iso3, str(last_year), text, str(decimals), "true" if estimate else "false", edition, source_id,
                     note])
    release = f"{released.strftime('%B %Y')} edition (data {first_year}-{last_year}"
    release += f"{'e' if estimate else ''})"
    return Tidy(DATASET, COLUMNS, rows, KEYS, release=release, source_id=source_id,
                meta={"release": release, "published": released.isoformat()}, owned_by=OWNED_BY)


def _release_date(wb, meta, name) -> date:
    """The release day: the workbook's last save by NATO (its core properties), which is the release day for
    the June 2024 tables (saved 2024-06-17, the day of the release and of the file name's 240617)."""
    modified = getattr(wb.properties, "modified", None)
    if isinstance(modified, datetime):
        return modified.date()
    if meta and meta.get("published"):
        return date.fromisoformat(meta["published"])
    raise LayoutError(name, "the workbook records no save date, so the release is unknown (docProps/core.xml)")


def _table3(ws, file: str):
    """({iso3: (pct text, decimals)} for the last year, {year: is_estimate}, last year)."""
    from openpyxl.utils import get_column_letter

    rows = list(ws.iter_rows(min_row=1, max_row=200, max_col=40))
    title = _cell(rows, 4, 2)
    if not (isinstance(title, str) and TITLE.match(title.strip())):
        raise LayoutError(file, f"expected NATO's title 'Table 3 : Defence expenditure as a share of GDP ...', found "
                                f"{title!r}", SHEET, 4, "B")
    years: dict[int, bool] = {}
    col = FIRST_YEAR_COLUMN
    while (value := _cell(rows, HEADER_ROW, col)) not in (None, ""):
        match = YEAR.match(str(value).strip())
        if not match:
            raise LayoutError(file, f"expected a year (e.g. 2014 or '2024e') in the header, found {value!r}", SHEET,
                              HEADER_ROW, get_column_letter(col))
        years[int(match.group(1))] = bool(match.group(2))
        col += 1
    if not years:
        raise LayoutError(file, f"no year in the header row (expected 2014 in {get_column_letter(FIRST_YEAR_COLUMN)}"
                                f"{HEADER_ROW}; header moved?)", SHEET, HEADER_ROW, get_column_letter(FIRST_YEAR_COLUMN))
    ordered = list(years)
    if ordered != list(range(ordered[0], ordered[0] + len(ordered))):
        raise LayoutError(file, f"year columns are not consecutive ({ordered})", SHEET, HEADER_ROW, None)
    last_year = ordered[-1]
    last_col = FIRST_YEAR_COLUMN + len(ordered) - 1

    block_start = block_end = None
    for r in range(HEADER_ROW + 1, len(rows) + 1):
        label = _cell(rows, r, 2)
        if isinstance(label, str) and label.strip() == SHARE_BLOCK:
            block_start = r
        elif block_start and isinstance(label, str) and label.strip() == CHANGE_BLOCK:
            block_end = r
            break
    if block_start is None:
        raise LayoutError(file, f"no block {SHARE_BLOCK!r} in column B below the header", SHEET, None, "B")
    if block_end is None:
        raise LayoutError(file, f"no block {CHANGE_BLOCK!r} in column B after {SHARE_BLOCK!r}", SHEET, None, "B")

    found: dict[str, int] = {}
    for r in range(block_start + 1, block_end):
        label = _cell(rows, r, NAME_COLUMN)
        if label is None:
            continue
        ally = str(label).strip().rstrip("*").strip()
        if ally not in ALLIES:
            raise LayoutError(file, f"{label!r} is not an ally NATO's tables list (renamed or added?)", SHEET, r,
                              get_column_letter(NAME_COLUMN))
        found[ally] = r
    missing = sorted(set(ALLIES) - set(found))
    if missing:
        raise LayoutError(file, f"ally {missing[0]!r} ({ALLIES[missing[0]]}) not found in column "
                                f"{get_column_letter(NAME_COLUMN)} of the {SHARE_BLOCK!r} block (renamed or removed?)",
                          SHEET, None, get_column_letter(NAME_COLUMN))
    values = {}
    for ally, r in found.items():
        cell = rows[r - 1][last_col - 1] if len(rows[r - 1]) >= last_col else None
        values[ALLIES[ally]] = _share(cell, file, r, get_column_letter(last_col))
    return values, years, last_year


def _cell(rows, r: int, c: int):
    if r - 1 >= len(rows) or c - 1 >= len(rows[r - 1]):
        return None
    return getattr(rows[r - 1][c - 1], "value", None)


DECIMALS = re.compile(r"0\.(0+)(?![0-9#])")


def _share(cell, file: str, row: int, column: str) -> tuple[str, int]:
    """(% of GDP as NATO displays it, decimals displayed) for one cell."""
    value = getattr(cell, "value", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LayoutError(file, f"expected a share of GDP (a number), found {value!r}", SHEET, row, column)
    fmt = getattr(cell, "number_format", "General") or "General"
    match = DECIMALS.search(fmt)
    if not match:
        raise LayoutError(file, f"number format {fmt!r} does not say how many decimals NATO displays "
                                "(expected e.g. '#,##0.00')", SHEET, row, column)
    decimals = len(match.group(1))
    if not 0 <= value <= 100:
        raise LayoutError(file, f"{value!r} is not a share of GDP in percent", SHEET, row, column)
    return displayed(value, decimals), decimals
