"""Shared fixtures. Nothing here (or in any test) reads ../shared: a fresh clone has no such folder.

Two kinds of test (see the `full` marker in pyproject.toml): `make test-quick` runs the unit tests, a sample of
the malformed-input corpus and the tests that read the one shared edition; `make test` runs everything.
The default edition is built once per session (`default_edition`) and only read; tests that build further
start from its section cache where executing again would prove nothing (`seeded_reports`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from natoua import paths

import shared_edition
from shared_edition import KEEP_CACHE_ENV, seeded_reports  # noqa: F401 (the tests import them from here)

BAD_CASES = Path(__file__).parent / "fixtures" / "bad"
NATOUA = [sys.executable, "-m", "natoua.cli"]
# The malformed-input cases `make test-quick` runs, one of each kind of defect: a file that is not what it
# claims (JSON, encoding), a missing file, a schema rule, a project rule on text, on numbers and across
# tables, a hostile cell, and odd but valid input. `make test` runs every case.
QUICK_CASES = ("datapackage_not_json", "latin1_bytes", "missing_file", "enum_violation", "formula_equals",
               "nan_number", "accession_dates_disagree", "ansi_escape_cell", "crlf_line_ends")


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the real data package, used by the loader via NATOUA_DATA_DIR."""
    target = tmp_path / "data"
    shutil.copytree(paths.ROOT / "data", target)
    monkeypatch.setenv("NATOUA_DATA_DIR", str(target))
    return target


def bad_cases() -> list[str]:
    return sorted(p.name for p in BAD_CASES.iterdir() if p.is_dir())


def bad_case_params() -> list:
    """Every case, those outside QUICK_CASES marked `full`."""
    return [pytest.param(c, marks=() if c in QUICK_CASES else pytest.mark.full) for c in bad_cases()]


def apply_case(case: str, tmp_path: Path) -> Path:
    """The data folder for a malformed-input case: the case laid over a copy of data/ (or, when the case
    holds its own datapackage.json, the case alone as a small package)."""
    source = BAD_CASES / case
    target = tmp_path / case / "data"
    if (source / "datapackage.json").exists():
        target.mkdir(parents=True)
    else:
        shutil.copytree(paths.ROOT / "data", target)
    for item in source.iterdir():
        if item.name in ("expected.txt", "delete.txt"):
            continue
        shutil.copyfile(item, target / item.name)
    delete = source / "delete.txt"
    if delete.exists():
        for name in delete.read_text().split():
            (target / name).unlink()
    return target


def expected_lines(case: str) -> list[str]:
    return [l for l in (BAD_CASES / case / "expected.txt").read_text(encoding="utf-8").splitlines() if l.strip()]


def cli_env(data_dir: Path | None = None) -> dict:
    env = dict(os.environ)
    if data_dir is not None:
        env["NATOUA_DATA_DIR"] = str(data_dir)
    return env


def natoua(*args, data_dir: Path | None = None, env: dict | None = None, check: bool = False,
           timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the `natoua` command as an operator does (a separate process), from the repository root."""
    proc = subprocess.run(NATOUA + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env={**cli_env(data_dir), **(env or {})}, cwd=paths.ROOT)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run_folder(tmp_path_factory) -> Path:
    """The temporary folder of this test run, shared by its pytest-xdist workers (each worker's own basetemp is
    inside it); without xdist, the session's basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def default_edition(tmp_path_factory) -> Path:
    """A reports folder holding the default edition (every section, HTML and PDF), built once per test run
    with two workers, in a process of its own started as soon as a test process has collected a test that
    needs it (shared_edition.py); every test process reads the same folder. Read it; do not build into it (a
    build there finds it up to date and writes nothing)."""
    try:
        return shared_edition.wait(run_folder(tmp_path_factory))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _reads_the_shared_edition(item) -> bool:
    return "default_edition" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after `-m` has deselected
def pytest_collection_modifyitems(session, config, items):
    """Tests that read the shared edition run after the others (the builds among them first), and its build
    starts now, in the background: the other tests run while it builds."""
    readers = [i for i in items if _reads_the_shared_edition(i)]
    if not readers:
        return
    others = [i for i in items if not _reads_the_shared_edition(i)]
    items[:] = others + [i for i in readers if i.get_closest_marker("full")] + \
        [i for i in readers if not i.get_closest_marker("full")]
    if not config.option.collectonly:
        shared_edition.start(run_folder(config._tmp_path_factory))


def pytest_sessionfinish(session):
    shared_edition.finish()


@pytest.fixture(scope="session")
def default_edition_pdf_text(default_edition, tmp_path_factory) -> tuple[list[str], list[list[tuple]]]:
    """The default edition's PDF as pypdf reads it, read once per test run (the 70-odd pages take pypdf about
    9 s of CPU) and kept beside the edition for every worker: per page its text, and the (text, cm, tm, size) of
    each piece of text pypdf met in the same pass (where the text sits, and its font size)."""
    root = run_folder(tmp_path_factory)
    stored = root / "default-edition-pdf-text.json"
    with FileLock(str(root / "default-edition-pdf-text.lock")):
        if not stored.exists():
            from pypdf import PdfReader

            (pdf,) = (default_edition / "latest").glob("nato-ukraine-relations-*.pdf")
            pages = []
            for page in PdfReader(pdf).pages:
                placed = []
                text = page.extract_text(visitor_text=lambda text, cm, tm, font, size:
                                         placed.append([text, [float(v) for v in cm], [float(v) for v in tm],
                                                                      float(size)]))
                pages.append([text or "", placed])
            partial = stored.with_suffix(".tmp")
            partial.write_text(json.dumps(pages), encoding="utf-8")
            partial.replace(stored)
    pages = json.loads(stored.read_text(encoding="utf-8"))
    return ([text for text, _ in pages],
            [[(text, tuple(cm), tuple(tm), size) for text, cm, tm, size in placed] for _, placed in pages])


def tree_state(root: Path) -> dict:
    """Every published file's bytes (hashed) and every link's target, under reports/ (caches excluded)."""
    state = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.startswith((".cache", ".build.lock", "_failed")) or "/.tmp-" in rel or rel.startswith(".link-"):
            continue  # caches, failure reports and unpublished staging folders are not the published edition
        if p.is_symlink():
            state[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            state[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return state
