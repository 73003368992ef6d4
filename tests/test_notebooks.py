"""Committed notebooks are clean, parameterised the same way, and type no numbers into prose."""

from __future__ import annotations

import json
import re

import pytest

from natoua import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))
SECTIONS = paths.section_notebooks()

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
PROSE_DATE = re.compile(rf"\b\d{{1,2}}(–\d{{1,2}})?\s+({MONTHS})\s+(1[89]\d{{2}}|20\d{{2}})\b")
YEAR_OR_DATE = re.compile(r"\b(1[89]\d{2}|20\d{2})(-\d{2}(-\d{2})?)?\b")
SECTION_REF = re.compile(r"(?i)\b(section|sections|§)\s*\d+(\s*(,|and|to|–|-)\s*\d+)*")
PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
CODE_SPAN = re.compile(r"`[^`]*`")


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_sections_are_numbered_without_gaps_and_nothing_else_lies_in_notebooks():
    """Sections 01, 02, ... then appendices A1, A2, ... (the report's numbering comes from the file names), each
    opening with its title; the only other notebook is the ally brief."""
    ids = [p.name.split("_", 1)[0] for p in SECTIONS]
    numbered = [i for i in ids if i.isdigit()]
    appendices = [i for i in ids if i.startswith("A")]
    assert numbered == [f"{n:02d}" for n in range(1, len(numbered) + 1)] and len(numbered) >= 10, ids
    assert appendices == [f"A{n}" for n in range(1, len(appendices) + 1)], ids
    assert set(NOTEBOOKS) == set(SECTIONS) | {paths.ally_brief_notebook()}
    for path in SECTIONS:
        first = next(c for c in _load(path)["cells"] if c["cell_type"] == "markdown")
        assert _source(first).startswith("# "), f"{path.name} does not open with its title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_in_the_layout_lab_and_make_strip_write(path):
    """nbformat's own layout (what JupyterLab saves and `make strip` writes), so an analyst's save or strip
    changes only the lines they edited, not the whole file."""
    import nbformat

    text = path.read_text(encoding="utf-8")
    assert text == nbformat.writes(nbformat.reads(text, as_version=4)) + "\n", (
        f"{path.name} is not in nbformat's layout: run `make strip` and commit the result")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_commented_literals(path):
    import papermill as pm

    cells = [c for c in _load(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path.name} must have exactly one cell tagged 'parameters'"
    inferred = pm.inspect_notebook(str(path))
    assert "as_of" in inferred, f"{path.name} must declare the common parameter as_of"
    for name, info in inferred.items():
        assert info["help"].strip(), f"{path.name}: parameter {name} needs a comment saying what it is"
        assert info["default"] not in (None, ""), f"{path.name}: parameter {name} needs a literal default"
    import ast

    for node in ast.parse(_source(cells[0])).body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), f"{path.name}: only assignments in the parameters cell"
        ast.literal_eval(node.value)  # raises if a default is not a literal


def hand_typed_numbers(markdown: str) -> list[str]:
    text = PLACEHOLDER.sub(" ", markdown)
    text = CODE_SPAN.sub(" ", text)
    text = SECTION_REF.sub(" ", text)
    text = PROSE_DATE.sub(" ", text)
    text = YEAR_OR_DATE.sub(" ", text)
    return re.findall(r"\S*\d\S*", text)


def test_digit_scanner_itself():
    assert hand_typed_numbers("In 2024, {{ allies_at_2pct_2024 }} allies; see section 7.") == []
    assert hand_typed_numbers("Signed on 2024-06-13 by 28 partners") == ["28"]
    assert hand_typed_numbers("about 3.5% of GDP") == ["3.5%"]
    assert hand_typed_numbers("sworn in on 20 January 2025, in July 2024") == []
    assert hand_typed_numbers("20 allies in January") == ["20"]


def _cells(path, kind: str) -> list[tuple[int, str]]:
    """(index, source) of the notebook's cells of one type."""
    return [(i, _source(c)) for i, c in enumerate(_load(path)["cells"]) if c["cell_type"] == kind]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_hand_typed_numbers_in_prose(path):
    found = [f"cell {i}: {tok}" for i, text in _cells(path, "markdown") for tok in hand_typed_numbers(text)]
    assert not found, f"{path.name}: numbers typed into Markdown (use a claim): {found}"


def _unattached_expects(code: str) -> list[int]:
    """Line numbers of claims.expect(...) calls that are not the `check=` of a claims.claim(...) call:
    such a check is built and then ignored, so it can never fail."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    attached = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "check":
                    attached |= {id(n) for n in ast.walk(kw.value)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "expect"
                and id(node) not in attached):
            found.append(node.lineno)
    return found


def test_unattached_expect_detector_itself():
    assert _unattached_expects("claims.claim('a', 1, unit='x', datasets=['d'], check=claims.expect(True, 't'))") == []
    assert _unattached_expects("claims.expect(x > 1, 'ignored')") == [1]
    assert _unattached_expects("c = claims.expect(x > 1, 't')\nclaims.claim('a', 1, unit='x', datasets=['d'], check=c)") == [1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_check_is_attached_to_a_claim(path):
    bad = [f"cell {i} line {n}" for i, code in _cells(path, "code") for n in _unattached_expects(code)]
    assert not bad, f"{path.name}: claims.expect(...) outside check= does nothing (use claims.require): {bad}"
