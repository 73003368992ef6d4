"""natoua.accession: milestone durations with date precision, censoring, Kaplan–Meier, the NATO simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from natoua import accession, data

AS_OF = "2026-03-31"
SIM = dict(ceasefire_year=2027, ceasefire_year_spread=1.5, accession_process_years=[1, 2],
           p_consensus_per_year=0.15, n_simulations=20000, seed=20260331)


@pytest.fixture(scope="module")
def eu():
    return data.load("eu_enlargement", AS_OF)


def row(frame, iso3):
    hit = frame[frame.iso3 == iso3]
    assert len(hit) == 1, f"expected one row for {iso3}, got {len(hit)}"
    return hit.iloc[0]


# --- dates and precision ----------------------------------------------------------------

def test_date_bounds_by_precision():
    assert accession.date_bounds("2004-06-01", "day") == (pd.Timestamp("2004-06-01"), pd.Timestamp("2004-06-01"))
    assert accession.date_bounds("2004-06-01", "month") == (pd.Timestamp("2004-06-01"), pd.Timestamp("2004-06-30"))
    assert accession.date_bounds("2024-02-01", "month")[1] == pd.Timestamp("2024-02-29")  # leap year
    assert accession.date_bounds("1997-01-01", "year") == (pd.Timestamp("1997-01-01"), pd.Timestamp("1997-12-31"))
    with pytest.raises(ValueError):
        accession.date_bounds("2004-06-01", "week")


def test_duration_is_an_interval_when_a_date_is_month_precision():
    mid, low, high = accession.duration_years("2003-02-21", "day", "2004-06-01", "month")
    assert low == pytest.approx((pd.Timestamp("2004-06-01") - pd.Timestamp("2003-02-21")).days / 365.25)
    assert high == pytest.approx((pd.Timestamp("2004-06-30") - pd.Timestamp("2003-02-21")).days / 365.25)
    assert low < mid < high
    exact = accession.duration_years("2022-02-28", "day", "2022-06-23", "day")
    assert exact[0] == exact[1] == exact[2] == pytest.approx(115 / 365.25)


def test_decimal_year_and_add_years():
    assert accession.decimal_year("2026-01-01") == 2026.0
    assert accession.decimal_year("2024-12-31") == pytest.approx(2024 + 365 / 366)
    assert accession.add_years("2024-06-25", 1.0).date().isoformat() == "2025-06-25"


# --- EU durations on the real data ---------------------------------------------------------

def test_ukraine_milestones(eu):
    ac = accession.durations(eu, "application", "candidate_status", AS_OF)
    ukr = row(ac, "UKR")
    assert ukr.completed and ukr.status == "completed"
    assert round(ukr.years * 365.25) == 115  # 28 February to 23 June 2022
    na = accession.durations(eu, "negotiations_opened", "accession", AS_OF)
    ukr = row(na, "UKR")
    assert not ukr.completed and ukr.status == "ongoing"
    assert ukr.end == pd.Timestamp(AS_OF)  # censored at the cut-off


def test_censoring_statuses(eu):
    na = accession.durations(eu, "negotiations_opened", "accession", AS_OF)
    assert row(na, "TUR").status == "frozen"
    isl = row(na, "ISL")
    assert isl.status == "withdrawn" and isl.end == pd.Timestamp("2015-03-12")
    assert row(na, "MNE").status == "ongoing" and not row(na, "MNE").completed
    assert row(na, "HRV").completed
    # a censored case is kept, never dropped
    assert {"TUR", "ISL", "MNE", "SRB", "ALB", "MKD", "MDA", "UKR"} <= set(na.iso3)


def test_step_that_did_not_exist_is_left_out(eu):
    """The 1995 enlargement had no candidate status: not an open phase, not a zero."""
    ac = accession.durations(eu, "application", "candidate_status", AS_OF)
    assert not {"AUT", "FIN", "SWE"} & set(ac.iso3)
    aa = accession.durations(eu, "application", "accession", AS_OF)
    assert row(aa, "AUT").completed


def test_month_precision_gives_bounds_on_real_data(eu):
    ac = accession.durations(eu, "application", "candidate_status", AS_OF)
    hrv = row(ac, "HRV")  # candidate status June 2004, month precision
    assert hrv.years_high - hrv.years_low == pytest.approx(29 / 365.25)
    ukr = row(ac, "UKR")
    assert ukr.years_high == ukr.years_low


def test_as_of_changes_censoring(eu):
    early = data.load("eu_enlargement", "2024-12-31")
    na = accession.durations(early, "negotiations_opened", "accession", "2024-12-31")
    assert row(na, "UKR").years == pytest.approx((pd.Timestamp("2024-12-31") - pd.Timestamp("2024-06-25")).days / 365.25)
    before = data.load("eu_enlargement", "2024-06-24")
    na = accession.durations(before, "negotiations_opened", "accession", "2024-06-24")
    assert "UKR" not in set(na.iso3)


def test_cohorts_count_accession_dates(eu):
    na = accession.durations(eu, "negotiations_opened", "accession", AS_OF)
    done = na[na.completed]
    assert accession.cohorts(done) == done["end"].nunique() < len(done)


# --- Kaplan–Meier ---------------------------------------------------------------------------------

def test_kaplan_meier_textbook_example():
    # times 1, 2+, 3, 3, 4+ : S(1)=4/5, S(3)=4/5 * (1 - 2/3)
    km = accession.kaplan_meier([1, 2, 3, 3, 4], [True, False, True, True, False])
    assert list(km.time) == [1, 3]
    assert list(km.at_risk) == [5, 3]
    assert km.survival.iloc[0] == pytest.approx(0.8)
    assert km.survival.iloc[1] == pytest.approx(0.8 / 3)
    assert accession.km_survival(km, 0.5) == 1.0
    assert accession.km_survival(km, 2.5) == pytest.approx(0.8)


def test_kaplan_meier_without_censoring_is_the_empirical_share():
    km = accession.kaplan_meier([1, 2, 2, 4], [True] * 4)
    assert list(km.share_completed) == pytest.approx([0.25, 0.75, 1.0])


def test_censoring_lowers_the_estimated_share(eu):
    na = accession.durations(eu, "negotiations_opened", "accession", AS_OF)
    na = na[na.iso3 != "UKR"]
    km = accession.kaplan_meier(na.years, na.completed)
    longest = na[na.completed].years.max()
    share = 1 - accession.km_survival(km, longest)
    assert 0 < share < 1  # the open cases that outlasted every completed case keep it below 100%


def test_window_share_and_conditioning():
    km = accession.kaplan_meier([1, 2, 3, 4], [True] * 4)
    assert accession.window_share(km, 1.5, 3.5) == pytest.approx(0.5)
    assert accession.window_share(km, 1.5, 3.5, elapsed=1.5) == pytest.approx(0.5 / 0.75)


def test_implied_dates_drop_durations_already_passed():
    dates = accession.implied_dates("2024-06-25", [1.0, 2.0, 6.0], elapsed=1.5)
    assert len(dates) == 2
    assert dates.iloc[0] == accession.add_years("2024-06-25", 2.0)


def test_quantile_is_an_observed_duration():
    assert accession.quantile_years([1.9, 4.2, 6.1, 6.1], 0.5) in (4.2, 6.1)


# --- NATO --------------------------------------------------------------------------------------

def test_nato_applications_from_the_event_log():
    apps = accession.nato_application_to_accession(AS_OF).set_index("iso3")
    assert {"FIN", "SWE", "UKR"} <= set(apps.index)
    assert apps.loc["FIN", "completed"] and apps.loc["SWE", "completed"]
    assert apps.loc["FIN", "years"] < apps.loc["SWE", "years"] < 2
    assert not apps.loc["UKR", "completed"]
    # before Finland joined, its application is censored too
    early = accession.nato_application_to_accession("2023-01-01").set_index("iso3")
    assert not early.loc["FIN", "completed"]


# --- the simulation --------------------------------------------------------------------------------

def test_simulation_is_deterministic_for_a_seed():
    a = accession.simulate_nato_accession(**SIM)
    b = accession.simulate_nato_accession(**SIM)
    assert np.array_equal(a, b)
    c = accession.simulate_nato_accession(**{**SIM, "seed": SIM["seed"] + 1})
    assert not np.array_equal(a, c)


def test_simulation_respects_the_cut_off_and_the_process_range():
    joined = accession.simulate_nato_accession(**{**SIM, "p_consensus_per_year": 1.0, "not_before": 2026.25})
    # immediate consensus: joined = ceasefire + process, ceasefire >= cut-off, process in [1, 2]
    assert joined.min() >= 2026.25 + 1
    assert joined.size == SIM["n_simulations"]


def test_simulation_responds_to_its_assumptions():
    def median(**over):
        return np.median(accession.simulate_nato_accession(**{**SIM, **over}))

    assert median(ceasefire_year=2029) > median(ceasefire_year=2027)
    assert median(p_consensus_per_year=0.3) < median(p_consensus_per_year=0.15)
    never = accession.simulate_nato_accession(**{**SIM, "p_consensus_per_year": 0.0})
    assert np.isinf(never).all()


def test_simulation_rejects_bad_inputs():
    with pytest.raises(ValueError):
        accession.simulate_nato_accession(**{**SIM, "accession_process_years": [2, 1]})
    with pytest.raises(ValueError):
        accession.simulate_nato_accession(**{**SIM, "p_consensus_per_year": 1.5})
    with pytest.raises(ValueError):
        accession.simulate_nato_accession(**{**SIM, "n_simulations": 0})


def test_summary_of_a_known_sample():
    joined = np.array([2028.5, 2030.9, 2031.0, 2034.2, np.inf])
    res = accession.summarise_simulation(joined, (2030, 2035))
    assert res["share_by"] == {2030: pytest.approx(0.4), 2035: pytest.approx(0.8)}
    assert res["median_year"] == 2031
    assert res["n"] == 5


def test_per_ally_equivalent():
    assert accession.per_ally_equivalent(0.15, 1) == pytest.approx(0.15)
    assert accession.per_ally_equivalent(0.15, 32) ** 32 == pytest.approx(0.15)


# --- the model vectorised over scenarios, and the sensitivity grid ----------------------------------

NOT_BEFORE = 2026.245


def test_scenarios_share_their_draws():
    """Common random numbers: a scenario's draws are the same whether it runs alone or in a grid."""
    years, ps = np.array([2026, 2027, 2029]), np.array([0.05, 0.15, 0.3])
    base = {k: v for k, v in SIM.items() if k not in ("ceasefire_year", "p_consensus_per_year")}
    grid = accession.simulate_nato_accession(ceasefire_year=years[:, None], p_consensus_per_year=ps[None, :],
                                             not_before=NOT_BEFORE, **base)
    assert grid.shape == (3, 3, SIM["n_simulations"])
    alone = accession.simulate_nato_accession(**{**SIM, "ceasefire_year": 2029, "p_consensus_per_year": 0.15},
                                              not_before=NOT_BEFORE)
    assert np.array_equal(grid[2, 1], alone)


