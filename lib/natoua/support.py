"""Kiel Ukraine Support Tracker: donor totals, donor groups, shares and ranks (EUR bn).

Two resources hold the same release at different cuts:

* ``support_tracker``: Kiel's per-donor totals (no dates). Use these for totals
  over the whole period the release covers.
* ``support_tracker_by_year``: the same aid by calendar year. Its sums are
  slightly lower for a few donors (entries without a date), so it is used only
  when the figures must stop at a cut-off before the release's data end, and
  for time series.

Every function takes ``as_of``: when the cut-off is on or after the release's
data end (or None), totals come from ``support_tracker``; otherwise they are the
by-year rows summed over the years up to the cut-off year. ``basis(as_of)``
says which in words, for captions. Values are the release's own, so an earlier
cut-off drops later years but keeps the release's revisions of earlier ones.

Donor groups follow the tracker's headline comparison: "Europe" is geographic
Europe including the EU institutions, the United Kingdom, Norway, Switzerland
and Iceland (``analysis.europe_codes()``); the United States on its own; all
other donors (Canada, Japan, Australia, ...) as "Other donors".
"""

from __future__ import annotations

import pandas as pd

from . import analysis, data

AID_TYPES = ["military", "financial", "humanitarian"]
MEASURES = ["allocation", "commitment"]
US = "United States"
EUROPE = "Europe"
OTHER = "Other donors"
GROUPS = [EUROPE, US, OTHER]


# --- the release ---------------------------------------------------------------------

def data_end() -> pd.Timestamp:
    """The last day of aid the release covers (the resource's temporal end)."""
    return pd.Timestamp(data.resource("support_tracker")["temporal"]["end"])


def release() -> str:
    """The release name, e.g. 'Release 28'."""
    ids = data.load("support_tracker")["source_id"].dropna().unique()
    return analysis.edition_label(ids[0]).split(" (")[0]


def full_release(as_of) -> bool:
    """True when the cut-off does not cut into the release (per-donor totals apply)."""
    return as_of is None or pd.Timestamp(as_of) >= data_end()


def last_year(as_of=None) -> int:
    """The last calendar year with data on the cut-off."""
    years = by_year(as_of)["year"]
    return int(years.max())


def partial_year(year: int) -> str | None:
    """The months a calendar year's figures cover when the release ends inside it
    ('January–February'), else None."""
    end = data_end()
    if year != end.year or (end.month == 12 and end.day == 31):
        return None
    last = end if end == end + pd.offsets.MonthEnd(0) else end - pd.offsets.MonthEnd(1)
    if last.year != year:
        return None
    return "January" if last.month == 1 else f"January–{last.strftime('%B')}"


def year_beyond_cutoff(as_of) -> int | None:
    """The cut-off year when its figures reach past the cut-off: the tracker gives calendar
    years only, so a cut-off inside a year keeps that whole year (up to the release's data end)."""
    if as_of is None or full_release(as_of):
        return None
    cut = pd.Timestamp(as_of)
    return None if (cut.month == 12 and cut.day == 31) else int(cut.year)


def period_end(as_of=None) -> pd.Timestamp:
    """The last day the figures at this cut-off cover: the release's data end, or the end of
    the last calendar year kept (the tracker has calendar years only)."""
    if full_release(as_of):
        return data_end()
    return min(data_end(), pd.Timestamp(year=last_year(as_of), month=12, day=31))


def basis(as_of=None) -> str:
    """Which figures a total uses, in words for a caption (the period is stated separately)."""
    if full_release(as_of):
        return f"Kiel {release()} per-donor totals"
    years = sorted(by_year(as_of)["year"].unique())
    return (f"Kiel {release()} by-year figures summed over {years[0]}–{years[-1]}, which for a few donors "
            "are slightly below the per-donor totals")


# --- rows --------------------------------------------------------------------------------

def by_year(as_of=None, measure: str = "allocation") -> pd.DataFrame:
    """Aid by donor, year and type (EUR bn), years up to the cut-off year."""
    _check_measure(measure)
    frame = data.load("support_tracker_by_year", as_of)
    frame = frame[frame["measure"] == measure]
    return frame[["donor_iso3", "year", "aid_type", "eur_bn", "source_id"]].reset_index(drop=True)


def rows(as_of=None, measure: str = "allocation") -> pd.DataFrame:
    """Donor x aid type rows (EUR bn) for totals at the cut-off (see module doc for the choice)."""
    _check_measure(measure)
    if full_release(as_of):
        frame = data.load("support_tracker")
        frame = frame[frame["measure"] == measure]
    else:
        frame = by_year(as_of, measure)
    return (frame.groupby(["donor_iso3", "aid_type"], as_index=False)
            .agg(eur_bn=("eur_bn", "sum"), source_id=("source_id", "first")))


