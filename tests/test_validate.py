"""The validator on the real package and on every malformed fixture (one defect each)."""

from __future__ import annotations

import pytest

from natoua import paths
from natoua.validate import Problem, validate_package

from conftest import apply_case, bad_cases, expected_lines


def test_real_package_is_valid():
    problems = validate_package(paths.ROOT / "data")
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("case", bad_cases())
def test_validator_reports_each_defect_by_file_row_column(case, tmp_path):
    data_dir = apply_case(case, tmp_path)
    problems = [str(p) for p in validate_package(data_dir)]
    expected = expected_lines(case)
    if expected == ["VALID"]:
        assert problems == [], f"{case} should be accepted:\n" + "\n".join(problems)
        return
    for line in expected:
        assert any(p.startswith(line) for p in problems), (
            f"{case}: expected a problem starting with\n  {line}\ngot:\n  " + "\n  ".join(problems))


def test_problem_format_is_file_row_column_message():
    assert str(Problem("data/a.csv", 3, "date", "bad")) == "data/a.csv:3:date: bad"
    assert str(Problem("data/a.csv", None, None, "missing")) == "data/a.csv:-:-: missing"


def test_every_fact_row_cites_a_known_source():
    from natoua import data

    known = set(data.load("sources")["source_id"])
    for name in data.resource_names():
        frame = data.load(name)
        for col in [c for c in frame.columns if c.endswith("source_id") and name != "sources"]:
            missing = set(frame[col].dropna()) - known
            assert not missing, f"{name}.{col} cites unknown sources {missing}"
            if col == "source_id":
                assert frame[col].notna().all(), f"{name} has rows without a source"


def test_every_listed_source_is_cited_by_some_row():
    """The sources appendix lists sources.csv; each entry must be one the data actually cite."""
    from natoua import data

    cited = set()
    for name in data.resource_names():
        if name == "sources":
            continue
        frame = data.load(name)
        for col in [c for c in frame.columns if c.endswith("source_id")]:
            cited |= set(frame[col].dropna())
    uncited = set(data.load("sources")["source_id"]) - cited
    assert not uncited, f"sources nobody cites: {sorted(uncited)}"