def test_a_higher_chance_of_consensus_never_delays_a_draw():
    """Same draws, shorter waits: every single draw joins no later when consensus is more likely."""
    base = {k: v for k, v in SIM.items() if k != "p_consensus_per_year"}
    joined = accession.simulate_nato_accession(p_consensus_per_year=np.array([0.0, 0.05, 0.3, 1.0]), **base)
    assert np.isinf(joined[0]).all()
    assert (np.diff(joined[1:], axis=0) <= 0).all()


def test_truncated_ceasefire_has_the_truncated_normal_mean():
    # centre 2030.5, sd 1, truncated at the centre: mean of the half-normal above it is sqrt(2/pi)
    joined = accession.simulate_nato_accession(ceasefire_year=2030, ceasefire_year_spread=1.0,
                                               accession_process_years=[0, 0], p_consensus_per_year=1.0,
                                               n_simulations=200_000, seed=7, not_before=2030.5)
    assert joined.min() >= 2030.5
    assert joined.mean() == pytest.approx(2030.5 + np.sqrt(2 / np.pi), abs=0.01)


def test_a_bound_rejection_cannot_reach_is_clamped():
    # a ceasefire centred 40 sd before the cut-off: redrawing never gets past it, so draws sit on the bound
    joined = accession.simulate_nato_accession(ceasefire_year=2022, ceasefire_year_spread=0.1,
                                               accession_process_years=[1, 1], p_consensus_per_year=1.0,
                                               n_simulations=500, seed=1, not_before=2026.5)
    assert np.allclose(joined, 2027.5)


