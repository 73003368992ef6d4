"""Currency conversion at ECB rates: checked against the ECB's rows read independently from the CSV."""

from __future__ import annotations

import csv
from datetime import date
from statistics import fmean

import pandas as pd
import pytest
from decimal import ROUND_HALF_UP, Decimal

from natoua import fmt, fx, paths


def _ecb(currency: str, kind: str = "daily") -> dict[str, float]:
    with open(paths.ROOT / "data" / "exchange_rates.csv", encoding="utf-8", newline="") as fh:
        return {r["date"]: float(r["rate"]) for r in csv.DictReader(fh) if r["currency"] == currency and r["kind"] == kind}


def test_a_day_without_a_fixing_uses_the_last_rate_before_it():
    rates = _ecb("USD")
    assert "2024-01-13" not in rates  # a Saturday
    rate = fx.daily("USD", "2024-01-13", "2026-03-31")
    assert (rate.end, rate.value) == (date(2024, 1, 12), rates["2024-01-12"])


def test_no_rate_after_the_cut_off():
    rate = fx.daily("USD", "2026-06-30", as_of="2026-03-31")
    assert rate.end <= date(2026, 3, 31)
    assert rate.value == _ecb("USD")[rate.end.isoformat()]


def test_complete_year_uses_the_annual_average_of_its_daily_rates():
    rate = fx.annual("GBP", 2024, "2026-03-31")
    daily = [v for d, v in _ecb("GBP").items() if d.startswith("2024-")]
    assert rate.days == len(daily)
    assert rate.value == pytest.approx(fmean(daily), rel=1e-5)
    assert rate.text().startswith("2024 average ECB reference rate (€1 = £")


def test_annual_average_is_rounded_once_2022_usd_is_1_0530():
    daily = [v for d, v in _ecb("USD").items() if d.startswith("2022-")]
    assert 1.05304 < fmean(daily) < 1.05305  # 1.05305 at 6 significant digits, which would show as 1.0531
    rate = fx.annual("USD", 2022, "2026-03-31")
    assert rate.value == 1.053 and f"{rate.value:.4f}" == "1.0530"


def test_partial_year_rule_is_the_same_in_the_ledger_unit_and_captions():
    """A year the data cover only in part is averaged over the part covered, never after the cut-off, and the text
    says which days: the same words wherever a converted flow appears."""
    money = fx.Money("2026-03-31", "USD")
    money.flows(pd.DataFrame({"x": [1.0, 1.0]}, index=[2025, 2026]), until="2026-02-28")
    rate = fx.annual("USD", 2026, "2026-02-28")
    assert rate.end <= date(2026, 2, 28)
    unit = money.flow_unit()
    assert f"2026: €1 = ${rate.value:.5g} (average " in unit and fx.flow_rates_text([rate]) in unit
    assert "the part covered" in fx.RULE_FLOW


def test_year_not_complete_on_the_cut_off_averages_only_up_to_it():
    rate = fx.annual("USD", 2024, "2024-06-30")  # the 2024 average is dated 31 December: not yet known
    daily = [v for d, v in _ecb("USD").items() if "2024-01-01" <= d <= "2024-06-30"]
    assert rate.end <= date(2024, 6, 30) and rate.days == len(daily)
    assert rate.value == pytest.approx(fmean(daily), rel=1e-4)
    # rounded once, to the ECB's 5 significant digits, half away from zero (USD: 4 decimals)
    assert f"{rate.value:.4f}" == str(Decimal(repr(fmean(daily))).quantize(Decimal("0.0001"), ROUND_HALF_UP))
    assert "daily rates" in rate.text()


def test_convert_goes_through_the_euro_at_the_day_s_rates():
    gbp, usd = _ecb("GBP")["2024-01-12"], _ecb("USD")["2024-01-12"]
    value, used = fx.convert(2.5, "GBP", "EUR", "2024-01-12", "2026-03-31")
    assert value == pytest.approx(2.5 / gbp) and [r.currency for r in used] == ["GBP"]
    value, used = fx.convert(2.5, "GBP", "USD", "2024-01-12", "2026-03-31")
    assert value == pytest.approx(2.5 / gbp * usd) and [r.currency for r in used] == ["GBP", "USD"]
    assert fx.convert(3.0, "EUR", "EUR", "2024-01-12", "2026-03-31") == (3.0, [])


def test_before_the_first_daily_rate_is_an_error():
    with pytest.raises(fx.RateError):
        fx.daily("USD", "2021-06-01", "2021-06-01")


def test_money_in_the_euro_edition_is_unchanged():
    money = fx.Money("2026-03-31", "EUR")
    assert money.total(349.87) == fmt.money_bn(349.87, "EUR") == "€349.9 bn"
    assert money.note() == "" and money.unit() == "EUR bn"


def test_money_in_the_usd_edition_states_the_cut_off_rate():
    money = fx.Money("2026-03-31", "USD")
    usd = _ecb("USD")["2026-03-31"]
    assert money.total(100.0) == fmt.money_bn(100.0 * usd, "USD")
    assert "31 March 2026" in money.note() and f"{usd:.5g}" in money.note()
    assert money.unit().startswith("USD bn at the ECB reference rate of 31 March 2026")


def test_yearly_flows_are_converted_at_each_year_s_average():
    total, used = fx.flows_from_eur({2023: 10.0, 2024: 20.0}, "USD", "2026-03-31")
    a23, a24 = _ecb("USD", "annual_average")["2023-12-29"], _ecb("USD", "annual_average")["2024-12-31"]
    assert total == pytest.approx(10 * a23 + 20 * a24)
    assert [r.start.year for r in used] == [2023, 2024]


def test_year_ranges():
    assert fmt.year_ranges([2016, 2014, 2015, 2020]) == "2014–2016 and 2020"
    assert fmt.year_ranges([2022]) == "2022"


def test_flow_unit_states_the_rates_of_the_years_converted():
    import pandas as pd

    money = fx.Money("2026-03-31", "USD")
    frame = money.flows(pd.DataFrame({"x": [1.0, 2.0]}, index=[2023, 2024]))
    a23, a24 = _ecb("USD", "annual_average")["2023-12-29"], _ecb("USD", "annual_average")["2024-12-31"]
    assert list(frame["x"]) == pytest.approx([a23, 2 * a24])
    assert money.flow_unit() == (f"USD bn, each year at its average ECB reference rate "
                                 f"(2023: €1 = ${a23:.5g}; 2024: €1 = ${a24:.5g})")
    assert fx.Money("2026-03-31", "EUR").flow_unit() == "EUR bn"
