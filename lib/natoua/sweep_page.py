"""A sweep's folder: the tidy CSV, the metadata, and the page (a notebook of report outputs rendered to HTML
and PDF through the report's exporters), swapped into place whole."""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from . import grid
from .sweep_table import error_text, is_number, to_csv


def write_folder(folder: Path, reports: Path, section, axes, combos, outcomes, ledgers, table, moved, show, meta,
                 options) -> None:
    """Write everything into a staging folder beside `folder`, then swap it into place (a reader never sees
    half a sweep; an earlier sweep of the same grid is replaced whole). `options` are the sweep's SweepOptions."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(folder)
    staging = folder.parent / f".tmp-{folder.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        (staging / "sweep.csv").write_text(to_csv(table), encoding="utf-8")
        (staging / "sweep.json").write_text(json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False,
                                                       default=str) + "\n", encoding="utf-8")
        nb = page_notebook(section, axes, combos, outcomes, ledgers, moved, show, options)
        import nbformat

        nbformat.write(nb, str(staging / "sweep.ipynb"))
        render_page(staging / "sweep.ipynb", staging, f"What moves in section {section.section}: "
                    f"{section.title}", options.as_of, options.pdf)
        old = folder.parent / f".old-{folder.name}-{os.getpid()}"
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def clean_leftovers(folder: Path) -> None:
    """Remove the staging (and replaced) folders a killed sweep of the same grid left beside `folder`
    (`.tmp-<name>-<pid>`, `.old-<name>-<pid>`), unless that process is still running."""
    for path in folder.parent.glob(f".*-{folder.name}-*"):
        kind, _, pid = path.name.rpartition("-")
        if kind not in (f".tmp-{folder.name}", f".old-{folder.name}") or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running: its folder, not ours to remove
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


def render_page(notebook: Path, folder: Path, title: str, as_of: str, pdf: bool) -> None:
    """sweep.html and sweep.pdf through the report's exporters (the same as the ally briefs')."""
    from . import export

    if pdf:
        export.export_notebook(notebook, folder / "sweep.html", folder / "sweep.pdf", title, as_of)
        return
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["natoua"] = {"title": title, "as_of": as_of, "section": ""}
    page, _ = export.ReportHTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": "sweep"}})
    (folder / "sweep.html").write_text(page, encoding="utf-8")


def page_notebook(section, axes, combos, outcomes, ledgers, moved, show, options):
    """The page as a notebook of report outputs (markdown, paragraphs, tables, a figure)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from . import blocks, tables

    def output(obj):
        bundle = obj._repr_mimebundle_()
        return new_output("display_data", data=bundle, metadata={})

    def paragraph(text: str):
        return output(blocks.Block(f'<p class="generated">{html.escape(text)}</p>', "paragraph"))

    def bullets(items):
        lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
        return output(blocks.Block(f'<div class="generated-list"><ul>{lis}</ul></div>', "bullets"))

    def code(*outputs):
        cell = new_code_cell("")
        cell.outputs = list(outputs)
        return cell

    statuses = [o.status for o in outcomes]
    source = f"natoua sweep of notebook {section.notebook.name}, data as of {options.as_of}"
    cells = [new_markdown_cell(f"# What moves in section {section.section}")]
    grid_text = "; ".join(f"{a.name}: {', '.join(grid.label({a.name: v}).split('=', 1)[1] for v in a.values)}"
                          for a in axes)
    cells.append(code(paragraph(
        f"Section {section.section}, “{section.title}”, run over {len(combos)} parameter set(s), the cross product "
        f"of {grid_text}. Every other parameter keeps its default; data as of {options.as_of}, currency "
        f"{options.currency}. {statuses.count('executed')} run(s) executed, {statuses.count('cached')} taken from "
        f"the build's cache, {statuses.count('failed')} failed.")))

    moving = moved[moved.status != "unchanged"]
    unchanged = moved[moved.status == "unchanged"]
    cells.append(new_markdown_cell("## Claims that move"))
    if moving.empty:
        cells.append(code(paragraph("No claim moves: every successful run printed the same figures.")))
    else:
        moves_text = ["in value only" if st == "value only" else "yes" if m == r else f"yes (made in {m} of {r} runs)"
                      for st, m, r in zip(moving.status, moving.made_in, moving.runs)]
        shown = pd.DataFrame({"Claim": moving.claim, "Unit": moving.unit, "Moves": moves_text,
                              "Relative move": moving.relative_move.map(_relative_text),
                              "Lowest to highest": [lo if lo == hi else f"{lo} to {hi}"
                                                    for lo, hi in zip(moving.lowest, moving.highest)],
                              "Distinct": moving.distinct})
        text, markup = _source(source)
        cells.append(code(output(tables.Table(
            shown, caption=f"Claims of section {section.section} that change across the grid, largest relative move "
                           f"first", source=text, source_html=markup,
            note="Relative move: (highest − lowest) / the larger of |highest| and |lowest|, for numeric claims; "
                 "Lowest to highest: the texts printed at the lowest and highest value (other claims: the first and "
                 "last distinct text); Distinct: how many different texts the runs printed. In value only: the value "
                 "changes but every run prints the same text.",
            compact=True))))

    if show is not None:
        cells.append(new_markdown_cell("## One claim over the grid"))
        cells.append(code(_heatmap_output(axes, combos, outcomes, show, source, ledgers)))

    cells.append(new_markdown_cell("## Claims that do not move"))
    if unchanged.empty:
        cells.append(code(paragraph("Every claim changes somewhere in the grid.")))
    else:
        cells.append(code(paragraph(f"{len(unchanged)} claim(s) are the same in every successful run:"),
                          bullets(f"{r.claim}: {r.lowest}" for r in unchanged.itertuples())))

    cells.append(new_markdown_cell("## Runs"))
    runs = pd.DataFrame([{"Run": i + 1, **{a.name: grid.label({a.name: c[a.name]}).split("=", 1)[1] for a in axes},
                          "Status": o.status, "Error": error_text(o.error) if not o.ok else ""}
                         for i, (c, o) in enumerate(zip(combos, outcomes))])
    text, markup = _source(source)
    cells.append(code(output(tables.Table(runs, caption="Parameter sets and what became of each run", source=text,
                                          source_html=markup, compact=True))))
    nb = new_notebook(cells=cells)
    nb.metadata["natoua"] = {"title": f"What moves in section {section.section}", "as_of": options.as_of,
                             "section": ""}
    nbformat.validate(nb)
    return nb


