"""The malformed-input corpus (tests/fixtures/bad/, one defect per case), each case once: the validator names
the defect by file, row and column; a validation that reuses the per-resource cache reports exactly the same;
and a build on that data exits 2 with those lines, runs no notebook, and changes nothing published.

The build runs in this process (the `natoua build` command's own entry point) with the worker pool replaced
by one that fails the test if it is given a notebook: on invalid data none may run."""

from __future__ import annotations

from pathlib import Path

import pytest

from natoua import cli, paths, pool
from natoua.validate import validate_package

from conftest import QUICK_CASES, apply_case, bad_case_params, bad_cases, expected_lines, natoua, seeded_reports, tree_state


class NoNotebookMayRun:
    """Stands in for pool.Pool on invalid data."""

    def __init__(self, workers: int):
        pass

    def run(self, jobs, on_result, expected_seconds=None):
        raise AssertionError(f"a notebook ran on invalid data: {[j.section for j in jobs]}")

    def close(self):
        pass


@pytest.fixture(scope="module")
def published(tmp_path_factory, default_edition) -> Path:
    """A reports folder with a published build of section 11 (from the shared edition's cache) and the
    validation cache of the real package, as after a good build."""
    out = seeded_reports(tmp_path_factory.mktemp("published"), default_edition)
    natoua("build", "--sections", "11", "--no-pdf", "--out", out, check=True)
    return out


def test_the_quick_sample_is_part_of_the_corpus():
    assert set(QUICK_CASES) <= set(bad_cases())


def test_real_package_is_valid():
    problems = validate_package(paths.ROOT / "data")
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("case", bad_case_params())
def test_bad_input_is_named_and_never_publishes(case, published, tmp_path, monkeypatch, capsys):
    data_dir = apply_case(case, tmp_path)
    expected = expected_lines(case)
    problems = [str(p) for p in validate_package(data_dir)]  # from scratch, no cache
    if expected == ["VALID"]:  # odd but valid input is accepted
        assert problems == [], f"{case} should be accepted:\n" + "\n".join(problems)
        return
    for line in expected:
        assert any(p.startswith(line) for p in problems), (
            f"{case}: expected a problem starting with\n  {line}\ngot:\n  " + "\n  ".join(problems))

    monkeypatch.setenv("NATOUA_DATA_DIR", str(data_dir))
    monkeypatch.setattr(pool, "Pool", NoNotebookMayRun)
    before = tree_state(published)
    for attempt in ("changed files re-read", "every result from the cache"):
        code = cli.main(["build", "--sections", "11", "--no-pdf", "--out", str(published)])
        err = capsys.readouterr().err.splitlines()
        assert code == 2, f"{case} ({attempt}): exit {code}\n" + "\n".join(err)
        assert err[:-1] == problems, f"{case} ({attempt}): the build reports what a full validation reports"
        assert err[-1].startswith("error: data validation failed") and "nothing was built or published" in err[-1]
        assert tree_state(published) == before, "the published edition or latest changed"
