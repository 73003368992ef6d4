"""SIPRI Military Expenditure Database workbook -> `military_expenditure_sipri`.

Reads three sheets of SIPRI's release workbook (SIPRI-Milex-data-1949-YYYY.xlsx): "Share of GDP",
"Current US$" and "Constant (YYYY) US$". Each has a title block, a header row
(`Country`, `Notes`, one column per year) and one row per country, grouped by region.
SIPRI's conventions, stated on each sheet, are kept:
- ". ." (written "..." in the 2025 release) = data unavailable -> flag `unavailable`, value empty;
- "xxx" = the country did not exist or was not independent -> flag `not_independent`, value empty;
- figures in blue are SIPRI estimates -> flag `estimate`; figures in red are highly uncertain ->
  flag `uncertain`. The colour is the cell's font colour, stored as an indexed colour (12 blue,
  10 red) or as RGB; both are read.
- a zero is a zero (Iceland has no armed forces: 0 US$, share of GDP unavailable).
The footnote reference in the Notes column (e.g. "†77": symbol and footnote number on SIPRI's
"Footnotes" sheet) is kept as printed.

The workbook is opened read-only (about 0.5 s: only the three sheets are parsed; fonts are still
available per cell in read-only mode, measured on the 2025 release).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from . import guard
from .tidy import LayoutError, Tidy
from ..rounding import displayed

DATASET = "military_expenditure_sipri"
FIRST_YEAR = 2008  # the report's window; SIPRI's series start in 1949
HEADER_ROW = 6  # the header row of the three sheets in SIPRI's layout (title block above)
SHARE, CURRENT = "Share of GDP", "Current US$"
CONSTANT = re.compile(r"^Constant \((\d{4})\) US\$$")
NOTES_COLUMN = {SHARE: "B", CURRENT: "B", "constant": "C"}  # where "Notes" sits on each sheet
FIRST_YEAR_COLUMN = {SHARE: 3, CURRENT: 3, "constant": 4}  # 1-based column of the first year

# The countries imported: the 32 allies, Russia and Ukraine, as SIPRI names them.
COUNTRIES = {
    "ALB": "Albania", "BEL": "Belgium", "BGR": "Bulgaria", "CAN": "Canada", "HRV": "Croatia", "CZE": "Czechia",
    "DNK": "Denmark", "EST": "Estonia", "FIN": "Finland", "FRA": "France", "DEU": "Germany", "GRC": "Greece",
    "HUN": "Hungary", "ISL": "Iceland", "ITA": "Italy", "LVA": "Latvia", "LTU": "Lithuania", "LUX": "Luxembourg",
    "MNE": "Montenegro", "NLD": "Netherlands", "MKD": "North Macedonia", "NOR": "Norway", "POL": "Poland",
    "PRT": "Portugal", "ROU": "Romania", "SVK": "Slovakia", "SVN": "Slovenia", "ESP": "Spain", "SWE": "Sweden",
    "TUR": "Türkiye", "GBR": "United Kingdom", "USA": "United States of America",
    "RUS": "Russia", "UKR": "Ukraine",
}
UNAVAILABLE = {". .", "...", ". . .", ".."}
NOT_INDEPENDENT = "xxx"
BLUE, RED, BLACK = "0000FF", "FF0000", "000000"

COLUMNS = ["iso3", "year", "pct_gdp", "pct_gdp_flag", "usd_m_current", "usd_m_current_flag",
           "usd_m_constant", "usd_m_constant_flag", "constant_price_year", "sipri_notes", "source_id"]
KEYS = ["iso3", "year"]
VALUE_COLUMNS = ["pct_gdp", "pct_gdp_flag", "usd_m_current", "usd_m_current_flag", "usd_m_constant",
                 "usd_m_constant_flag", "sipri_notes"]


def read(path: Path, meta: dict | None = None) -> Tidy:
    """The tidy dataset from one SIPRI workbook; LayoutError if the layout is not SIPRI's."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    name = Path(path).name
    guard.check(Path(path))
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise LayoutError(name, f"not an .xlsx workbook SIPRI publishes ({type(exc).__name__}: {exc})") from None
    try:
        constant_sheet = next((s for s in wb.sheetnames if CONSTANT.match(s)), None)
        for sheet in (SHARE, CURRENT, constant_sheet or "Constant (YYYY) US$"):
            if sheet not in wb.sheetnames:
                raise LayoutError(name, f"sheet {sheet!r} is missing (sheets: {', '.join(wb.sheetnames)})")
        base_year = int(CONSTANT.match(constant_sheet).group(1))
        share, last_year = _sheet(wb[SHARE], name, SHARE, "share")
        current, _ = _sheet(wb[CURRENT], name, CURRENT, "usd")
        constant, _ = _sheet(wb[constant_sheet], name, constant_sheet, "usd", kind="constant")
    finally:
        wb.close()

    source_id = f"sipri-milex-{last_year + 1}"
    rows = []
    for iso3 in sorted(COUNTRIES):
        for year in range(FIRST_YEAR, last_year + 1):
            s, c, k = share[iso3][year], current[iso3][year], constant[iso3][year]
            rows.append([iso3, str(year), s[0], s[1], c[0], c[1], k[0], k[1], str(base_year),
                         share[iso3]["notes"], source_id])
    release = f"{last_year + 1} release (data 1949-{last_year})"
    return Tidy(DATASET, COLUMNS, rows, KEYS, release=release, source_id=source_id,
                meta={"release": release, "published": ""})


