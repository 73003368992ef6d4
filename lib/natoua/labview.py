"""What JupyterLab shows while an analyst runs a notebook: the prose with its numbers.

Markdown cells keep their `{{ name }}` placeholders (the export substitutes them, and stock JupyterLab
renders Markdown as written, so the prose itself shows the placeholders). After each code cell runs, this
module displays under it the Markdown that follows, with every placeholder replaced by its value: the
exact text the report prints (the same `claims.substitute`). A Markdown cell whose names are only known
later (a section title naming a computed year) is shown under the cell that makes its last claim.

It reads the notebook as last saved (Lab saves before running by default; unsaved prose edits show at the
next save) and finds the running cell by Lab's cell id, or else by its source. Active only in a kernel a
Jupyter server started for a notebook (`JPY_SESSION_NAME`); the build's kernels show nothing extra. The
outputs carry no report MIME type, so the export leaves them out: the report is unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MIME = "application/vnd.natoua.prose+json"
_before: dict[str, int] = {}  # claims before the running cell (name -> identity), to see what it made


def in_lab() -> bool:
    """True in a kernel a Jupyter server started for a notebook. Never in the build's kernels, even when
    the build was started from a notebook (`!natoua build` passes JPY_SESSION_NAME on): those record
    their reads in NATOUA_RUN_LOG."""
    if not os.environ.get("JPY_SESSION_NAME"):
        return False
    from .data import RUN_LOG_ENV

    return not os.environ.get(RUN_LOG_ENV)


def caption_label(kind: str) -> str:
    """A figure's or table's caption label, numbered at export ("Figure 7.2", "Table 11.1"); JupyterLab has
    no number, so it shows none."""
    return "" if in_lab() else f'<span class="{kind.lower()}-number">{kind}</span> '


def install(ip=None) -> bool:
    """Register the hooks in this IPython kernel when it belongs to a notebook opened in Jupyter."""
    if not in_lab():
        return False
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ip = get_ipython()
    if ip is None or getattr(ip, "_natoua_prose", False):
        return False
    ip.events.register("pre_run_cell", _pre_run_cell)
    ip.events.register("post_run_cell", _post_run_cell)
    ip._natoua_prose = True
    return True


def _pre_run_cell(info) -> None:
    from . import claims

    _before.clear()
    _before.update({name: id(c) for name, c in claims.LEDGER.items()})


def _post_run_cell(result) -> None:
    from . import claims

    try:
        if result.error_before_exec or result.error_in_exec:
            return
        info = result.info
        raw = getattr(info, "raw_cell", "") or ""
        cell_id = getattr(info, "cell_id", None) or _lab_cell_id()
        made = {n for n, c in claims.LEDGER.items() if _before.get(n) != id(c)}
        for index, text, where in rendered_prose(_notebook_path(), raw, cell_id, made):
            _show(index, text, where)
    except Exception:  # a preview aid must never break the analyst's notebook
        return


def _lab_cell_id() -> str | None:
    """JupyterLab sends the running cell's id in the execute request's metadata."""
    try:
        from IPython import get_ipython

        parent = get_ipython().kernel.get_parent("shell")
        return (parent.get("metadata") or {}).get("cellId")
    except Exception:
        return None


def _notebook_path() -> Path | None:
    name = os.environ.get("JPY_SESSION_NAME", "")
    for candidate in (Path(name), Path.cwd() / name, Path.cwd() / Path(name).name):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate
    return None


def rendered_prose(path: Path | None, raw_cell: str, cell_id: str | None,
                   made: set[str]) -> list[tuple[int, str, str]]:
    """(index, text, "above" or "below") of each Markdown cell to show under the code cell that just ran.

    A cell is shown under the nearest code cell above it once all its names are known, or, if they are
    not known there, under the cell that makes the last of them.
    """
    from . import claims

    if path is None:
        return []
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    sources = ["".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "") for c in cells]
    running = _find_cell(cells, sources, raw_cell, cell_id)
    if running is None:
        return []
    ledger = {n: c.to_json() for n, c in claims.LEDGER.items()}
    out, above = [], -1
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            above = index
            continue
        if cell.get("cell_type") != "markdown":
            continue
        names = set(claims.PLACEHOLDER.findall(sources[index]))
        if not names or not names <= ledger.keys() or above > running:
            continue
        if above == running or (names & made):
            text = claims.substitute(sources[index], ledger, f"cell {index}")
            out.append((index, text, "below" if index > running else "above"))
    return out


def _find_cell(cells: list, sources: list[str], raw_cell: str, cell_id: str | None) -> int | None:
    if cell_id:
        for index, cell in enumerate(cells):
            if cell.get("id") == cell_id and cell.get("cell_type") == "code":
                return index
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and sources[index].strip() == raw_cell.strip() and raw_cell.strip():
            return index
    return None


def _show(index: int, text: str, where: str) -> None:
    from IPython.display import display

    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
    bundle = {
        "text/markdown": f"> *The Markdown {where}, as the report prints it:*\n>\n{quoted}",
        "text/plain": text,
        MIME: {"cell": index},
    }
    display(bundle, raw=True)
