"""Computations shared by several sections and the ally briefs.

Each function takes `as_of` and returns a DataFrame with the source_id of every
row kept, so captions can cite exactly what was used.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from . import data

SERIES_EDITION = "nato-2025-08"  # the one NATO edition used for the 2014-onwards series
BALTICS = ["EST", "LVA", "LTU"]


# --- allies ----------------------------------------------------------------------------

def allies(as_of) -> pd.DataFrame:
    """NATO allies on `as_of` (accession date on or before it), with names."""
    countries = data.load("countries")
    joined = data.load("nato_enlargement", as_of)
    out = countries.merge(joined[["iso3", "accession_date", "wave"]], on="iso3", how="inner")
    return out.sort_values("name").reset_index(drop=True)


def names() -> dict[str, str]:
    return dict(_names(data.dataset_digest("countries")))


@lru_cache(maxsize=4)
def _names(countries_digest: str) -> tuple:
    c = data.load("countries")
    return tuple(zip(c["iso3"], c["name"]))


# --- publication dates -------------------------------------------------------------------

def known_by(published: pd.Series, precision: pd.Series) -> pd.Series:
    """The date by which a publication was certainly out: the end of its month or year
    when only those are known."""
    end = published.copy()
    month = precision == "month"
    year = precision == "year"
    end[month] = published[month] + pd.offsets.MonthEnd(0)
    end[year] = published[year] + pd.offsets.YearEnd(0)
    return end


def with_publication(frame: pd.DataFrame, source_col: str = "source_id") -> pd.DataFrame:
    src = data.load("sources")[["source_id", "published", "published_precision"]]
    src = src.assign(known_by=known_by(src["published"], src["published_precision"]))
    return frame.merge(src.rename(columns={"source_id": source_col}), on=source_col, how="left")


# --- defence expenditure (NATO) ------------------------------------------------------------

def spending_series(as_of, edition: str = SERIES_EDITION) -> pd.DataFrame:
    """One NATO edition's % of GDP series, years up to as_of (long format)."""
    frame = data.load("defence_expenditure", as_of)
    return frame[frame["edition"] == edition].reset_index(drop=True)


def series_edition(as_of) -> str:
    """The edition to use for the 2014-onwards series: the newest one with a full series published by
    as_of; if none was published by then, the earliest full series in the data (check with
    `edition_published_by`, and say so in the text)."""
    frame = with_publication(data.load("defence_expenditure", as_of))
    spans = frame.groupby("edition").agg(first=("year", "min"), known=("known_by", "max"))
    full = spans[spans["first"] <= 2014].sort_values("known")
    if full.empty:
        raise data.DataError("defence_expenditure has no edition with a series from 2014")
    known = full[full["known"] <= pd.Timestamp(as_of)]
    return known.index[-1] if not known.empty else full.index[0]


def edition_published_by(edition: str, as_of) -> bool:
    frame = with_publication(data.load("defence_expenditure"))
    return bool((frame.loc[frame["edition"] == edition, "known_by"] <= pd.Timestamp(as_of)).all())


def latest_spending(as_of) -> pd.DataFrame:
    """Each ally's most recent % of GDP figure known on as_of.

    For every ally: the latest year any edition published by as_of covers, and
    for that year the most recently published edition. Values keep the
    precision (decimals) of their edition.
    """
    frame = with_publication(data.load("defence_expenditure", as_of))
    frame = frame[frame["known_by"] <= pd.Timestamp(as_of)]
    frame = frame.sort_values(["iso3", "year", "known_by"])
    latest = frame.groupby("iso3").tail(1)
    latest = latest.merge(data.load("countries")[["iso3", "name"]], on="iso3")
    latest["edition_label"] = latest["source_id"].map(edition_label)
    cols = ["iso3", "name", "year", "pct_gdp", "decimals", "estimate", "edition", "edition_label", "source_id"]
    return latest[cols].sort_values("pct_gdp", ascending=False).reset_index(drop=True)


