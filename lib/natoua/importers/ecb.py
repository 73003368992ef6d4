"""ECB euro foreign exchange reference rates (eurofxref-hist) -> `exchange_rates`.

The ECB's file (`eurofxref-hist.zip`, holding `eurofxref-hist.csv`; the CSV alone is accepted too)
has one row per TARGET business day, newest first: `Date,USD,JPY,...` with the units of each
currency per 1 euro, "N/A" where the ECB set no rate (a currency not yet or no longer quoted).

The dataset keeps (currencies: see DAILY and CURRENCIES below):
- `daily`: every reference rate from DAILY_FROM on, exactly as the ECB printed it;
- `annual_average`: the mean of a calendar year's daily rates, for complete years from
  AVERAGE_FROM on (dated on the year's last rate date, the day the average became known),
  computed exactly from the printed rates and rounded once to 5 significant digits, the precision of the ECB's
  own rates (USD 2022: 1.0530, not 1.05305 rounded again to 1.0531 when shown).
Averages over part of a year (to a report's cut-off) are computed by natoua.fx from the daily rows.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

from . import guard
from .tidy import LayoutError, Tidy
from ..rounding import mean_significant

DATASET = "exchange_rates"
CSV_NAME = "eurofxref-hist.csv"
# Daily rates for the currencies the data use (security_agreements.pledge_currency: GBP, CAD, SEK, NOK, ISK;
# USD also for the USD edition). Annual averages also for other allies' and donors' currencies (JPY, DKK, PLN,
# CZK, CHF, AUD), which no dataset row uses yet: their daily rows would double the table (and its validation
# time) for nothing. Add a code to DAILY when a dataset starts using it.
DAILY = ["CAD", "GBP", "ISK", "NOK", "SEK", "USD"]
CURRENCIES = sorted(DAILY + ["AUD", "CHF", "CZK", "DKK", "JPY", "PLN"])
DAILY_FROM = date(2022, 1, 1)  # the report's period: Russia's full-scale invasion onwards
AVERAGE_FROM = 2014  # annual averages from the first year of the report's spending series
RATE_DIGITS = 5  # significant digits of the ECB's reference rates, and of the averages kept here

COLUMNS = ["currency", "kind", "date", "year", "rate", "days", "source_id"]
KEYS = ["currency", "kind", "date"]
VALUE_COLUMNS = ["rate", "days"]


EXPECTS_ZIP = False  # the ECB's zip, or the CSV inside it


def read(path: Path, meta: dict | None = None) -> Tidy:
    name = Path(path).name
    guard.check(Path(path), expect_zip=EXPECTS_ZIP)
    text = _csv_text(Path(path), name)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise LayoutError(name, f"expected the header to start with 'Date', found {header[:1] if header else 'nothing'}",
                          None, 1, "Date")
    index = {h.strip(): i for i, h in enumerate(header)}
    for cur in CURRENCIES:
        if cur not in index:
            raise LayoutError(name, f"currency column {cur!r} is missing from the header", None, 1, cur)
    series: dict[str, list[tuple[date, str]]] = {c: [] for c in CURRENCIES}
    last_date = None
    for line, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise LayoutError(name, f"{row[0]!r} is not a date (YYYY-MM-DD)", None, line, "Date") from None
        last_date = max(last_date or day, day)
        for cur in CURRENCIES:
            cell = row[index[cur]].strip() if index[cur] < len(row) else ""
            if cell in ("N/A", ""):
                continue
            try:
                if float(cell) <= 0:
                    raise ValueError
            except ValueError:
                raise LayoutError(name, f"{cell!r} is not a positive rate", None, line, cur) from None
            series[cur].append((day, cell))
    if last_date is None:
        raise LayoutError(name, "no rates in the file", None, 2, "Date")

    source_id = f"ecb-eurofxref-{last_date.isoformat()}"
    rows = []
    for cur in CURRENCIES:
        points = sorted(series[cur])
        for day, cell in points:
            if day >= DAILY_FROM and cur in DAILY:
                rows.append([cur, "daily", day.isoformat(), str(day.year), _plain(cell), "1", source_id])
        by_year: dict[int, list[tuple[date, str]]] = {}
        for day, cell in points:
            by_year.setdefault(day.year, []).append((day, cell))
        for year, pts in sorted(by_year.items()):
            if year < AVERAGE_FROM or year >= last_date.year:  # only complete years
                continue
            mean = mean_significant([c for _, c in pts], RATE_DIGITS)
            rows.append([cur, "annual_average", pts[-1][0].isoformat(), str(year), _plain(mean), str(len(pts)),
                         source_id])
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    release = f"daily rates to {last_date.isoformat()}"
    return Tidy(DATASET, COLUMNS, rows, KEYS, release=release, source_id=source_id,
                meta={"release": f"daily rates 1999-01-04 to {last_date.isoformat()}", "published": last_date.isoformat()})


def _plain(cell: str) -> str:
    """The ECB's rate as printed, without trailing zeros ('1.0800' -> '1.08')."""
    return cell.rstrip("0").rstrip(".") if "." in cell else cell


def _csv_text(path: Path, name: str) -> str:
    data = path.read_bytes()
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if m.endswith(".csv")]
                if CSV_NAME not in members:
                    raise LayoutError(name, f"the zip holds no {CSV_NAME} (found: {', '.join(zf.namelist()) or 'nothing'})")
                data = zf.read(CSV_NAME)
        except zipfile.BadZipFile as exc:
            raise LayoutError(name, f"not a valid zip file ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LayoutError(name, f"not UTF-8 text (byte {exc.start})") from None
