"""build, preview and briefs run their notebooks through one runner: whichever command runs a notebook, the
same cut-off, currency, parameters and cell time limit reach it.

The worker pool is replaced by one that records each job and reports it failed, so no kernel starts: what is
tested is what each command asks the runner to run."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from natoua import briefs, build, paths, pool, publish
from natoua.errors import EXIT_FAILED, BuildError
from natoua.execute import Result
from natoua.preview import Engine
from natoua.runner import RunOptions


class RecordingPool:
    """Stands in for pool.Pool: records the jobs and fails each (nothing executes)."""

    jobs: list = []

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, jobs, on_result, expected_seconds=None):
        results = []
        for job in jobs:
            RecordingPool.jobs.append(job)
            result = Result(job.section, False, 0.0, job.output, {}, {"cell": None, "ename": "Recorded", "evalue": "not run"})
            on_result(result)
            results.append(result)
        return results

    def close(self):
        pass


NOTEBOOK_LIMIT = 11  # seconds per cell, set in the copied notebooks' metadata


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    """Section 12 and the ally brief, each with its own cell time limit in its metadata; the pool recorded."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for source in (next(paths.NOTEBOOKS.glob("12_*.ipynb")), paths.ally_brief_notebook()):
        nb = json.loads(source.read_text(encoding="utf-8"))
        nb["metadata"]["natoua"] = {"cell_timeout": NOTEBOOK_LIMIT}
        (folder / source.name).write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.setattr(paths, "NOTEBOOKS", folder)
    monkeypatch.setattr(pool, "Pool", RecordingPool)
    RecordingPool.jobs = []
    return folder


def _published_edition(reports, as_of: str, currency: str) -> None:
    """An (empty) published edition of `as_of` in `currency`, which briefs are added to."""
    key = publish.edition_key(as_of, currency)
    name = f"{key}--20260101T000000000000-1"
    (reports / "_editions" / name).mkdir(parents=True)
    os.symlink(f"_editions/{name}", reports / key)


@pytest.mark.parametrize("cell_timeout", [None, 5])
def test_build_preview_and_briefs_run_a_notebook_with_the_same_parameters_and_limits(notebooks, tmp_path, cell_timeout):
    as_of, reports = "2025-06-30", tmp_path / "reports"
    given = {"12": {"seed": 7, "report_years": [2031]}}

    with pytest.raises(BuildError) as failed:
        build.build(build.Options(as_of=as_of, currency="USD", sections=["12"], params=given, out=reports,
                                  cell_timeout=cell_timeout, pdf=False, quiet=True))
    assert failed.value.code == EXIT_FAILED and "12" in str(failed.value)

    engine = Engine(RunOptions(as_of=as_of, currency="USD", sections=["12"], params=given, out=reports,
                               cell_timeout=cell_timeout), notebooks=notebooks)
    try:
        assert engine.refresh().failed == ["12"]
    finally:
        engine.close()

    _published_edition(reports, as_of, "USD")
    args = argparse.Namespace(as_of=as_of, currency="usd", allies="POL", jobs=1, cell_timeout=cell_timeout,
                              force=False, out=reports, pdf=False)
    with pytest.raises(BuildError, match="1 brief"):
        briefs.run_briefs(args)

    by_build, by_preview, by_briefs = RecordingPool.jobs
    expected = {"as_of": as_of, "currency": "USD", "seed": 7, "report_years": [2031]}
    assert by_build.parameters == by_preview.parameters == expected
    assert by_briefs.parameters == {"ally": "POL", "as_of": as_of, "currency": "USD"}
    limit = cell_timeout or NOTEBOOK_LIMIT
    assert by_build.timeout == by_preview.timeout == by_briefs.timeout == limit


def test_a_parameter_outside_its_rule_is_refused_alike_by_build_and_preview(notebooks, tmp_path):
    from natoua.runner import check

    bad = {"12": {"report_years": [2035, 2030]}}
    for command in (build.Options(as_of="2025-06-30", sections=["12"], params=bad, out=tmp_path),
                    RunOptions(as_of="2025-06-30", sections=["12"], params=bad, out=tmp_path)):
        with pytest.raises(BuildError, match=r"-p 12.report_years=\[2035, 2030\]: .* must be in increasing order"):
            check(command)
    assert not RecordingPool.jobs