def _relative_text(v) -> str:
    """A relative move as a percentage, with a decimal below 10% so a small move does not read as none."""
    if pd.isna(v):
        return "–"
    return f"{v:.1%}" if abs(v) < 0.1 else f"{v:.0%}"


def _source(text: str) -> tuple[str, str]:
    from . import links

    return links.source_line(text)


def _heatmap_output(axes, combos, outcomes, show: str, source: str, ledgers: list):
    """A figure output: the claim's value over the two swept parameters, each cell labelled with its text."""
    from nbformat.v4 import new_output

    from . import charts, heatmap

    rows_axis, cols_axis = axes
    values = pd.DataFrame(float("nan"), index=list(rows_axis.values), columns=list(cols_axis.values))
    labels = pd.DataFrame("failed", index=values.index, columns=values.columns)
    for combo, o, ledger in zip(combos, outcomes, ledgers):
        r, c = combo[rows_axis.name], combo[cols_axis.name]
        claim = ledger.get(show) if ledger is not None else None
        if claim is not None:
            labels.loc[r, c] = claim["text"]
            values.loc[r, c] = claim["value"] if is_number(claim["value"]) else float("nan")
        elif o.ok:
            labels.loc[r, c] = "not made"
    fig, ax = charts.new(height=0.42 * len(values.index) + 1.2)
    heatmap.draw(ax, values, labels=labels, xlabel=cols_axis.name, ylabel=rows_axis.name, fontsize=charts.SMALL + 0.5)
    made = values.to_numpy()
    finite = made[~pd.isna(made)]
    span = f"from {finite.min():g} to {finite.max():g}" if finite.size else "not a number in any run"
    figure = charts.render(fig, title=f"{show} across the grid",
                           caption=f"{show} for each {rows_axis.name} (rows) and {cols_axis.name} (columns); each "
                                   f"cell shows the claim as the section prints it, coloured by its value.",
                           source=source, alt=f"Heatmap of {show} over {rows_axis.name} and {cols_axis.name}: "
                                              f"values {span}.", dense=True)
    return new_output("display_data", data=figure._repr_mimebundle_(), metadata={})