def donor_group(iso3: str, europe: set[str] | None = None) -> str:
    """'Europe', 'United States' or 'Other donors' (`europe`: analysis.europe_codes(), if already at hand)."""
    if iso3 == "USA":
        return US
    return EUROPE if iso3 in (analysis.europe_codes() if europe is None else europe) else OTHER


def donor_groups(codes: pd.Series) -> pd.Series:
    """donor_group of each code, the Europe list looked up once (per row it hashed the countries dataset
    again: about a second of CPU per section that groups the tracker's thousand rows)."""
    europe = analysis.europe_codes()
    return codes.map(lambda iso3: donor_group(iso3, europe))


# --- totals --------------------------------------------------------------------------------

def donor_totals(as_of=None, measure: str = "allocation") -> pd.DataFrame:
    """One row per donor: military, financial, humanitarian, total (EUR bn), share of all
    donors' total, name, group and source_id; sorted by total, largest first."""
    long = rows(as_of, measure)
    wide = long.pivot_table(index="donor_iso3", columns="aid_type", values="eur_bn", aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(columns=AID_TYPES, fill_value=0.0)
    wide["total"] = wide[AID_TYPES].sum(axis=1)
    wide["share"] = wide["total"] / wide["total"].sum()
    wide = wide.reset_index()
    wide.columns.name = None
    names = analysis.names()
    wide["name"] = wide["donor_iso3"].map(names)
    wide["group"] = donor_groups(wide["donor_iso3"])
    wide["source_id"] = wide["donor_iso3"].map(long.groupby("donor_iso3")["source_id"].first())
    wide = wide.sort_values(["total", "donor_iso3"], ascending=[False, True]).reset_index(drop=True)
    return wide[["donor_iso3", "name", "group", *AID_TYPES, "total", "share", "source_id"]]


def type_totals(as_of=None, measure: str = "allocation", donors=None) -> pd.Series:
    """Total by aid type (EUR bn) over all donors, or over the given donor codes; index AID_TYPES
    plus 'total'."""
    frame = donor_totals(as_of, measure)
    if donors is not None:
        frame = frame[frame["donor_iso3"].isin(set(donors))]
    out = frame[AID_TYPES].sum()
    out["total"] = out.sum()
    return out


def group_totals(as_of=None, measure: str = "allocation") -> pd.DataFrame:
    """Totals by donor group (rows GROUPS) and aid type, with 'total' and 'share' of all donors."""
    frame = donor_totals(as_of, measure)
    out = frame.groupby("group")[[*AID_TYPES, "total"]].sum().reindex(GROUPS, fill_value=0.0)
    out["share"] = out["total"] / out["total"].sum()
    return out


def type_shares(totals: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Shares (0-1) of each aid type in a total (a type_totals Series or a frame with AID_TYPES)."""
    if isinstance(totals, pd.Series):
        part = totals[AID_TYPES]
        return part / part.sum()
    part = totals[AID_TYPES]
    return part.div(part.sum(axis=1), axis=0)


# --- over time ---------------------------------------------------------------------------------

def group_by_year(as_of=None, measure: str = "allocation", aid_type: str | None = None) -> pd.DataFrame:
    """Aid per calendar year by donor group (columns GROUPS plus 'total'), EUR bn.

    A group with no rows in a year counts as zero (the release records no aid for it).
    """
    frame = by_year(as_of, measure)
    if aid_type is not None:
        if aid_type not in AID_TYPES:
            raise ValueError(f"aid_type must be one of {AID_TYPES}, not {aid_type!r}")
        frame = frame[frame["aid_type"] == aid_type]
    frame = frame.assign(group=donor_groups(frame["donor_iso3"]))
    years = sorted(data.load("support_tracker_by_year", as_of)["year"].unique())
    out = frame.pivot_table(index="year", columns="group", values="eur_bn", aggfunc="sum", fill_value=0.0)
    out = out.reindex(index=years, columns=GROUPS, fill_value=0.0)
    out.columns.name = None
    out["total"] = out[GROUPS].sum(axis=1)
    return out


def group_shares_by_year(as_of=None, measure: str = "allocation", aid_type: str | None = None) -> pd.DataFrame:
    """Each group's share (0-1) of the year's aid."""
    frame = group_by_year(as_of, measure, aid_type)
    return frame[GROUPS].div(frame["total"].where(frame["total"] > 0), axis=0)


def peak_year(series: pd.Series, complete_only_before=None) -> int:
    """The year with the largest value (years at or after `complete_only_before` are ignored)."""
    s = series if complete_only_before is None else series[series.index < complete_only_before]
    return int(s.idxmax())


# --- commitments vs allocations ------------------------------------------------------------

def commitment_gap(as_of=None) -> pd.DataFrame:
    """Per donor: committed and allocated totals (EUR bn), the gap (committed minus allocated;
    negative where the release shows more allocated than committed) and the allocated share."""
    com = donor_totals(as_of, "commitment").set_index("donor_iso3")
    alloc = donor_totals(as_of, "allocation").set_index("donor_iso3")
    out = pd.DataFrame({"committed": com["total"], "allocated": alloc["total"]}).fillna(0.0)
    out["gap"] = out["committed"] - out["allocated"]
    out["allocated_share"] = out["allocated"] / out["committed"].where(out["committed"] > 0)
    out = out.reset_index().rename(columns={"index": "donor_iso3"})
    out["name"] = out["donor_iso3"].map(analysis.names())
    out["group"] = donor_groups(out["donor_iso3"])
    src = pd.concat([com["source_id"], alloc["source_id"]])
    out["source_id"] = out["donor_iso3"].map(src.groupby(level=0).first())
    out = out.sort_values(["allocated", "donor_iso3"], ascending=[False, True]).reset_index(drop=True)
    return out[["donor_iso3", "name", "group", "committed", "allocated", "gap", "allocated_share", "source_id"]]


# --- relative to GDP -------------------------------------------------------------------------

def pct_gdp(as_of=None) -> pd.DataFrame:
    """Total allocations as % of the donor's 2021 GDP, per donor, largest first.

    For the whole release this is Kiel's own figure (support_relative). For an earlier
    cut-off, the donor's allocations to that cut-off are divided by the GDP Kiel used,
    recovered from Kiel's figure: gdp = release total / release % x 100.
    """
    rel = data.load("support_relative")
    full = donor_totals(None, "allocation").set_index("donor_iso3")
    rel = rel.set_index("donor_iso3")
    if full_release(as_of):
        pct = rel["total_allocation_pct_gdp"]
        total = full["total"].reindex(pct.index)
    else:
        now = donor_totals(as_of, "allocation").set_index("donor_iso3")["total"]
        gdp = full["total"].reindex(rel.index) / rel["total_allocation_pct_gdp"] * 100
        total = now.reindex(rel.index).fillna(0.0)
        pct = total / gdp * 100
    out = pd.DataFrame({"pct_gdp": pct, "total": total, "gdp_year": rel["gdp_reference_year"],
                        "source_id": rel["source_id"]})
    out = out.reset_index().rename(columns={"index": "donor_iso3"})
    out["name"] = out["donor_iso3"].map(analysis.names())
    out["group"] = donor_groups(out["donor_iso3"])
    kinds = data.load("countries").set_index("iso3")["entity_type"]
    out["entity_type"] = out["donor_iso3"].map(kinds)
    out = out.sort_values(["pct_gdp", "donor_iso3"], ascending=[False, True]).reset_index(drop=True)
    return out[["donor_iso3", "name", "group", "entity_type", "pct_gdp", "total", "gdp_year", "source_id"]]


# --- one donor ---------------------------------------------------------------------------------

def rank(iso3: str, as_of=None, measure: str = "allocation", by: str = "total") -> tuple[int, int] | None:
    """(rank, number of donors) of a donor, 1 = largest; by 'total', an aid type, or 'pct_gdp'.

    By 'pct_gdp' the ranking is among countries only (the EU institutions' figure relates to
    the whole EU's GDP). None when the donor has no figure."""
    if by == "pct_gdp":
        frame = pct_gdp(as_of)
        frame = frame[frame["entity_type"] == "country"]
        col = "pct_gdp"
    else:
        if by not in [*AID_TYPES, "total"]:
            raise ValueError(f"by must be 'total', 'pct_gdp' or an aid type, not {by!r}")
        frame = donor_totals(as_of, measure)
        col = by
    frame = frame.dropna(subset=[col])
    if iso3 not in set(frame["donor_iso3"]):
        return None
    ranks = frame.set_index("donor_iso3")[col].rank(ascending=False, method="min")
    return int(ranks[iso3]), int(len(frame))


def profile(iso3: str, as_of=None) -> dict | None:
    """A donor's figures for an ally brief: allocations by type and total (EUR bn), share of all
    donors, military share, committed total, % of GDP, and ranks. None if not a donor."""
    alloc = donor_totals(as_of, "allocation").set_index("donor_iso3")
    if iso3 not in alloc.index:
        return None
    row = alloc.loc[iso3]
    gap = commitment_gap(as_of).set_index("donor_iso3")
    rel = pct_gdp(as_of).set_index("donor_iso3")
    out = {t: float(row[t]) for t in AID_TYPES}
    out.update({
        "iso3": iso3, "name": row["name"], "group": row["group"],
        "total": float(row["total"]), "share": float(row["share"]),
        "military_share": float(row["military"] / row["total"]) if row["total"] > 0 else None,
        "committed": float(gap.loc[iso3, "committed"]) if iso3 in gap.index else None,
        "pct_gdp": float(rel.loc[iso3, "pct_gdp"]) if iso3 in rel.index else None,
        "rank_total": rank(iso3, as_of),
        "rank_pct_gdp": rank(iso3, as_of, by="pct_gdp"),
        "basis": basis(as_of), "period_end": period_end(as_of), "source_id": row["source_id"],
    })
    return out


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")
