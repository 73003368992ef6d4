"""natoua sweep: the tidy table, which claims move, and (end to end, on a small fixture section) argument
refusals, the runner's cache and the folder it writes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from natoua import grid, sweep, sweep_page, sweep_table


def claim(value, text, unit="u"):
    return {"value": value, "text": text, "unit": unit}


AXES = [grid.parse_axis("90.a=1,2"), grid.parse_axis("90.b=[1, 2],[3]")]
COMBOS = grid.cross(AXES)
LEDGERS = [
    {"share": claim(0.20, "20%"), "year": claim(2030, "2030"), "fixed": claim(5, "5"), "tiny": claim(0.2101, "21%"),
     "word": claim("likely", "likely")},
    {"share": claim(0.40, "40%"), "year": claim(2030, "2030"), "fixed": claim(5, "5"), "tiny": claim(0.2115, "21%"),
     "word": claim("unlikely", "unlikely")},
    None,  # a failed run
    {"share": claim(0.10, "10%"), "year": claim(2031, "2031"), "fixed": claim(5, "5"), "tiny": claim(0.2110, "21%"),
     "word": claim("likely", "likely"), "extra": claim(1, "one")},
]
STATUSES = ["executed", "cached", "failed", "executed"]


def test_tidy_table_one_row_per_parameter_set_and_two_columns_per_claim():
    table = sweep_table.tidy_table(AXES, COMBOS, STATUSES, LEDGERS, ["", "", "cell 3: ValueError: no", ""])
    assert len(table) == len(COMBOS) == 4
    claims = ["share", "year", "fixed", "tiny", "word", "extra"]
    assert list(table.columns) == ["run", "a", "b", "status", "error"] + [c for n in claims for c in (n, f"{n}.text")]
    assert table["b"].tolist() == ["[1, 2]", "[3]", "[1, 2]", "[3]"]  # a list value as JSON text
    assert table["share"].tolist()[:2] == [0.20, 0.40] and table["share.text"].tolist()[:2] == ["20%", "40%"]
    failed = table.iloc[2]
    assert failed["status"] == "failed" and failed["error"] == "cell 3: ValueError: no"
    assert failed[["share", "share.text"]].isna().all()
    assert table["extra.text"].tolist() == [None, None, None, "one"]  # made by one run only


def test_moves_largest_relative_move_first_and_unchanged_reported_unchanged():
    m = sweep_table.moves(LEDGERS).set_index("claim")
    assert m.loc["fixed", "status"] == "unchanged" and m.loc["fixed", "relative_move"] == 0.0
    assert m.loc["fixed", "lowest"] == m.loc["fixed", "highest"] == "5"
    assert m.loc["share", "status"] == "moves"
    assert m.loc["share", "relative_move"] == pytest.approx((0.40 - 0.10) / 0.40)
    assert (m.loc["share", "lowest"], m.loc["share", "highest"]) == ("10%", "40%")
    assert m.loc["year", "relative_move"] == pytest.approx(1 / 2031)
    assert m.loc["tiny", "status"] == "value only"  # moves below the printed precision
    assert m.loc["word", "status"] == "moves" and math.isnan(m.loc["word", "relative_move"])
    assert m.loc["word", "distinct"] == 2
    assert m.loc["extra", "status"] == "moves" and m.loc["extra", "made_in"] == 1  # not made by every run
    assert (m["runs"] == 3).all()  # the failed run is left out
    order = sweep_table.moves(LEDGERS).claim.tolist()
    assert order.index("share") < order.index("year") < order.index("word")  # numeric by relative move first
    assert order.index("word") < order.index("tiny") < order.index("fixed")  # then value only, then unchanged


def test_nothing_moves_when_every_run_agrees():
    same = [{"x": claim(1.5, "1.5"), "y": claim("a", "a")}] * 3
    m = sweep_table.moves(same)
    assert set(m.status) == {"unchanged"}
    assert sweep_table.moves([None, None]).empty


def test_csv_neutralises_formula_like_text():
    table = sweep_table.tidy_table([grid.parse_axis("90.a=1")], [{"a": 1}], ["executed"],
                             [{"name": claim("=HYPERLINK(1)", "=HYPERLINK(1)")}])
    text = sweep_table.to_csv(table)
    assert "'=HYPERLINK(1)" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_a_killed_sweeps_staging_folder_is_removed_by_the_next(tmp_path):
    import os
    import subprocess

    folder = tmp_path / "12-abc"
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    left = [tmp_path / f".tmp-12-abc-{dead.pid}", tmp_path / f".old-12-abc-{dead.pid}"]
    alive = tmp_path / f".tmp-12-abc-{os.getpid()}"  # a sweep still running
    other = tmp_path / f".tmp-12-abd-{dead.pid}"  # another grid's
    for path in [*left, alive, other]:
        path.mkdir()
    sweep_page.clean_leftovers(folder)
    assert not any(p.exists() for p in left)
    assert alive.exists() and other.exists()


def test_declared_claims_read_from_the_notebook(tmp_path):
    import json

    nb = {"cells": [{"cell_type": "code", "source": 'claims.claim("a_b", 1, unit="x", datasets=["d"])\n'
                                                     "x = claims.claim('c', 2, unit='x', datasets=['d'])"},
                    {"cell_type": "markdown", "source": 'claims.claim("not_code", 1)'}]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert sweep.declared_claims(path) == ({"a_b", "c"}, False)
    nb["cells"].append({"cell_type": "code", "source": 'claims.claim(f"x_{y}", 1, unit="x", datasets=["d"])'})
    path.write_text(json.dumps(nb))
    assert sweep.declared_claims(path)[1] is True


# --- end to end, on a small fixture section (real kernels, the real data package's validation) ------------

from pathlib import Path  # noqa: E402

from natoua.errors import BuildError  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "sweep"  # 90_tiny.ipynb: parameters a, b, fail_when_a


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")  # shared: the data package is validated once


def options(reports, params, **kw):
    return sweep.SweepOptions(section="90", params=params, out=reports, notebooks=FIXTURE, jobs=2, pdf=False,
                              quiet=True, **kw)


@pytest.mark.parametrize("params, show, message", [
    (["90.a=1,11"], None, "-p 90.a=11: 11 is above the maximum 10"),
    (["90.a=1,'x'"], None, "-p 90.a='x': 'x' is not an int"),
    (["90.b=0.5,-0.1"], None, "-p 90.b=-0.1: -0.1 is below the minimum 0"),
    (["90.nope=1,2"], None, "section 90 has no parameter 'nope'"),
    (["90.as_of='2026-01-01'"], None, "as_of is common to every section"),
    (["90.a=1,,2"], None, "an empty value"),
    (["12.a=1"], None, "this sweep is of section 90"),
    (["90.a=1,2"], "tiny_double", "--show tiny_double: a heatmap needs exactly two swept parameters"),
    (["90.a=1,2", "90.b=0.1,0.2"], "no_such_claim", "--show no_such_claim: section 90 makes no claim of that name"),
])
def test_bad_arguments_are_refused_before_any_work(reports, params, show, message):
    with pytest.raises(BuildError) as err:
        sweep.check(options(reports, params, show=show))
    assert err.value.code == 2
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (reports / "sweeps").exists()


def test_an_unknown_section_is_named_as_the_argument(reports):
    with pytest.raises(BuildError) as err:
        sweep.check(sweep.SweepOptions(section="91", params=["91.a=1"], out=reports, notebooks=FIXTURE))
    assert err.value.code == 2
    assert str(err.value).startswith("no section 91 (have 90)")


def test_cli_refuses_a_bad_value_with_one_line_and_exit_2(capsys, tmp_path):
    from natoua import cli

    code = cli.main(["sweep", "12", "-p", "12.ceasefire_year=2026,2019", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "12.ceasefire_year=2019: 2019 is below the minimum 2022" in err
    assert not any(tmp_path.iterdir()) or not (tmp_path / "sweeps").exists()


@pytest.mark.full
def test_sweep_writes_the_table_and_page_and_a_second_call_reruns_nothing(reports):
    opts = options(reports, ["90.a=1,2,3", "90.b=0.25,0.5"], show="tiny_product")
    first = sweep.run(opts)
    assert first.code == 0
    assert first.statuses.count("executed") + first.statuses.count("cached") == 6 and "failed" not in first.statuses
    table = pd.read_csv(first.folder / "sweep.csv")
    assert table.shape[0] == 6
    assert list(table.columns[:5]) == ["run", "a", "b", "status", "error"]
    for name in ("tiny_double", "tiny_b", "tiny_product", "tiny_fixed"):
        assert name in table.columns and f"{name}.text" in table.columns
    assert table["tiny_double"].tolist() == [2, 2, 4, 4, 6, 6]  # first axis slowest
    assert table["tiny_b.text"].tolist() == ["25%", "50%"] * 3
    m = first.moves.set_index("claim")
    assert m.loc["tiny_fixed", "status"] == "unchanged"
    assert m.loc["tiny_product", "relative_move"] == pytest.approx((1.5 - 0.25) / 1.5)
    assert first.moves.claim.iloc[0] == "tiny_product"  # the largest relative move first
    page = (first.folder / "sweep.html").read_text(encoding="utf-8")
    assert "Claims that do not move" in page and "tiny_fixed: 7" in page
    assert "tiny_product across the grid" in page  # the heatmap's title
    assert first.folder.parent == reports / "sweeps" / opts.as_of and first.folder.name.startswith("90-")
    assert not (reports / "latest").exists() and not (reports / opts.as_of).exists()  # nothing published

    second = sweep.run(opts)
    assert second.statuses == ["cached"] * 6  # the runner ran nothing
    assert second.folder == first.folder
    again = pd.read_csv(second.folder / "sweep.csv")
    assert again["status"].tolist() == ["cached"] * 6
    assert again.drop(columns="status").equals(table.drop(columns="status"))  # the same figures

    overlap = sweep.run(options(reports, ["90.a=1,4"]))  # a=1 (b default 0.5) was run above
    assert overlap.statuses == ["cached", "executed"]


@pytest.mark.full
def test_failed_runs_are_listed_and_the_rest_kept(reports):
    result = sweep.run(options(reports, ["90.a=5,6", "90.fail_when_a=6"]))
    assert result.code == 4
    assert result.statuses == ["executed", "failed"]
    row = pd.read_csv(result.folder / "sweep.csv").iloc[1]
    assert row["status"] == "failed" and "a is not the value that fails" in row["error"]
    assert result.moves.runs.iloc[0] == 1
