"""Currency conversion at the ECB's euro reference rates (the `exchange_rates` dataset).

Rules (stated wherever a converted amount appears):
- a dated amount (a pledge signed on a day) at the ECB reference rate of that day;
- a year's flows at that year's average reference rate; for a year the data cover only in part (not complete
  on the cut-off, or on the end of the period a release covers), the average of its daily rates over the part
  covered: up to the end of that period, never after the cut-off (`Money.flows(frame, until=period_end)`);
  averages are rounded once, to the 5 significant digits of the ECB's rates;
- a cumulative total at the reference rate on the cut-off.
A rate is never taken from after the cut-off: a day without a fixing (weekend, TARGET holiday) uses
the last rate before it. Rates are units of currency per euro (the ECB's convention).

    money = fx.Money(as_of, currency)          # the edition's currency: EUR (identity) or USD
    money.total(349.9)    -> '$378.5 bn'       # cumulative EUR bn at the cut-off rate
    money.note()          -> 'Converted from euros at the ECB reference rate of 31 March 2026 ($1.0816 per euro).'
    fx.convert(2.5, "GBP", "EUR", "2024-01-12", as_of) -> (2.92.., [Rate GBP 2024-01-12])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from . import fmt
from .importers.ecb import RATE_DIGITS
from .rounding import mean_significant

EURO = "EUR"
RULE_FLOW = ("each year's flows at that year's average ECB euro reference rate (for a year the data cover only in "
             "part, the average of its daily rates over the part covered, never after the cut-off)")
RULE_STOCK = "cumulative totals at the ECB euro reference rate on the cut-off"


class RateError(LookupError):
    """No ECB rate for the currency on or before the date (or none in the data at all)."""


@dataclass(frozen=True)
class Rate:
    currency: str
    value: float  # units of `currency` per euro
    start: date  # the fixing's date, or the first day averaged
    end: date  # the fixing's date, or the last day averaged
    days: int  # daily rates behind the value

    @property
    def is_average(self) -> bool:
        return self.days > 1

    def text(self) -> str:
        """'ECB reference rate of 31 March 2026 (€1 = $1.0816)' or '2024 average ECB reference rate (€1 = $1.0824)'."""
        per = f"€1 = {_unit(self.currency)}{self.value:.5g}"
        if not self.is_average:
            return f"ECB reference rate of {fmt.day(self.end)} ({per})"
        if self.start.month == 1 and self.start.day <= 7 and self.end.month == 12 and self.end.day >= 24:
            return f"{self.start.year} average ECB reference rate ({per})"
        return (f"average ECB reference rate {fmt.day(self.start)}–{fmt.day(self.end)} "
                f"({self.days} daily rates; {per})")


def _unit(currency: str) -> str:
    symbol = fmt.CURRENCY_SYMBOL.get(currency)
    return symbol if symbol else f"{currency} "


def _table(as_of):
    from . import data

    return data.load("exchange_rates", as_of)


def _series(as_of_key: str | None, currency: str, kind: str):
    frame = _table(as_of_key)
    frame = frame[(frame["currency"] == currency) & (frame["kind"] == kind)].sort_values("date")
    return frame


def daily(currency: str, on, as_of) -> Rate:
    """The ECB reference rate of `on`, or of the last business day before it; never after `as_of`."""
    import pandas as pd

    if currency == EURO:
        day = pd.Timestamp(on).date()
        return Rate(EURO, 1.0, day, day, 1)
    when = min(pd.Timestamp(on), pd.Timestamp(as_of))
    rows = _series(_key(as_of), currency, "daily")
    rows = rows[rows["date"] <= when]
    if rows.empty:
        raise RateError(f"no ECB reference rate for {currency} on or before {when.date()} in exchange_rates")
    last = rows.iloc[-1]
    day = last["date"].date()
    return Rate(currency, float(last["rate"]), day, day, 1)


def annual(currency: str, year: int, as_of) -> Rate:
    """A year's average rate: the complete year's if known on `as_of`, else the average of its daily rates to `as_of`."""
    import pandas as pd

    if currency == EURO:
        return Rate(EURO, 1.0, date(year, 1, 1), date(year, 12, 31), 1)
    avg = _series(_key(as_of), currency, "annual_average")
    avg = avg[avg["year"] == year]
    if not avg.empty:
        row = avg.iloc[-1]
        return Rate(currency, float(row["rate"]), date(year, 1, 1), row["date"].date(), int(row["days"]))
    rows = _series(_key(as_of), currency, "daily")
    rows = rows[(rows["year"] == year) & (rows["date"] <= pd.Timestamp(as_of))]
    if rows.empty:
        raise RateError(f"no ECB reference rates for {currency} in {year} up to {pd.Timestamp(as_of).date()}")
    if len(rows) == 1:
        day = rows["date"].iloc[0].date()
        return Rate(currency, float(rows["rate"].iloc[0]), day, day, 1)
    # the same rule as the importer's annual averages: the mean of the daily rates, rounded once to the ECB's
    # 5 significant digits (natoua.rounding)
    mean = float(mean_significant([repr(float(v)) for v in rows["rate"]], RATE_DIGITS))
    return Rate(currency, mean, rows["date"].iloc[0].date(), rows["date"].iloc[-1].date(), int(len(rows)))


def convert(amount: float, src: str, dst: str, on, as_of) -> tuple[float, list[Rate]]:
    """`amount` in `src` as `dst` at the ECB rates of `on` (via the euro); returns the value and the rates used."""
    if src == dst:
        return float(amount), []
    r_src, r_dst = daily(src, on, as_of), daily(dst, on, as_of)
    used = [r for r in (r_src, r_dst) if r.currency != EURO]
    return float(amount) / r_src.value * r_dst.value, used


def from_eur(amount_eur: float, rate: Rate) -> float:
    return float(amount_eur) * rate.value


def flows_from_eur(by_year: dict[int, float], currency: str, as_of) -> tuple[float, list[Rate]]:
    """Yearly EUR flows summed in `currency`, each year at its average rate (the flow rule)."""
    total, used = 0.0, []
    for year, eur in sorted(by_year.items()):
        rate = annual(currency, int(year), as_of)
        total += from_eur(eur, rate)
        if rate.currency != EURO:
            used.append(rate)
    return total, used


def _key(as_of) -> str | None:
    import pandas as pd

    return None if as_of is None else str(pd.Timestamp(as_of).date())


class Money:
    """The edition's money formatter: EUR amounts shown in the edition's currency, at a stated ECB rate."""

    def __init__(self, as_of, currency: str = EURO):
        import pandas as pd

        self.as_of = pd.Timestamp(as_of)
        self.currency = (currency or EURO).upper()
        self.rate = daily(self.currency, self.as_of, self.as_of)  # cumulative totals: the cut-off rate
        self._flow_years: list[int] = []
        self._flow_until = None

    @property
    def converted(self) -> bool:
        return self.currency != EURO

    def value(self, eur_bn: float) -> float:
        return from_eur(eur_bn, self.rate)

    def total(self, eur_bn: float, decimals: int = 1) -> str:
        """A cumulative EUR amount (bn) in the edition's currency at the cut-off rate."""
        return fmt.money_bn(self.value(eur_bn), self.currency, decimals)

    def value_flow(self, eur_bn: float, year: int) -> float:
        """One year's EUR flow (bn) as a number in the edition's currency at that year's average rate."""
        return from_eur(eur_bn, annual(self.currency, int(year), self.as_of))

    def flow(self, eur_bn: float, year: int, decimals: int = 1) -> str:
        """One year's EUR flow (bn) in the edition's currency at that year's average rate."""
        return fmt.money_bn(from_eur(eur_bn, annual(self.currency, int(year), self.as_of)), self.currency, decimals)

    def flows(self, frame, until=None):
        """A frame indexed by year (EUR amounts) in the edition's currency, each year at its average rate.

        `until` caps the averaging window of an incomplete year (e.g. the end of the period a release covers);
        the cut-off always caps it."""
        import pandas as pd

        if not self.converted:
            return frame
        cap = min(self.as_of, pd.Timestamp(until)) if until is not None else self.as_of
        rates = [annual(self.currency, int(y), cap).value for y in frame.index]
        self._flow_years = sorted(set(self._flow_years) | {int(y) for y in frame.index})
        self._flow_until = until  # flow_unit() states the rates of the years converted
        return frame.mul(rates, axis=0)

    def flow_rates(self, years, until=None) -> str:
        """'2022: €1 = $1.053; 2023: ...' for a caption or ledger entry."""
        import pandas as pd

        if not self.converted:
            return ""
        cap = min(self.as_of, pd.Timestamp(until)) if until is not None else self.as_of
        return flow_rates_text([annual(self.currency, int(y), cap) for y in years])

    def fmt(self, value_bn: float, decimals: int = 1) -> str:
        """An amount already in the edition's currency."""
        return fmt.money_bn(value_bn, self.currency, decimals)

    def flow_unit(self) -> str:
        """The ledger unit of a converted yearly flow, with the rates of the years converted so far."""
        if not self.converted:
            return "EUR bn"
        rates = self.flow_rates(self._flow_years, self._flow_until) if self._flow_years else ""
        return f"{self.currency} bn, each year at its average ECB reference rate" + (f" ({rates})" if rates else "")

    def unit(self) -> str:
        """The ledger unit: 'EUR bn' or 'USD bn at the ECB reference rate of 31 March 2026 (€1 = $1.0816)'."""
        return "EUR bn" if not self.converted else f"{self.currency} bn at the {self.rate.text()}"

    def note(self, flows: bool = False) -> str:
        """A sentence for captions: how EUR amounts were converted (empty in the EUR edition)."""
        if not self.converted:
            return ""
        if flows:
            return (f"Converted from euros with {RULE_FLOW}; cumulative totals at the {self.rate.text()}.")
        return f"Converted from euros at the {self.rate.text()} ({RULE_STOCK})."


