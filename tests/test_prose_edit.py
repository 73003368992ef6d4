"""A notebook whose prose alone changed is not run again: its last run's outputs take the new text.

A build's kernel never reads Markdown (placeholders are filled in at export), so the outputs of a run depend
on the code cells, the parameters, the package and the data only (`cache.code_key`). The proof that reusing
them is safe is the last test: the reworded notebook is byte for byte what executing the edited notebook gives.
"""

from __future__ import annotations

import json
import shutil

import pytest

from natoua import cache, paths


def _nb(cells: list[tuple[str, str, str]], **extra) -> bytes:
    """A notebook from (type, id, source) triples, as bytes."""
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, **extra}
    for kind, cid, src in cells:
        cell = {"cell_type": kind, "id": cid, "metadata": {}, "source": src}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        nb["cells"].append(cell)
    return json.dumps(nb).encode()


SOURCE = [("markdown", "a", "# Title\n\nBy 2024, {{ n }} allies."), ("code", "b", "n = 23"),
          ("markdown", "c", "More prose.")]


def test_the_code_key_ignores_prose_but_not_code_tags_or_cell_order():
    base = cache.code_digest(_nb(SOURCE))
    prose = [SOURCE[0], SOURCE[1], ("markdown", "c", "Other prose, {{ n }} again.")]
    assert cache.code_digest(_nb(prose)) == base
    assert cache.notebook_digest(_nb(prose)) != cache.notebook_digest(_nb(SOURCE)), "the full key still sees it"
    code = [SOURCE[0], ("code", "b", "n = 24"), SOURCE[2]]
    assert cache.code_digest(_nb(code)) != base
    added = SOURCE + [("markdown", "d", "A new cell.")]
    assert cache.code_digest(_nb(added)) != base, "a new cell is a new notebook, not an edit"
    swapped = [SOURCE[2], SOURCE[1], SOURCE[0]]
    assert cache.code_digest(_nb(swapped)) != base
    tagged = json.loads(_nb(SOURCE))
    tagged["cells"][2]["metadata"]["tags"] = ["remove-cell"]
    assert cache.code_digest(json.dumps(tagged).encode()) != base


def test_reworded_replaces_only_markdown_text_and_refuses_what_does_not_line_up():
    executed = json.loads(_nb(SOURCE))
    executed["cells"].insert(1, {"cell_type": "code", "id": "p", "source": "as_of = '2026-03-31'", "outputs": [],
                                 "execution_count": 1, "metadata": {"tags": ["injected-parameters"]}})
    executed["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["23\n"]}]
    executed["cells"][3]["metadata"]["papermill"] = {"status": "completed"}
    done = json.dumps(executed).encode()
    edited = [SOURCE[0], SOURCE[1], ("markdown", "c", "New prose.\nTwo lines.")]
    out = json.loads(cache.reworded(done, _nb(edited)))
    assert out["cells"][3]["source"] == ["New prose.\n", "Two lines."]
    assert out["cells"][3]["metadata"] == {"papermill": {"status": "completed"}}, "the run's metadata stays"
    assert out["cells"][1] == executed["cells"][1] and out["cells"][2] == executed["cells"][2]
    assert cache.reworded(done, _nb(SOURCE + [("markdown", "d", "x")])) is None
    assert cache.reworded(done, _nb([SOURCE[0], ("code", "z", "n = 23"), SOURCE[2]])) is None
    assert cache.reworded(b"{not json", _nb(SOURCE)) is None


def test_a_tampered_code_pointer_names_no_other_file(tmp_path):
    store = cache.SectionCache(tmp_path)
    (tmp_path / "11").mkdir()
    (tmp_path / "11" / "code-abc.json").write_text(json.dumps({"key": "../../etc/passwd"}))
    assert store.lookup_code("11", "abc") is None
    (tmp_path / "11" / "code-def.json").write_text("{")
    assert store.lookup_code("11", "def") is None


@pytest.mark.full
def test_a_prose_edit_gives_the_bytes_a_new_execution_would(tmp_path):
    from natoua.plan import load_section
    from natoua.runner import RunOptions, Runner

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    src = next(paths.NOTEBOOKS.glob("11_*.ipynb"))
    path = notebooks / src.name
    shutil.copyfile(src, path)
    reports = tmp_path / "reports"

    def run(force: bool = False):
        with Runner(RunOptions(as_of="2026-03-31", out=reports, force=force)) as runner:
            return runner.run([runner.task(load_section("11", path))])

    first = run()
    assert first.outcomes["11"].status == "executed", first.outcomes["11"].error

    nb = json.loads(path.read_text(encoding="utf-8"))
    prose = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    prose[-1]["source"] = "".join(prose[-1]["source"]) + "\n\nA sentence an editor added, {{ dec_summit_count }} summits."
    prose[0]["source"] = "# NATO summit key decisions, edited\n"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    edited = run()
    outcome = edited.outcomes["11"]
    assert outcome.status == "reworded" and outcome.result is None, "nothing should have run"
    assert not edited.to_run
    reworded = outcome.notebook.read_bytes()
    assert b"A sentence an editor added" in reworded

    forced = run(force=True)
    assert forced.outcomes["11"].status == "executed"
    assert forced.outcomes["11"].notebook.read_bytes() == reworded, "rewording must equal executing"
