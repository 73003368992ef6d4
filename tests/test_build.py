"""End to end: the real notebooks on the real data, built through the `natoua` command.

The default edition is built once for the module (cold cache, with PDF) and the
tests read it. Further builds reuse that reports folder and its cache.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest

from natoua import paths

from conftest import cli_env
from test_export import external_references

pytestmark = pytest.mark.slow
NATOUA = [sys.executable, "-m", "natoua.cli"]


def natoua(*args, data_dir=None, check=False, timeout=900) -> subprocess.CompletedProcess:
    proc = subprocess.run(NATOUA + list(args), capture_output=True, text=True, env=cli_env(data_dir), timeout=timeout,
                          cwd=paths.ROOT)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    natoua("build", "--out", str(out), check=True)
    return out


@pytest.fixture(scope="module")
def edition(reports) -> Path:
    return reports / "latest"


def _files(edition: Path, suffix: str) -> Path:
    found = list(edition.glob(f"nato-ukraine-relations-*{suffix}"))
    assert len(found) == 1, found
    return found[0]


def test_edition_layout(edition, reports):
    assert edition.is_symlink() and edition.resolve().parent.name == "_editions"
    names = {p.name for p in edition.iterdir()}
    for expected in ("nato-ukraine-relations-2026-03-31.html", "nato-ukraine-relations-2026-03-31.pdf",
                     "manifest.json", "claims.json", "build.log", "notebooks", "datasets.json"):
        assert expected in names
    assert len(list((edition / "notebooks").glob("*.ipynb"))) == len(paths.section_notebooks())


def test_html_has_every_section_title_and_nothing_external(edition):
    html = _files(edition, ".html").read_text(encoding="utf-8")
    manifest = json.loads((edition / "manifest.json").read_text())
    import html as htmlmod

    text = htmlmod.unescape(html)
    for section in manifest["sections"]:
        assert section["title"] in text, section["title"]
    assert external_references(html) == []
    assert "<script" not in html.lower()
    assert re.search(r'href="#sec-07"', html), "table of contents links to numbered sections"
    assert "Figure 7.1" in html and "Source:" in html


def test_pdf_has_contents_footers_and_key_figures(edition):
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(_files(edition, ".pdf").read_bytes()))
    n = len(reader.pages)
    texts = [p.extract_text() or "" for p in reader.pages]
    assert "Data as of 31 March 2026" in texts[0]
    assert "Contents" in texts[1]
    assert f"Page 2 of {n}" in texts[1] and f"Page {n} of {n}" in texts[-1]
    claims = json.loads((edition / "claims.json").read_text())
    everything = " ".join(" ".join(texts).split())
    numeric = sorted(n for n, c in claims.items() if isinstance(c["value"], (int, float)) and c["section"] in ("01", "07"))
    assert len(numeric) >= 10
    missing = [n for n in numeric if claims[n]["text"] not in everything]
    assert not missing, f"key figures not found in the PDF text: {missing}"


def test_every_claim_appears_in_the_built_text(edition):
    import html as htmlmod

    html = htmlmod.unescape(_files(edition, ".html").read_text(encoding="utf-8"))
    claims = json.loads((edition / "claims.json").read_text())
    assert len(claims) > 20
    missing = [n for n, c in claims.items() if c["text"] not in html]
    assert not missing, missing


def test_manifest_lists_inputs_versions_and_timings(edition):
    manifest = json.loads((edition / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-03-31"
    assert manifest["parameters"]["common"] == {"as_of": "2026-03-31", "currency": "EUR"}
    for name in ("data/countries.csv", "data/defence_expenditure.csv", "data/datapackage.json"):
        assert re.fullmatch(r"[0-9a-f]{64}", manifest["inputs"][name])
    assert manifest["versions"]["papermill"] and manifest["versions"]["weasyprint"]
    sec07 = next(s for s in manifest["sections"] if s["section"] == "07")
    assert "defence_expenditure" in sec07["datasets"] and sec07["seconds"] > 0


def test_nothing_changed_starts_no_kernel(reports):
    proc = natoua("build", "--out", str(reports), check=True)
    assert "up to date" in proc.stdout
    assert " ok " not in proc.stdout


def test_same_inputs_give_identical_html_and_pdf(reports, tmp_path):
    first = (reports / "latest").resolve()
    natoua("build", "--out", str(tmp_path), "--force", check=True)
    second = (tmp_path / "latest").resolve()
    for suffix in (".html", ".pdf"):
        assert _files(first, suffix).read_bytes() == _files(second, suffix).read_bytes(), suffix


def test_end_2024_edition_builds_every_section(tmp_path):
    proc = natoua("build", "--as-of", "2024-12-31", "--no-pdf", "--out", str(tmp_path), check=True)
    assert proc.stdout.count(" ok ") == len(paths.section_notebooks())
    html = _files(tmp_path / "2024-12-31", ".html").read_text(encoding="utf-8")
    assert "Data as of</dt><dd>31 December 2024" in html
