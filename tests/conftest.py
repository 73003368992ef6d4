"""Shared fixtures. Nothing here (or in any test) reads ../shared: a fresh clone has no such folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from natoua import paths

BAD_CASES = Path(__file__).parent / "fixtures" / "bad"


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the real data package, used by the loader via NATOUA_DATA_DIR."""
    target = tmp_path / "data"
    shutil.copytree(paths.ROOT / "data", target)
    monkeypatch.setenv("NATOUA_DATA_DIR", str(target))
    return target


def bad_cases() -> list[str]:
    return sorted(p.name for p in BAD_CASES.iterdir() if p.is_dir())


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
