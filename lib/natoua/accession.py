"""Accession timing: EU and NATO milestones, durations with date precision, censoring,
and the Monte Carlo model of the year Ukraine could join NATO.

    durations(eu, "negotiations_opened", "accession", as_of)   # one row per country
    kaplan_meier(d["years"], d["completed"])                    # censoring-aware share acceded
    simulate_nato_accession(ceasefire_year=2027, ..., seed=1)   # decimal years, vectorised
    sensitivity_grid(ceasefire_years=[2026, 2027], p_consensus=[0.05, 0.3], horizons={2030: 2031.0}, ...)

Dates known only to the month (or year) are intervals: a duration between two
such dates has a lower and an upper bound, and its central value is the
midpoint. Processes that have not reached the end milestone are right-censored:
their duration so far (to the cut-off, or to the withdrawal of the
application) is a lower bound, flagged `completed == False`, never dropped.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import data

DAYS_PER_YEAR = 365.25

#: EU milestones in the order a candidate passes them.
EU_SEQUENCE = ["application", "candidate_status", "negotiations_opened", "accession"]

#: The phases compared in the report: (start milestone, end milestone, label).
EU_PHASES = [
    ("application", "candidate_status", "Application to candidate status"),
    ("candidate_status", "negotiations_opened", "Candidate status to negotiations"),
    ("negotiations_opened", "accession", "Negotiations to accession"),
    ("application", "accession", "Application to accession"),
]

# --- dates and precision ---------------------------------------------------------------

def date_bounds(value, precision: str = "day") -> tuple[pd.Timestamp, pd.Timestamp]:
    """Earliest and latest day a date could be: the whole month (or year) when only that is known."""
    ts = pd.Timestamp(value).normalize()
    if precision == "month":
        return ts.replace(day=1), ts.replace(day=1) + pd.offsets.MonthEnd(0)
    if precision == "year":
        return ts.replace(month=1, day=1), ts.replace(month=12, day=31)
    if precision in ("day", None, "") or pd.isna(precision):
        return ts, ts
    raise ValueError(f"unknown date precision {precision!r} (expected day, month or year)")


def duration_years(start, start_precision, end, end_precision) -> tuple[float, float, float]:
    """(central, low, high) duration in years between two dates known at the given precisions."""
    s_lo, s_hi = date_bounds(start, start_precision)
    e_lo, e_hi = date_bounds(end, end_precision)
    low = (e_lo - s_hi).days / DAYS_PER_YEAR
    high = (e_hi - s_lo).days / DAYS_PER_YEAR
    return (low + high) / 2, low, high


def add_years(start, years: float) -> pd.Timestamp:
    """A date `years` (decimal, 365.25-day years) after `start`."""
    return pd.Timestamp(start) + pd.Timedelta(days=float(years) * DAYS_PER_YEAR)


def decimal_year(value) -> float:
    """2026-03-31 -> 2026.245 (fraction of the calendar year elapsed at the start of that day)."""
    ts = pd.Timestamp(value)
    days = 366 if ts.is_leap_year else 365
    return ts.year + (ts.dayofyear - 1) / days


# --- EU milestones -----------------------------------------------------------------------

def milestones(frame: pd.DataFrame) -> pd.DataFrame:
    """Long milestone rows (iso3, milestone, date, date_precision) as one row per country:
    `<milestone>` (date) and `<milestone>_precision` columns."""
    wide = frame.pivot(index="iso3", columns="milestone", values="date")
    prec = frame.pivot(index="iso3", columns="milestone", values="date_precision").add_suffix("_precision")
    return pd.concat([wide, prec], axis=1)


def durations(frame: pd.DataFrame, start: str, end: str, as_of) -> pd.DataFrame:
    """Time from `start` to `end` milestone for every country that reached `start` by as_of.

    Columns: iso3, start, start_precision, end, end_precision, status, completed,
    years, years_low, years_high, source_id.
    status: completed | ongoing (censored at as_of) | frozen (negotiations frozen;
    censored at as_of) | withdrawn (censored at the withdrawal of the application).
    Countries that reached a later milestone without the end one (e.g. the 1995
    enlargement, before candidate status existed as a formal step) are left out:
    the step did not apply to them.
    """
    cutoff = pd.Timestamp(as_of)
    frame = frame[frame["date"] <= cutoff]
    wide = milestones(frame)
    sources = frame.groupby("iso3")["source_id"].apply(lambda s: list(dict.fromkeys(s)))
    later = EU_SEQUENCE[EU_SEQUENCE.index(end) + 1:] if end in EU_SEQUENCE else []
    rows = []
    for iso3, row in wide.iterrows():
        if start not in wide.columns or pd.isna(row.get(start)):
            continue
        s, sp = row[start], row[f"{start}_precision"]
        if end in wide.columns and pd.notna(row.get(end)):
            e, ep, status = row[end], row[f"{end}_precision"], "completed"
        elif any(m in wide.columns and pd.notna(row.get(m)) for m in later):
            continue  # the end milestone was skipped (did not exist as a step for this country)
        elif "application_withdrawn" in wide.columns and pd.notna(row.get("application_withdrawn")):
            e, ep, status = row["application_withdrawn"], row["application_withdrawn_precision"], "withdrawn"
        else:
            frozen = "negotiations_frozen" in wide.columns and pd.notna(row.get("negotiations_frozen"))
            e, ep, status = cutoff, "day", "frozen" if frozen and end == "accession" else "ongoing"
        mid, low, high = duration_years(s, sp, e, ep)
        rows.append({"iso3": iso3, "start": s, "start_precision": sp, "end": e, "end_precision": ep,
                     "status": status, "completed": status == "completed",
                     "years": mid, "years_low": low, "years_high": high,
                     "source_id": sources.get(iso3, [None])[0], "sources": sources.get(iso3, [])})
    cols = ["iso3", "start", "start_precision", "end", "end_precision", "status", "completed",
            "years", "years_low", "years_high", "source_id", "sources"]
    return pd.DataFrame(rows, columns=cols).sort_values("years").reset_index(drop=True)


def cohorts(completed: pd.DataFrame) -> int:
    """Number of distinct accession dates among completed cases (countries joining together
    are one political decision, not independent observations)."""
    return int(completed["end"].nunique())


# --- censoring-aware summaries -------------------------------------------------------------

def kaplan_meier(years, completed) -> pd.DataFrame:
    """Kaplan–Meier estimate of the share of processes completed within t years.

    Censored cases (completed False) count in the risk set up to their censoring time
    (at a tie, events are counted before censoring). Returns one row per distinct
    event time: time, at_risk, events, survival (still waiting), share_completed.
    """
    d = np.asarray(years, dtype=float)
    e = np.asarray(completed, dtype=bool)
    if d.shape != e.shape:
        raise ValueError("years and completed must have the same length")
    survival, rows = 1.0, []
    for t in np.unique(d[e]):
        at_risk = int((d >= t).sum())
        events = int(((d == t) & e).sum())
        survival *= 1 - events / at_risk
        rows.append({"time": float(t), "at_risk": at_risk, "events": events,
                     "survival": survival, "share_completed": 1 - survival})
    return pd.DataFrame(rows, columns=["time", "at_risk", "events", "survival", "share_completed"])


def km_survival(km: pd.DataFrame, t: float) -> float:
    """S(t): the estimated share still waiting t years after the start."""
    before = km[km["time"] <= t]
    return 1.0 if before.empty else float(before["survival"].iloc[-1])


def window_share(km: pd.DataFrame, start_years: float, end_years: float, elapsed: float = 0.0) -> float:
    """Estimated probability that completion falls between start_years and end_years after the
    start, given it has not happened in the first `elapsed` years."""
    s_e = km_survival(km, elapsed)
    if s_e == 0:
        return float("nan")
    return (km_survival(km, start_years) - km_survival(km, end_years)) / s_e


def implied_dates(start, completed_years, elapsed: float = 0.0) -> pd.Series:
    """Historical completed durations applied to `start`, keeping only durations longer than
    `elapsed` (a process still open after `elapsed` years cannot take less)."""
    years = pd.Series(completed_years, dtype=float)
    years = years[years > elapsed].sort_values().reset_index(drop=True)
    return years.map(lambda y: add_years(start, y))


def quantile_years(years, q) -> float:
    """Quantile of observed durations that is itself an observed duration (inverted CDF)."""
    return float(np.quantile(np.asarray(years, dtype=float), q, method="inverted_cdf"))


# --- NATO ------------------------------------------------------------------------------------

_APPLIES = re.compile(r"\bappl(?:y|ies|ied)\b", re.IGNORECASE)


def nato_applications(as_of) -> pd.DataFrame:
    """NATO membership applications recorded in the event log: iso3, application date, source_id.

    An event counts when its category is 'nato' and its title says a state applies; the
    applicant is the event's actor or, for joint applications, each country named in the title.
    """
    events = data.load("events", as_of)
    names = data.load("countries")[["iso3", "name"]]
    hits = events[(events["category"] == "nato") & events["title"].str.contains(_APPLIES)]
    rows = []
    for _, ev in hits.iterrows():
        if pd.notna(ev["actor_iso3"]):
            applicants = [ev["actor_iso3"]]
        else:
            applicants = [i for i, n in zip(names["iso3"], names["name"]) if re.search(rf"\b{re.escape(n)}\b", ev["title"])]
        for iso3 in applicants:
            rows.append({"iso3": iso3, "application_date": ev["date"],
                         "application_precision": ev["date_precision"], "source_id": ev["source_id"]})
    return pd.DataFrame(rows, columns=["iso3", "application_date", "application_precision", "source_id"])


def nato_application_to_accession(as_of) -> pd.DataFrame:
    """Application-to-accession durations for NATO applicants in the event log; applicants not yet
    members are censored at as_of (completed False)."""
    apps = nato_applications(as_of)
    joined = data.load("nato_enlargement", as_of)[["iso3", "accession_date", "source_id"]]
    out = apps.merge(joined.rename(columns={"source_id": "accession_source_id"}), on="iso3", how="left")
    cutoff = pd.Timestamp(as_of)
    rows = []
    for _, r in out.iterrows():
        done = pd.notna(r["accession_date"])
        end = r["accession_date"] if done else cutoff
        mid, low, high = duration_years(r["application_date"], r["application_precision"], end, "day")
        rows.append({**r.to_dict(), "completed": done, "years": mid, "years_low": low, "years_high": high})
    return pd.DataFrame(rows)


# --- the accession simulation -------------------------------------------------------------------

#: Ceasefire redraw rounds before a draw still before `not_before` is set to it (a bound so unlikely that
#: rejection cannot reach it, e.g. a ceasefire year years before the cut-off with a small spread).
MAX_REDRAWS = 200


def simulate_nato_accession(*, ceasefire_year, ceasefire_year_spread, accession_process_years,
                            p_consensus_per_year, n_simulations: int, seed: int,
                            not_before: float | None = None) -> np.ndarray:
    """Monte Carlo draws of the (decimal) year Ukraine joins NATO under stated assumptions.

    Each draw adds three parts:
      ceasefire   normal around the middle of `ceasefire_year` with sd `ceasefire_year_spread`,
                  truncated at `not_before` (draws earlier are redrawn: no ceasefire had held by then);
      consensus   waiting time until all allies agree to invite Ukraine: exponential with a
                  constant chance `p_consensus_per_year` per year (p = 1: immediate; p = 0: never);
      process     accession process after the invitation, uniform on `accession_process_years` [low, high].
    Draws that never join (p = 0) are +inf.

    Vectorised over scenarios too: `ceasefire_year`, `ceasefire_year_spread` and `p_consensus_per_year`
    may be arrays (broadcast together, shape S) and `accession_process_years` an array of shape S + (2,);
    the result then has shape S + (n_simulations,), one row of draws per scenario. All scenarios share
    the same random numbers (common random numbers): each part has its own stream spawned from `seed`,
    so a scenario's draws do not depend on which other scenarios are run with it, and a grid's cell
    equals the single run with the same inputs and seed. Differences between scenarios are then the
    assumptions' effect, not sampling noise.
    """
    cease = np.asarray(ceasefire_year, dtype=float)
    spread = np.asarray(ceasefire_year_spread, dtype=float)
    p = np.asarray(p_consensus_per_year, dtype=float)
    process = np.asarray(accession_process_years, dtype=float)
    if process.ndim == 0 or process.shape[-1] != 2:
        raise ValueError("accession_process_years must be [low, high]")
    lo, hi = process[..., 0], process[..., 1]
    if not (np.all(0 <= lo) and np.all(lo <= hi)):
        raise ValueError("accession_process_years must be [low, high] with 0 <= low <= high")
    if not np.all((0 <= p) & (p <= 1)):
        raise ValueError("p_consensus_per_year must be between 0 and 1")
    if not np.all(spread >= 0):
        raise ValueError("ceasefire_year_spread must be >= 0")
    if not np.all(np.isfinite(cease)):
        raise ValueError("ceasefire_year must be a finite year")
    n = int(n_simulations)
    if n < 1:
        raise ValueError("n_simulations must be positive")
    shape = np.broadcast_shapes(cease.shape, spread.shape, p.shape, lo.shape)
    cease, spread, p, lo, hi = (np.broadcast_to(a, shape)[..., None] for a in (cease, spread, p, lo, hi))
    ceasefire_rng, consensus_rng, process_rng = (np.random.default_rng(s)
                                                 for s in np.random.SeedSequence(seed).spawn(3))

    centre = cease + 0.5
    z = ceasefire_rng.standard_normal(n)
    ceasefire = centre + spread * z  # shape S + (n,)
    if not_before is not None:
        # Rejection, with common random numbers: every scenario redraws its early draws from the same
        # next row of normals, so the same draw stays comparable across scenarios.
        early = ceasefire < not_before
        for _ in range(MAX_REDRAWS):
            if not early.any():
                break
            redraw = centre + spread * ceasefire_rng.standard_normal(n)
            ceasefire = np.where(early, redraw, ceasefire)
            early &= redraw < not_before
        ceasefire = np.maximum(ceasefire, not_before)  # only where the redraws did not suffice

    exponential = consensus_rng.standard_exponential(n)
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.minimum(p, 1.0))  # per-year hazard with that annual probability (inf at p = 1)
        wait = np.where(p >= 1, 0.0, np.where(p <= 0, np.inf, exponential / np.where(rate > 0, rate, 1.0)))
    joined = ceasefire + wait + lo + (hi - lo) * process_rng.random(n)
    return joined


#: Most draws the grid holds in memory at once (8 bytes each).
GRID_DRAWS = 2_000_000


def share_before(joined: np.ndarray, horizons) -> np.ndarray:
    """Share of draws joined before each decimal year in `horizons` (2031.0: by the end of 2030): shape
    S + (len(horizons),) for draws of shape S + (n,) (vectorised over scenarios)."""
    joined = np.asarray(joined, dtype=float)
    ends = np.asarray(list(horizons), dtype=float)
    return (joined[..., None, :] < ends[:, None]).mean(axis=-1)


def sensitivity_grid(*, ceasefire_years, p_consensus, horizons: dict, **model) -> pd.DataFrame:
    """The probability of membership before each of `horizons` ({label: decimal year}, e.g.
    {2030: 2031.0} for 'by the end of 2030') over a grid of ceasefire years and yearly chances of
    consensus, every other input of the model as in `model`. One row per (ceasefire_year,
    p_consensus_per_year), in grid order, with a column per horizon label (share of draws). One
    vectorised run; with common random numbers each cell equals the single run with its inputs."""
    cease = np.asarray([int(y) for y in ceasefire_years], dtype=float)
    p = np.asarray([float(v) for v in p_consensus], dtype=float)
    if cease.size == 0 or p.size == 0:
        raise ValueError("the grid needs at least one ceasefire year and one chance of consensus")
    model = {k: v for k, v in model.items() if k not in ("ceasefire_year", "p_consensus_per_year")}
    # Vectorised over the whole grid; in slices of ceasefire years when the draws would not fit in
    # GRID_DRAWS values at once (memory, not speed: a slice's draws equal the whole grid's).
    step = max(1, GRID_DRAWS // (p.size * int(model.get("n_simulations", 1))))
    shares = np.concatenate([
        share_before(simulate_nato_accession(ceasefire_year=cease[i:i + step, None],
                                             p_consensus_per_year=p[None, :], **model), horizons.values())
        for i in range(0, cease.size, step)])  # (ceasefire years, p values, horizons)
    labels = list(horizons)
    rows = [{"ceasefire_year": int(c), "p_consensus_per_year": float(v),
             **{label: float(shares[i, j, k]) for k, label in enumerate(labels)}}
            for i, c in enumerate(cease) for j, v in enumerate(p)]
    return pd.DataFrame(rows, columns=["ceasefire_year", "p_consensus_per_year", *labels])


def summarise_simulation(joined: np.ndarray, by_years=(2030, 2035)) -> dict:
    """Median calendar year of joining, 10th and 90th percentile years, and the share of draws
    joined by the end of each year in `by_years` (with its Monte Carlo standard error)."""
    joined = np.asarray(joined, dtype=float)
    n = joined.size

    def year(q):
        v = np.quantile(joined, q, method="inverted_cdf")
        return int(np.floor(v)) if np.isfinite(v) else None

    share = {int(y): float(np.mean(joined < int(y) + 1)) for y in by_years}
    se = {y: float(np.sqrt(p * (1 - p) / n)) for y, p in share.items()}
    return {"median_year": year(0.5), "p10_year": year(0.1), "p90_year": year(0.9),
            "share_by": share, "se_by": se, "n": n}


def per_ally_equivalent(p_joint: float, n_allies: int) -> float:
    """The yearly chance each ally would need, independently, for all `n_allies` to agree with
    joint probability `p_joint` (an illustration of what unanimity demands)."""
    return float(p_joint ** (1 / n_allies))
