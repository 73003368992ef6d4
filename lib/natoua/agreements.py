"""Ukraine's bilateral security agreements (G7 Joint Declaration framework), as of a date.

Shared by the overview, the agreements section, the barriers section and the FAQ:

    agreements.signed(as_of)          every agreement known to be signed by as_of
    agreements.count(as_of)           how many
    agreements.ally_status(as_of)     one row per ally on as_of: signed or not, and when
    agreements.allies_with(as_of)     allies (on as_of) with an agreement
    agreements.allies_without(as_of)  allies (on as_of) without one
    agreements.non_allies(as_of)      signatories that are not NATO allies (Japan, the EU, ...)
    agreements.cumulative(as_of)      the running count by signing date, at each date's precision
    agreements.pledge_text(...)       a pledge in its own currency, at the precision stated

A signing date known only to the month (or year) counts from the end of that month
(or year): on an as_of inside the month it is not yet known to have been signed.
"""

from __future__ import annotations

import pandas as pd

from . import analysis, data, fmt

DATASET = "security_agreements"

LEGAL_NATURE = {
    "political_commitment": "Political commitment",
    "executive_agreement": "Executive agreement",
    "treaty": "Treaty",
    "unspecified": "Not stated in sources",
}


def known_signed(frame: pd.DataFrame, as_of) -> pd.DataFrame:
    """Rows of an agreements frame certainly signed by as_of (month/year dates count from their end)."""
    if frame.empty:
        return frame.copy()
    end = analysis.known_by(frame["signed_date"], frame["signed_date_precision"])
    return frame.loc[end <= pd.Timestamp(as_of)].reset_index(drop=True)


def signed(as_of) -> pd.DataFrame:
    """Agreements signed by as_of, in signing order, with the signing date as text at its precision,
    a readable legal-nature label and whether the partner is a NATO ally on as_of."""
    frame = known_signed(data.load(DATASET, as_of), as_of)
    ally_codes = set(analysis.allies(as_of)["iso3"])
    frame = frame.assign(
        date_text=[fmt.day(d, p) for d, p in zip(frame["signed_date"], frame["signed_date_precision"])],
        legal_label=frame["legal_nature"].map(LEGAL_NATURE).fillna(frame["legal_nature"]),
        is_ally=frame["partner_iso3"].isin(ally_codes),
    )
    return frame.sort_values(["signed_date", "partner_name"], kind="stable").reset_index(drop=True)


def count(as_of) -> int:
    """Number of agreements signed by as_of (states and the EU)."""
    return int(len(signed(as_of)))


def ally_status(as_of) -> pd.DataFrame:
    """One row per NATO ally on as_of: iso3, name, has_agreement, signed_date, signed_date_precision,
    date_text (empty when none), source_id (of the agreement; empty when none)."""
    allies = analysis.allies(as_of)[["iso3", "name"]]
    deals = signed(as_of)[["partner_iso3", "signed_date", "signed_date_precision", "date_text", "source_id"]]
    out = allies.merge(deals.rename(columns={"partner_iso3": "iso3"}), on="iso3", how="left")
    out.insert(2, "has_agreement", out["signed_date"].notna())
    out["date_text"] = out["date_text"].fillna("")
    return out.sort_values("name").reset_index(drop=True)


def allies_with(as_of) -> pd.DataFrame:
    """Allies on as_of that signed an agreement by as_of (ally_status rows)."""
    status = ally_status(as_of)
    return status[status["has_agreement"]].reset_index(drop=True)


def allies_without(as_of) -> pd.DataFrame:
    """Allies on as_of with no agreement signed by as_of: iso3 and name, by name."""
    status = ally_status(as_of)
    return status.loc[~status["has_agreement"], ["iso3", "name"]].reset_index(drop=True)


def non_allies(as_of) -> pd.DataFrame:
    """Signatories by as_of that are not NATO allies on as_of (e.g. Japan, Ireland, the EU)."""
    frame = signed(as_of)
    return frame[~frame["is_ally"]].reset_index(drop=True)