def count_basis(latest: pd.DataFrame) -> str:
    """Which year and NATO edition each ally's figure in a count comes from, for the text next to the count:
    '2025 for 30 allies (Annual Report 2025 and August 2025 edition); 2024 for Hungary (August 2025 edition)'.
    Counts over different years or editions otherwise look contradictory ('31 of 31' beside '30 of the 30')."""
    parts = []
    for year, group in sorted(latest.groupby("year"), key=lambda kv: -kv[0]):
        who = f"{len(group)} allies" if len(group) > 1 else str(group["name"].iloc[0])
        parts.append(f"{int(year)} for {who} ({editions(group)})")
    return "; ".join(parts)


def editions(latest: pd.DataFrame) -> str:
    """The NATO editions behind some latest figures: 'Annual Report 2025 and August 2025 edition'."""
    from .fmt import join

    return join(sorted(set(latest["edition_label"])))


def edition_label(source_id: str) -> str:
    """A short name for a source's edition: 'August 2025 edition', 'Annual Report 2025'."""
    src = data.source(source_id)
    return (src.edition.split(" (")[0].strip() or src.title) if src.edition else src.title


# How a source's figures were read (sources.read_as), as a phrase for the text next to the figures.
READ_PHRASE = {
    "official-file": "read from NATO's own tables workbook",
    "official-page": "read on NATO's page",
    "official-via-reprint": "read in a reprint of NATO's text",
    "news-report": "taken from news reports of the release",
    "transcription": "taken from third-party transcriptions",
    "compiled-list": "taken from a compiled list",
    "secondary-publication": "taken from a secondary publication",
    "editorial": "the report's own classification",
}


def release_readings(frame: pd.DataFrame) -> str:
    """Which NATO release the rows of `frame` come from and how each was read, for a note beside the figures:
    'August 2025 edition: 345 figures (2014–2025) taken from third-party transcriptions and 14 figures (2025) taken
    from news reports of the release; June 2024 edition: 31 figures (2024) read from NATO's own tables workbook'.
    From sources.read_as, so it changes when a release is imported instead of transcribed."""
    from .fmt import join, year_ranges

    src = data.load("sources").set_index("source_id")
    rows = frame.drop_duplicates(["iso3", "year", "source_id"])
    rows = rows.assign(edition_label=rows["source_id"].map(edition_label),
                       read_as=rows["source_id"].map(lambda s: str(src.loc[s, "read_as"])))
    parts = []
    editions = rows.groupby("edition_label")
    for label, group in sorted(editions, key=lambda kv: (-len(kv[1]), kv[0])):
        readings = []
        for read_as, g in sorted(group.groupby("read_as"), key=lambda kv: (-len(kv[1]), kv[0])):
            years = year_ranges(sorted(int(y) for y in g["year"].unique()))
            readings.append(f"{len(g)} figure{'s' if len(g) != 1 else ''} ({years}) "
                            f"{READ_PHRASE.get(read_as, read_as)}")
        parts.append(f"{label}: {join(readings)}")
    return "; ".join(parts)


def target(target_id: str, as_of=None) -> pd.Series | None:
    """A NATO spending target; with `as_of`, None when it had not yet been agreed on that date."""
    t = data.load("nato_targets")
    row = t.loc[t["target_id"] == target_id]
    if row.empty:
        raise data.DataError(f"nato_targets has no target {target_id!r}")
    row = row.iloc[0]
    if as_of is not None and row["agreed_date"] > pd.Timestamp(as_of):
        return None
    return row


def fmt_pct(value, decimals) -> str:
    """A % of GDP value at the precision its edition published."""
    d = 2 if pd.isna(decimals) else int(decimals)
    return f"{value:.{d}f}%"


# --- Kiel Ukraine Support Tracker ---------------------------------------------------------

def europe_codes() -> set[str]:
    """Donors counted as 'Europe' in the tracker's headline comparisons:
    geographic Europe incl. EU institutions, UK, Norway, Switzerland and Iceland (not Türkiye)."""
    return set(_europe_codes(data.dataset_digest("countries")))


@lru_cache(maxsize=4)
def _europe_codes(countries_digest: str) -> frozenset[str]:
    c = data.load("countries")
    europe = c["region"].isin(["Northern Europe", "Western Europe", "Southern Europe", "Eastern Europe",
                               "Europe (institution)"])
    europe &= ~c["iso3"].isin(["RUS", "UKR", "MDA", "SRB", "BIH", "XKX"])
    return frozenset(set(c.loc[europe, "iso3"]) | {"CYP"})