def test_process_arrays_broadcast_with_the_scenarios():
    joined = accession.simulate_nato_accession(**{**SIM, "p_consensus_per_year": 1.0,
                                                  "accession_process_years": [[1, 2], [0.8, 1.0]]},
                                               not_before=NOT_BEFORE)
    assert joined.shape == (2, SIM["n_simulations"])
    assert np.median(joined[1]) < np.median(joined[0])
    with pytest.raises(ValueError):
        accession.simulate_nato_accession(**{**SIM, "accession_process_years": [[1, 2], [2, 1]]})
    with pytest.raises(ValueError):
        accession.simulate_nato_accession(**{**SIM, "p_consensus_per_year": np.array([0.1, -0.1])})


def test_share_before_a_known_sample():
    joined = np.array([[2028.5, 2030.9, 2031.0, 2034.2, np.inf], [2040.0] * 5])
    shares = accession.share_before(joined, [2031.0, 2036.0])
    assert shares.shape == (2, 2)
    assert shares[0].tolist() == pytest.approx([0.4, 0.8])
    assert shares[1].tolist() == [0.0, 0.0]


def test_sensitivity_grid_rows_and_cells():
    base = {k: v for k, v in SIM.items() if k not in ("ceasefire_year", "p_consensus_per_year")}
    grid = accession.sensitivity_grid(ceasefire_years=[2026, 2027, 2029], p_consensus=[0.05, 0.15],
                                      horizons={2030: 2031.0, "near": 2028.245}, not_before=NOT_BEFORE, **base)
    assert list(grid.columns) == ["ceasefire_year", "p_consensus_per_year", 2030, "near"]
    assert list(zip(grid.ceasefire_year, grid.p_consensus_per_year)) == [
        (2026, 0.05), (2026, 0.15), (2027, 0.05), (2027, 0.15), (2029, 0.05), (2029, 0.15)]
    alone = accession.simulate_nato_accession(**SIM, not_before=NOT_BEFORE)  # 2027 and 0.15
    cell = grid[(grid.ceasefire_year == 2027) & (grid.p_consensus_per_year == 0.15)].iloc[0]
    assert cell[2030] == np.mean(alone < 2031.0)
    assert (grid["near"] <= grid[2030]).all()


def test_sensitivity_grid_in_slices_equals_one_run(monkeypatch):
    base = {k: v for k, v in SIM.items() if k not in ("ceasefire_year", "p_consensus_per_year")}
    args = dict(ceasefire_years=[2026, 2027, 2028], p_consensus=[0.1, 0.3], horizons={2030: 2031.0},
                not_before=NOT_BEFORE, **base)
    whole = accession.sensitivity_grid(**args)
    monkeypatch.setattr(accession, "GRID_DRAWS", SIM["n_simulations"] * 2)  # one ceasefire year at a time
    assert whole.equals(accession.sensitivity_grid(**args))
    with pytest.raises(ValueError):
        accession.sensitivity_grid(**{**args, "p_consensus": []})
