"""The section cache: keys, invalidation by what a notebook actually read, corrupted entries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from natoua import cache, data, paths

from conftest import natoua

NOTEBOOK = paths.NOTEBOOKS / "11_summit_decisions.ipynb"


def _write(path: Path, nb) -> Path:
    nbformat.write(nb, str(path))
    return path


def test_notebook_digest_ignores_outputs_but_not_code(tmp_path):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    base = cache.notebook_digest(_write(tmp_path / "a.ipynb", nb))
    code = next(c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []))
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x")]
    code.execution_count = 7
    code.metadata["collapsed"] = True
    assert cache.notebook_digest(_write(tmp_path / "b.ipynb", nb)) == base
    code.source += "\n# changed"
    assert cache.notebook_digest(_write(tmp_path / "c.ipynb", nb)) != base


def test_section_key_depends_on_parameters_and_package_source(monkeypatch):
    key = cache.section_key(NOTEBOOK, {"as_of": "2026-03-31"})
    assert cache.section_key(NOTEBOOK, {"as_of": "2026-03-31"}) == key
    assert cache.section_key(NOTEBOOK, {"as_of": "2024-12-31"}) != key
    monkeypatch.setattr(cache, "package_digest", lambda: "edited-lib")
    assert cache.section_key(NOTEBOOK, {"as_of": "2026-03-31"}) != key


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the natoua package that package_digest reads instead of the real one."""
    import shutil

    copy = tmp_path / "natoua"
    shutil.copytree(paths.PACKAGE_SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(paths, "PACKAGE_SOURCE", copy)
    cache.package_digest.cache_clear()
    yield copy
    cache.package_digest.cache_clear()


def _digest_after(edit) -> str:
    edit()
    cache.package_digest.cache_clear()
    return cache.package_digest()


@pytest.mark.parametrize("changed", ["data.py", "templates/natoua/index.html.j2", "templates/natoua/report.css",
                                     "templates/natoua/report.typ", "templates/natoua/fonts/NotoSerif-Regular.ttf"])
def test_package_digest_changes_with_every_file_that_shapes_the_report(package_copy, changed):
    """Code, HTML template, stylesheet, Typst template and fonts all make the report: an edit to any of them
    must change the digest (so no cached section or edition survives it)."""
    before = cache.package_digest()
    path = package_copy / changed
    assert path.is_file(), changed
    assert _digest_after(lambda: path.write_bytes(path.read_bytes() + b"\n")) != before


def test_package_digest_ignores_compiled_caches_and_is_stable(package_copy):
    before = cache.package_digest()
    assert cache.package_digest() == before
    pycache = package_copy / "__pycache__"
    pycache.mkdir()
    assert _digest_after(lambda: (pycache / "data.cpython-311.pyc").write_bytes(b"compiled")) == before


def test_entry_is_used_until_a_dataset_it_read_changes(data_copy, tmp_path):
    store = cache.SectionCache(tmp_path / "cache")
    reads = {"summits": data.dataset_digest("summits")}
    store.store("11", "k", b'{"cells": []}', reads, 1.5)
    assert store.lookup("11", "k").reads == reads
    (data_copy / "territory.csv").write_text((data_copy / "territory.csv").read_text() + "\n")  # not read
    assert store.lookup("11", "k") is not None
    text = (data_copy / "summits.csv").read_text()
    (data_copy / "summits.csv").write_text(text.replace("Bucharest Summit", "Bucharest summit", 1))
    assert store.lookup("11", "k") is None


@pytest.mark.parametrize("damage", ["truncate", "garbage_meta", "missing_notebook"])
def test_corrupted_or_partial_entry_is_never_used(damage, tmp_path):
    store = cache.SectionCache(tmp_path / "cache")
    nb_path = store.store("11", "k", b'{"cells": [], "metadata": {}}', {}, 1.0)
    meta = nb_path.with_suffix(".json")
    if damage == "truncate":
        nb_path.write_bytes(nb_path.read_bytes()[:10])
    elif damage == "garbage_meta":
        meta.write_text("{not json")
    else:
        nb_path.unlink()
    assert store.lookup("11", "k") is None
    assert not meta.exists(), "a broken entry is discarded so it is rebuilt"


def without_changes_page(html: str) -> str:
    """The report minus its 'What changed' page, which compares with whichever edition came before."""
    import re

    return re.sub(r'<section class="report-section" id="sec-changes">.*?</section>', "", html, flags=re.S)


@pytest.mark.full
def test_changed_dataset_reexecutes_only_its_readers_and_cached_equals_uncached(data_copy, tmp_path):
    out = tmp_path / "reports"
    first = natoua("build", "--sections", "07,11", "--no-pdf", "--out", str(out), data_dir=data_copy)
    assert first.returncode == 0, first.stdout + first.stderr
    reads = {s["section"]: set(s["datasets"]) for s in json.loads((out / "partial" / "latest" / "manifest.json").read_text())["sections"]}
    assert "nato_targets" in reads["07"] and "nato_targets" not in reads["11"]
    html_uncached = next((out / "partial" / "latest").glob("*.html")).read_bytes()

    # A cached build into a fresh folder gives the same bytes as the uncached one.
    other = tmp_path / "other"
    (other / ".cache").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(out / ".cache" / "sections"), str(other / ".cache")], check=True)
    cached = natoua("build", "--sections", "07,11", "--no-pdf", "--out", str(other), data_dir=data_copy)
    assert cached.stdout.count("cached") == 2, cached.stdout
    assert next((other / "partial" / "latest").glob("*.html")).read_bytes() == html_uncached

    # Touch a dataset only section 07 reads: 07 re-executes, 11 comes from the cache.
    targets = data_copy / "nato_targets.csv"
    targets.write_text(targets.read_text().replace("Defence Investment Pledge", "Defence investment pledge", 1))
    second = natoua("build", "--sections", "07,11", "--no-pdf", "--out", str(out), data_dir=data_copy)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = {l.split()[0]: l for l in second.stdout.splitlines() if l.startswith("  ")}
    assert " ok " in lines["07"] and "cached" in lines["11"], second.stdout

    # A truncated cache entry is detected and that section rebuilt, with the same result.
    html_before = next((out / "partial" / "latest").glob("*.html")).read_bytes()
    for entry in (out / ".cache" / "sections" / "11").glob("*.ipynb"):
        entry.write_bytes(entry.read_bytes()[:100])
    third = natoua("build", "--sections", "07,11", "--no-pdf", "--out", str(out), data_dir=data_copy)
    assert third.returncode == 0, third.stdout + third.stderr
    lines = {l.split()[0]: l for l in third.stdout.splitlines() if l.startswith("  ")}
    assert "cached" in lines["07"] and " ok " in lines["11"], third.stdout
    assert without_changes_page(next((out / "partial" / "latest").glob("*.html")).read_text()) == without_changes_page(html_before.decode())