def cumulative(as_of, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Running count of agreements: one row per (signing date, precision) with the partners signed on it.

    Columns: date (first day of the month or year for coarser precision: where it is plotted),
    precision, label (the date as text at its precision), partners (names), n, cumulative.
    `frame` (an agreements frame) replaces the dataset, for tests.
    """
    frame = signed(as_of) if frame is None else known_signed(frame, as_of)
    if frame.empty:
        return pd.DataFrame(columns=["date", "precision", "label", "partners", "n", "cumulative"])
    grouped = (
        frame.sort_values(["signed_date", "partner_name"])
        .groupby(["signed_date", "signed_date_precision"], sort=True)
        .agg(partners=("partner_name", list), n=("partner_iso3", "size"))
        .reset_index()
        .rename(columns={"signed_date": "date", "signed_date_precision": "precision"})
    )
    # groupby sorts by date, then precision ("day" < "month" < "year"): an exact date on the first of a
    # month comes before that month's month-only signings
    grouped["label"] = [fmt.day(d, p) for d, p in zip(grouped["date"], grouped["precision"])]
    grouped["cumulative"] = grouped["n"].cumsum()
    return grouped[["date", "precision", "label", "partners", "n", "cumulative"]]


# --- pledges ----------------------------------------------------------------------------

def _decimals(value: float, most: int = 3) -> int:
    """The fewest decimals (up to `most`) that show `value` exactly."""
    for d in range(most + 1):
        if abs(round(value, d) - value) < 1e-9:
            return d
    return most


def pledge_amount_text(amount, currency) -> str:
    """A pledge in its own currency at the precision stated: '£2.5 bn', 'CAD 3.02 bn', '€977 m'."""
    if fmt.is_missing(amount) or fmt.is_missing(currency) or not str(currency):
        return ""
    amount = float(amount)
    if amount >= 1e9:
        value, unit = amount / 1e9, "bn"
    else:
        value, unit = amount / 1e6, "m"
    return fmt.money(value, str(currency), unit=unit, decimals=_decimals(value))


def pledge_text(amount, currency, period=None) -> str:
    """The pledge with its period in brackets: '£2.5 bn (2024/25 financial year)'; '' when none stated."""
    text = pledge_amount_text(amount, currency)
    if text and not fmt.is_missing(period) and str(period):
        text += f" ({str(period).replace('-', '–')})"
    return text


def pledges(as_of) -> pd.DataFrame:
    """Agreements with a stated pledge, with pledge_text, in signing order."""
    frame = signed(as_of)
    frame = frame[frame["pledge_amount"].notna()].copy()
    frame["pledge_text"] = [pledge_text(a, c, p) for a, c, p in
                            zip(frame["pledge_amount"], frame["pledge_currency"], frame["pledge_period"])]
    return frame.reset_index(drop=True)


def pledges_in(currency: str, as_of) -> pd.DataFrame:
    """Stated pledges converted into `currency` (bn) at the ECB reference rate of each signing date.

    Adds `converted` (bn), `converted_text`, `rate_text` (the rates used, '' when no conversion) and
    `rate_source_id`. A rate is never taken from after `as_of` (fx.daily).
    """
    from . import fx

    frame = pledges(as_of)
    values, texts, rate_texts, rate_sources = [], [], [], []
    ecb = data.load("exchange_rates", as_of)["source_id"]
    for amount, cur, day in zip(frame["pledge_amount"], frame["pledge_currency"], frame["signed_date"]):
        value, used = fx.convert(float(amount) / 1e9, str(cur), currency, day, as_of)
        values.append(value)
        texts.append(fx.amount_text(value, currency))
        rate_texts.append(fx.rates_text(used))
        rate_sources.append(ecb.iloc[-1] if used else "")
    frame["converted"] = values
    frame["converted_text"] = texts
    frame["rate_text"] = rate_texts
    frame["rate_source_id"] = rate_sources
    return frame
