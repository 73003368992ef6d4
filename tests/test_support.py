"""natoua.support on the real Kiel Release 28 data."""

import pandas as pd
import pytest

from natoua import analysis, data, support

END_2024 = "2024-12-31"


def test_release_totals_reproduce_kiel_headlines():
    """The per-donor totals reproduce Kiel's published headline figures (see support_tracker's description)."""
    alloc = support.type_totals()
    assert alloc["total"] == pytest.approx(349.9, abs=0.05)
    assert alloc["military"] == pytest.approx(166.5, abs=0.05)
    assert alloc["financial"] == pytest.approx(158.1, abs=0.05)
    assert alloc["humanitarian"] == pytest.approx(25.4, abs=0.05)
    assert support.type_totals(measure="commitment")["total"] == pytest.approx(545.5, abs=0.05)


def test_group_totals_reproduce_us_and_europe():
    groups = support.group_totals()
    assert groups.loc[support.US, "total"] == pytest.approx(115.4, abs=0.05)
    assert groups.loc[support.US, "military"] == pytest.approx(64.6, abs=0.05)
    assert groups.loc[support.EUROPE, "total"] == pytest.approx(207.6, abs=0.05)
    assert groups.loc[support.EUROPE, "military"] == pytest.approx(95.8, abs=0.05)
    assert groups["total"].sum() == pytest.approx(support.type_totals()["total"])
    assert groups["share"].sum() == pytest.approx(1.0)


def test_donor_groups():
    assert support.donor_group("USA") == support.US
    for iso in ("EUU", "GBR", "NOR", "CHE", "ISL", "DEU"):
        assert support.donor_group(iso) == support.EUROPE
    for iso in ("CAN", "JPN", "TUR", "AUS"):
        assert support.donor_group(iso) == support.OTHER


def test_full_release_uses_per_donor_totals_not_by_year_sums():
    """By-year sums are lower for some donors (Italy); the default cut-off must use the totals."""
    assert support.full_release("2026-03-31") and support.full_release(None)
    assert not support.full_release(END_2024)
    totals = support.donor_totals("2026-03-31").set_index("donor_iso3")["total"]
    raw = data.load("support_tracker")
    ita = raw[(raw.donor_iso3 == "ITA") & (raw.measure == "allocation")]["eur_bn"].sum()
    assert totals["ITA"] == pytest.approx(ita)
    by_year = support.by_year(None).groupby("donor_iso3")["eur_bn"].sum()
    assert by_year["ITA"] < totals["ITA"] - 1  # the discrepancy the description warns about


def test_as_of_cut_sums_years_up_to_cutoff():
    cut = support.donor_totals(END_2024).set_index("donor_iso3")
    rows = data.load("support_tracker_by_year")
    rows = rows[(rows.measure == "allocation") & (rows.year <= 2024)]
    assert cut["total"].sum() == pytest.approx(rows["eur_bn"].sum())
    assert cut.loc["USA", "total"] == pytest.approx(rows[rows.donor_iso3 == "USA"]["eur_bn"].sum())
    assert support.last_year(END_2024) == 2024
    assert "2022–2024" in support.basis(END_2024)
    assert support.period_end(END_2024) == pd.Timestamp("2024-12-31")
    assert support.period_end("2026-03-31") == support.data_end() == pd.Timestamp("2026-02-28")


def test_group_by_year_fills_missing_years_with_zero_and_adds_up():
    frame = support.group_by_year()
    assert list(frame.index) == [2022, 2023, 2024, 2025, 2026]
    assert frame.loc[2026, support.US] == 0.0  # no US rows in 2026
    assert (frame[support.GROUPS].sum(axis=1) - frame["total"]).abs().max() < 1e-9
    total = support.by_year(None)["eur_bn"].sum()
    assert frame["total"].sum() == pytest.approx(total)
    shares = support.group_shares_by_year()
    assert shares.sum(axis=1).round(9).eq(1).all()
    assert support.group_by_year(END_2024).index.max() == 2024


def test_military_by_year_europe_overtakes_us_in_2025():
    mil = support.group_by_year(aid_type="military")
    assert mil.loc[2025, support.EUROPE] > 10 * mil.loc[2025, support.US]
    with pytest.raises(ValueError):
        support.group_by_year(aid_type="weapons")


def test_partial_year():
    assert support.partial_year(2026) == "January–February"
    assert support.partial_year(2025) is None
    assert support.year_beyond_cutoff("2024-06-30") == 2024
    assert support.year_beyond_cutoff(END_2024) is None
    assert support.year_beyond_cutoff("2026-03-31") is None


def test_commitment_gap():
    gap = support.commitment_gap().set_index("donor_iso3")
    assert gap["committed"].sum() == pytest.approx(545.5, abs=0.05)
    assert gap.loc["EUU", "gap"] == pytest.approx(190.72 - 84.43, abs=0.01)
    assert (gap["gap"] == gap["committed"] - gap["allocated"]).all()
    assert gap.loc["ITA", "gap"] < 0  # Italy: more allocated than committed in the release
    assert 0 < gap.loc["DEU", "allocated_share"] < 1


def test_pct_gdp_full_release_is_kiels_figure_and_cut_is_proportional():
    full = support.pct_gdp().set_index("donor_iso3")
    rel = data.load("support_relative").set_index("donor_iso3")
    assert full.loc["DNK", "pct_gdp"] == rel.loc["DNK", "total_allocation_pct_gdp"]
    assert support.pct_gdp().iloc[0]["donor_iso3"] == "DNK"
    cut = support.pct_gdp(END_2024).set_index("donor_iso3")
    share = support.donor_totals(END_2024).set_index("donor_iso3")["total"]["DNK"] / full.loc["DNK", "total"]
    assert cut.loc["DNK", "pct_gdp"] == pytest.approx(full.loc["DNK", "pct_gdp"] * share)
    # by-year rows are rounded to 4 decimals each, so sums may exceed the total by rounding only
    assert (cut["pct_gdp"] <= full["pct_gdp"].reindex(cut.index) * 1.001 + 1e-6).all()


def test_rank_and_profile():
    assert support.rank("USA") == (1, 42)
    assert support.rank("DEU") == (3, 42)  # after the US and the EU institutions
    r, n = support.rank("DNK", by="pct_gdp")
    assert r == 1 and n == 41  # countries only: the EU institutions are not ranked by % of GDP
    assert support.rank("UKR") is None
    with pytest.raises(ValueError):
        support.rank("DEU", by="gdp")
    prof = support.profile("POL")
    assert prof["total"] == pytest.approx(sum(prof[t] for t in support.AID_TYPES))
    assert prof["rank_total"][0] == support.rank("POL")[0]
    assert support.profile("ALB") is None


def test_europe_definition_is_the_trackers():
    eu = analysis.europe_codes()
    assert {"EUU", "GBR", "NOR", "CHE", "ISL"} <= eu
    assert "TUR" not in eu and "USA" not in eu