def flow_rates_text(rates: list[Rate]) -> str:
    """'2025: €1 = $1.13; 2026: €1 = $1.178 (average 2 January 2026–27 February 2026)': each year's average rate,
    with the days averaged where they are not the whole year (the partial-year rule), for captions and ledger units."""
    parts = []
    for r in rates:
        y = r.start.year
        span = "" if not r.is_average or r.text().startswith(f"{y} average") else \
            f" (average {fmt.day(r.start)}–{fmt.day(r.end)})"
        parts.append(f"{y}: €1 = {_unit(r.currency)}{r.value:.5g}{span}")
    return "; ".join(parts)


def rates_text(used: list[Rate]) -> str:
    """Daily rates of one date in one phrase: 'ECB reference rates of 12 January 2024 (€1 = £0.8595 = $1.0942)'."""
    if not used:
        return ""
    days = sorted({r.end for r in used})
    parts = []
    for day in days:
        same = [r for r in used if r.end == day]
        per = " = ".join(f"{_unit(r.currency)}{r.value:.5g}" for r in same)
        parts.append(f"{fmt.day(day)} (€1 = {per})")
    return ("ECB reference rate" + ("s" if len(used) > 1 else "") + " of " + "; ".join(parts))


def amount_text(value_bn: float, currency: str) -> str:
    """A converted amount at a sensible precision: '$7.65 bn', '€112 m'."""
    if abs(value_bn) >= 1:
        return fmt.money(value_bn, currency, "bn", 2)
    return fmt.money(value_bn * 1000, currency, "m", 0)
