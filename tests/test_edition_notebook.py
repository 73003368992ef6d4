"""The edition's notebook is written as nbformat writes it (natoua.edition.write_notebook)."""

from __future__ import annotations

import copy

import nbformat

from natoua.edition import write_notebook


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1\nprint(x)")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<p>a\nb</p>", "image/png": "iVBOR\nw0"}),
                    nbformat.v4.new_output("stream", name="stdout", text="1\n2\n")]
    code.metadata["trusted"] = True  # transient: not written
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nKyiv – “quoted” €"), code,
                nbformat.v4.new_raw_cell("<div>\nraw</div>")]
    nb.metadata["natoua"] = {"title": "NATO–Ukraine", "claims": {"a": {"value": 1.5}}}
    nb.metadata["signature"] = "transient"
    return nb


def test_the_same_bytes_as_nbformat_write(tmp_path):
    nb = _notebook()
    nbformat.write(copy.deepcopy(nb), str(tmp_path / "a.ipynb"))
    write_notebook(nb, tmp_path / "b.ipynb")
    assert (tmp_path / "b.ipynb").read_bytes() == (tmp_path / "a.ipynb").read_bytes()
    assert nbformat.read(str(tmp_path / "b.ipynb"), as_version=4).cells[0].source.startswith("# Title\n")


def test_a_missing_or_repeated_cell_id_is_given_one_as_nbformat_does(tmp_path):
    nb = _notebook()
    nb.cells[2]["id"] = nb.cells[0]["id"]
    del nb.cells[1]["id"]
    write_notebook(nb, tmp_path / "b.ipynb")
    ids = [c["id"] for c in nbformat.read(str(tmp_path / "b.ipynb"), as_version=4).cells]
    assert len(set(ids)) == 3
