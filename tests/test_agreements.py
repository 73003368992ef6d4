"""natoua.agreements on the real data package (and small synthetic frames for date precision)."""

import pandas as pd
import pytest

from natoua import agreements, analysis, data

DEFAULT = "2026-03-31"


def test_count_default_and_end_2024():
    # 27 states plus the EU; Albania (21 January 2025) is the only one signed after 2024
    assert agreements.count(DEFAULT) == 28
    assert agreements.count("2024-12-31") == 27
    assert "ALB" not in set(agreements.signed("2024-12-31")["partner_iso3"])


def test_count_before_first_and_on_first_day():
    assert agreements.count("2024-01-11") == 0
    first = agreements.signed("2024-01-12")
    assert list(first["partner_iso3"]) == ["GBR"]


def test_signed_is_in_signing_order_and_texts_dates():
    frame = agreements.signed(DEFAULT)
    assert frame["signed_date"].is_monotonic_increasing
    uk = frame.set_index("partner_iso3").loc["GBR"]
    assert uk["date_text"] == "12 January 2024"
    assert set(frame["legal_label"]) <= set(agreements.LEGAL_NATURE.values())


def test_allies_with_and_without_partition_the_allies():
    for as_of in (DEFAULT, "2024-12-31", "2024-06-30"):
        allies = set(analysis.allies(as_of)["iso3"])
        with_ = set(agreements.allies_with(as_of)["iso3"])
        without = set(agreements.allies_without(as_of)["iso3"])
        assert with_ | without == allies
        assert not with_ & without


def test_allies_without_default():
    assert set(agreements.allies_without(DEFAULT)["iso3"]) == {"BGR", "HRV", "HUN", "MNE", "MKD", "SVK", "TUR"}
    assert "ALB" in set(agreements.allies_without("2024-12-31")["iso3"])


def test_allies_without_uses_allies_on_as_of():
    # Sweden joined on 7 March 2024: not an ally (so not "without") the day before
    assert "SWE" not in set(agreements.allies_without("2024-03-06")["iso3"])
    assert "SWE" in set(agreements.allies_without("2024-03-07")["iso3"])
    assert len(agreements.ally_status("2024-03-06")) == 31
    assert len(agreements.ally_status(DEFAULT)) == 32


def test_non_allies_are_japan_ireland_and_the_eu():
    assert set(agreements.non_allies(DEFAULT)["partner_iso3"]) == {"JPN", "IRL", "EUU"}
    assert set(agreements.non_allies("2024-06-20")["partner_iso3"]) == {"JPN"}


def test_ally_status_dates_match_the_dataset():
    status = agreements.ally_status(DEFAULT).set_index("iso3")
    raw = data.load("security_agreements").set_index("partner_iso3")
    assert "JPN" not in status.index  # Japan is not an ally
    assert status.loc["USA", "signed_date"] == raw.loc["USA", "signed_date"]
    assert not status.loc["HUN", "has_agreement"] and status.loc["HUN", "date_text"] == ""


def test_cumulative_ends_at_count_and_groups_same_day():
    cum = agreements.cumulative(DEFAULT)
    assert cum["cumulative"].is_monotonic_increasing
    assert int(cum["cumulative"].iloc[-1]) == agreements.count(DEFAULT)
    stockholm = cum[cum["date"] == pd.Timestamp("2024-05-31")].iloc[0]
    assert stockholm["n"] == 3 and set(stockholm["partners"]) == {"Sweden", "Norway", "Iceland"}


def _frame(rows):
    return pd.DataFrame(rows, columns=["partner_iso3", "partner_name", "signed_date", "signed_date_precision"]).assign(
        signed_date=lambda f: pd.to_datetime(f["signed_date"]))


def test_month_precision_counts_from_the_end_of_the_month_and_is_labelled_as_month():
    frame = _frame([("AAA", "A", "2024-03-01", "day"), ("BBB", "B", "2024-03-01", "month"),
                    ("CCC", "C", "2024-04-02", "day")])
    mid = agreements.cumulative("2024-03-15", frame)
    assert list(mid["label"]) == ["1 March 2024"]  # the month-only row is not yet known
    full = agreements.cumulative("2024-04-30", frame)
    assert list(full["label"]) == ["1 March 2024", "March 2024", "2 April 2024"]
    assert list(full["precision"]) == ["day", "month", "day"]
    assert list(full["date"]) == [pd.Timestamp("2024-03-01")] * 2 + [pd.Timestamp("2024-04-02")]
    assert list(full["cumulative"]) == [1, 2, 3]


@pytest.mark.parametrize("amount, currency, period, expected", [
    (2500000000, "GBP", "2024/25 financial year", "£2.5 bn (2024/25 financial year)"),
    (3020000000, "CAD", "2024", "CAD 3.02 bn (2024)"),
    (977000000, "EUR", "2024", "€977 m (2024)"),
    (75000000000, "SEK", "2024-2026", "SEK 75 bn (2024–2026)"),
    (4500000000, "USD", None, "$4.5 bn"),
    (None, None, None, ""),
])
def test_pledge_text(amount, currency, period, expected):
    assert agreements.pledge_text(amount, currency, period) == expected


def test_pledges_keep_their_own_currency():
    p = agreements.pledges(DEFAULT).set_index("partner_iso3")
    assert p.loc["SWE", "pledge_currency"] == "SEK"
    assert p.loc["GBR", "pledge_text"].startswith("£")
    assert "USA" not in p.index  # the US agreement states no amount
