"""Editing in JupyterLab: the prose shows its numbers, captions read cleanly, `make lab` starts as root.

A kernel that JupyterLab starts for a notebook has JPY_SESSION_NAME set to the notebook's path; these
tests execute real notebooks the same way (nbclient, that variable set) and read what the saved notebook
then holds, which is what Lab shows.
"""

from __future__ import annotations

import os
import re
import subprocess

import nbformat
import pytest
from nbclient import NotebookClient

from natoua import claims, export, labview, paths, safety

PROSE = labview.MIME


@pytest.fixture(scope="module")
def run_as_lab():
    """Execute a notebook as JupyterLab's kernel would (once per notebook for the module): (source, executed)."""
    runs = {}

    def run(sid: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
        if sid not in runs:
            path = next(paths.NOTEBOOKS.glob(f"{sid}_*.ipynb"))
            source = nbformat.read(str(path), as_version=4)
            executed = nbformat.read(str(path), as_version=4)
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("JPY_SESSION_NAME", str(path))
                NotebookClient(executed, kernel_name="python3", timeout=600,
                               resources={"metadata": {"path": str(paths.NOTEBOOKS)}}).execute()
            runs[sid] = source, executed
        return runs[sid]

    return run


@pytest.mark.full
@pytest.mark.parametrize("sid", ["02", "07", "11"])  # 02's title names claims made further down
def test_an_executed_notebook_shows_every_placeholder_with_its_value(run_as_lab, sid):
    source, executed = run_as_lab(sid)
    ledger = claims.collect(executed)
    shown: dict[int, list[str]] = {}
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            if PROSE in out.get("data", {}):
                shown.setdefault(out["data"][PROSE]["cell"], []).append(out["data"]["text/plain"])
    with_names = [i for i, c in enumerate(source.cells)
                  if c.cell_type == "markdown" and claims.PLACEHOLDER.search(c.source)]
    assert with_names
    for index in with_names:
        assert index in shown, f"markdown cell {index} of {sid} is never shown with its values"
        text = shown[index][0]
        assert "{{" not in text
        assert text == claims.substitute(source.cells[index].source, ledger)  # exactly what the export prints
        for name in claims.PLACEHOLDER.findall(source.cells[index].source):
            value = ledger[name]["text"]
            if re.fullmatch(r"[0-9.,%]+", value):  # the Markdown carries the value escaped (2\% renders as 2%)
                assert safety.escape_markdown(value) in text, name
        # the same words as the prose, placeholders aside
        words = [w for w in re.split(r"\{\{[^}]*\}\}", source.cells[index].source) if w.strip()]
        assert all(w.strip()[:20] in text for w in words), index
    for index in shown:  # each cell once, under one code cell
        assert len(shown[index]) == 1, f"cell {index} shown {len(shown[index])} times"


@pytest.mark.full
def test_prose_outputs_stay_out_of_the_report(run_as_lab):
    _, executed = run_as_lab("11")
    prose = [o for c in executed.cells for o in c.get("outputs", []) if PROSE in o.get("data", {})]
    assert prose and not any(export._is_report_output(o) for o in prose)
    html_lab, _ = export.ReportHTMLExporter().from_notebook_node(executed)
    assert "as the report prints it" not in html_lab


def test_outside_jupyter_nothing_is_installed(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert labview.install() is False


def test_captions_in_lab_show_no_bare_label_and_a_space_before_the_source(monkeypatch, tmp_path):
    import pandas as pd

    from natoua import charts, tables

    def figure():
        return charts.Figure(b"png", title="T", caption="Allies at 2% (Iceland not included).",
                             source="Source: NATO.", alt="a").html()

    def table():
        return tables.Table(pd.DataFrame({"a": [1]}), caption="Summits", source="Source: NATO.").html()

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)  # the build: the export numbers the label
    assert '<figcaption><span class="figure-number">Figure</span> Allies' in figure()
    assert '<caption><span class="table-number">Table</span> Summits</caption>' in table()

    monkeypatch.setenv("JPY_SESSION_NAME", "/somewhere/07_defence_spending.ipynb")
    lab_figure, lab_table = figure(), table()
    assert "figure-number" not in lab_figure and "table-number" not in lab_table
    text = re.sub(r"<[^>]+>", "", lab_figure[lab_figure.index("<figcaption>"):])
    assert text == "Allies at 2% (Iceland not included). Source: NATO."
    assert "<caption>Summits</caption>" in lab_table

    monkeypatch.setenv("NATOUA_RUN_LOG", str(tmp_path / "reads.jsonl"))  # a build started from a notebook: export as usual
    assert '<span class="figure-number">Figure</span>' in figure() and labview.install() is False


def test_make_lab_adds_allow_root_only_for_root():
    proc = subprocess.run(["make", "-n", "lab"], cwd=paths.ROOT, capture_output=True, text=True, check=True)
    line = next(l for l in proc.stdout.splitlines() if "jupyter lab" in l)
    assert ("--allow-root" in line) == (os.geteuid() == 0)
    assert "--notebook-dir=notebooks" in line
