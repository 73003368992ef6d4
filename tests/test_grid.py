"""natoua.grid: parsing `natoua sweep -p SECTION.NAME=v1,v2,...`, the cross product and the grid's name."""

from __future__ import annotations

import pytest

from natoua import grid


def test_values_are_literals_split_on_top_level_commas():
    axis = grid.parse_axis("12.ceasefire_year=2026,2027,2029")
    assert axis == grid.Axis("12", "ceasefire_year", (2026, 2027, 2029))
    assert axis.numeric
    assert grid.parse_axis("12.p_consensus_per_year=0.05, 0.15,0.3").values == (0.05, 0.15, 0.3)
    lists = grid.parse_axis("12.accession_process_years=[1, 2],[0.8, 1.2]")
    assert lists.values == ([1, 2], [0.8, 1.2]) and not lists.numeric
    words = grid.parse_axis("07.focus_allies=['POL', 'EST'],['DEU']")
    assert words.values == (["POL", "EST"], ["DEU"])
    assert grid.parse_axis("x1.currency=EUR,'a,b'").values == ("EUR", "a,b")  # a comma inside quotes
    assert grid.parse_axis("12.seed=1").values == (1,)  # one value is a grid of one


@pytest.mark.parametrize("option, words", [
    ("12.ceasefire_year", "expected SECTION.NAME=VALUE"),
    ("ceasefire_year=2026", "expected SECTION.NAME=VALUE"),
    ("12.=2026", "expected SECTION.NAME=VALUE"),
    ("12.ceasefire_year=2026,,2027", "an empty value"),
    ("12.ceasefire_year=2026,", "an empty value"),
    ("12.accession_process_years=[1, 2", "unbalanced"),
    ("12.accession_process_years=[1, 2]]", "unbalanced"),
    ("12.ceasefire_year=2026,2027,2026", "the value 2026 is given twice"),
    ("12.p_consensus_per_year=0.1,0.10", "given twice"),
])
def test_malformed_options_are_one_line_errors(option, words):
    with pytest.raises(grid.GridError) as err:
        grid.parse_axis(option)
    message = str(err.value)
    assert words in message and "\n" not in message
    assert message.startswith("-p ")


def test_axes_must_be_of_the_swept_section_and_each_parameter_once():
    a = grid.parse_axis("12.ceasefire_year=2026,2027")
    with pytest.raises(grid.GridError, match="this sweep is of section 12"):
        grid.check_axes([a, grid.parse_axis("09.brief_window_years=[5, 10]")], "12")
    with pytest.raises(grid.GridError, match="given twice"):
        grid.check_axes([a, grid.parse_axis("12.ceasefire_year=2029")], "12")
    with pytest.raises(grid.GridError, match="at least one"):
        grid.check_axes([], "12")
    grid.check_axes([a], "12")


def test_cross_product_first_axis_slowest():
    axes = [grid.parse_axis("12.ceasefire_year=2026,2027,2029"),
            grid.parse_axis("12.p_consensus_per_year=0.05,0.15,0.3")]
    combos = grid.cross(axes)
    assert len(combos) == 9
    assert combos[0] == {"ceasefire_year": 2026, "p_consensus_per_year": 0.05}
    assert combos[1] == {"ceasefire_year": 2026, "p_consensus_per_year": 0.15}
    assert combos[-1] == {"ceasefire_year": 2029, "p_consensus_per_year": 0.3}
    assert len({grid.label(c) for c in combos}) == 9


def test_digest_names_the_grid():
    axes = [grid.parse_axis("12.ceasefire_year=2026,2027")]
    same = [grid.parse_axis("12.ceasefire_year=2026, 2027")]
    assert grid.digest("12", axes) == grid.digest("12", same)
    assert len(grid.digest("12", axes)) == 12
    assert grid.digest("12", axes) != grid.digest("12", [grid.parse_axis("12.ceasefire_year=2027,2026")])
    assert grid.digest("12", axes) != grid.digest("12", axes, {"currency": "USD"})
    assert grid.digest("12", axes) != grid.digest("12", [grid.parse_axis("12.ceasefire_year=2026,2028")])