def _sheet(ws, file: str, sheet: str, measure: str, kind: str | None = None):
    """{iso3: {year: (value_text, flag), "notes": text}} and the sheet's last year."""
    spec = kind or sheet
    notes_col = NOTES_COLUMN[spec]
    first_col = FIRST_YEAR_COLUMN[spec]
    rows = ws.iter_rows(min_row=1)
    header = None
    by_name: dict[str, tuple[int, tuple]] = {}
    for r, cells in enumerate(rows, start=1):
        if r < HEADER_ROW:
            continue
        if r == HEADER_ROW:
            header = cells
            _check_header(header, file, sheet, notes_col, first_col)
            continue
        first = cells[0].value if cells else None
        if isinstance(first, str) and first.strip() in COUNTRIES.values():
            by_name.setdefault(first.strip(), (r, cells))
    if header is None:
        raise LayoutError(file, f"no header row (expected 'Country' in A{HEADER_ROW})", sheet, HEADER_ROW, "A")
    years = {}
    for i, cell in enumerate(header[first_col - 1:], start=first_col):
        if cell.value in (None, ""):
            break
        years[_year(cell.value, file, sheet, i)] = i
    last_year = max(years)
    if FIRST_YEAR not in years or sorted(years) != list(range(min(years), last_year + 1)):
        raise LayoutError(file, f"year columns are not consecutive from {min(years)} to {last_year}",
                          sheet, HEADER_ROW, None)
    out = {}
    for iso3, sipri_name in COUNTRIES.items():
        if sipri_name not in by_name:
            raise LayoutError(file, f"country {sipri_name!r} ({iso3}) not found in column A below the header "
                                    "(renamed or removed?)", sheet, None, "A")
        r, cells = by_name[sipri_name]
        notes_idx = ord(notes_col) - ord("A")
        notes = cells[notes_idx].value if len(cells) > notes_idx else None
        values = {"notes": "" if notes is None else str(notes).strip()}
        for year in range(FIRST_YEAR, last_year + 1):
            col = years[year]
            cell = cells[col - 1] if len(cells) >= col else None
            values[year] = _value(cell, file, sheet, r, col, measure)
        out[iso3] = values
    return out, last_year


def _check_header(header, file, sheet, notes_col, first_col) -> None:
    from openpyxl.utils import get_column_letter

    first = header[0].value if header else None
    if not (isinstance(first, str) and first.strip() == "Country"):
        raise LayoutError(file, f"expected the header 'Country', found {first!r} (header moved?)", sheet, HEADER_ROW, "A")
    idx = ord(notes_col) - ord("A")
    notes = header[idx].value if len(header) > idx else None
    if not (isinstance(notes, str) and notes.strip() == "Notes"):
        raise LayoutError(file, f"expected the header 'Notes', found {notes!r}", sheet, HEADER_ROW, notes_col)
    year = header[first_col - 1].value if len(header) >= first_col else None
    if not isinstance(year, int):
        raise LayoutError(file, f"expected the first year (1949), found {year!r}", sheet, HEADER_ROW,
                          get_column_letter(first_col))


def _year(value, file, sheet, col) -> int:
    from openpyxl.utils import get_column_letter

    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return int(value)
    raise LayoutError(file, f"expected a year in the header, found {value!r}", sheet, HEADER_ROW, get_column_letter(col))


def _value(cell, file, sheet, row, col, measure) -> tuple[str, str]:
    """(value as text, flag) for one cell."""
    from openpyxl.utils import get_column_letter

    value = None if cell is None else cell.value
    if isinstance(value, str):
        text = value.strip()
        if text in UNAVAILABLE:
            return "", "unavailable"
        if text == NOT_INDEPENDENT:
            return "", "not_independent"
        raise LayoutError(file, f"{value!r} is neither a number nor one of SIPRI's symbols ('. .', 'xxx')",
                          sheet, row, get_column_letter(col))
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LayoutError(file, f"empty or non-numeric cell ({value!r}); SIPRI marks missing data '. .'",
                          sheet, row, get_column_letter(col))
    colour = _font_rgb(cell)
    if colour.endswith(BLUE):
        flag = "estimate"
    elif colour.endswith(RED):
        flag = "uncertain"
    elif colour.endswith(BLACK) or colour == "":
        flag = ""
    else:
        raise LayoutError(file, f"font colour {colour!r} is neither SIPRI's blue (estimate), red (uncertain) nor black",
                          sheet, row, get_column_letter(col))
    # Rounded once, from the float's 15 significant digits, as SIPRI's spreadsheet displays it (natoua.rounding).
    if measure == "share":  # SIPRI stores a fraction (0.0415 = 4.15%); the dataset holds percent, 4 decimals
        text = displayed(value, 4, scale=100)
    else:  # US$ m; SIPRI displays one decimal
        text = displayed(value, 1)
    return text, flag


def _font_rgb(cell) -> str:
    """The cell's font colour as RRGGBB-ending text ('' for automatic/theme colours)."""
    from openpyxl.styles.colors import COLOR_INDEX

    font = getattr(cell, "font", None)
    color = getattr(font, "color", None) if font is not None else None
    if color is None:
        return ""
    if color.type == "indexed":
        idx = color.indexed
        if idx in (64, 65):  # system foreground/background: automatic
            return ""
        return COLOR_INDEX[idx] if 0 <= idx < len(COLOR_INDEX) else f"indexed {idx}"
    if color.type == "rgb" and isinstance(color.rgb, str):
        return color.rgb.upper()
    return ""
