"""`natoua sweep`: run one section over a grid of parameter values and show which of its claims move.

    natoua sweep 12 -p 12.ceasefire_year=2026,2027,2029 -p 12.p_consensus_per_year=0.05,0.15,0.3

The grid is the cross product of the values (natoua.grid); every value is checked against the notebook's
declaration exactly like `-p` before anything runs (one line, exit code 2). The runs go through the build's
runner (natoua.runner): same cache of executed sections (a parameter set already run, by a build, a preview
or an earlier sweep, is not run again), same data validation, same worker pool. Nothing is published: no
edition, no `latest`. The result goes to `reports/sweeps/<as_of>/<section>-<grid digest>/`:

    sweep.csv    one row per parameter set: the parameters, the run's status, and for every claim the
                 section made its value (column `<claim>`) and its formatted text (`<claim>.text`)
    sweep.html   the page: the grid, the claims that move (largest relative move first), a heatmap of one
    sweep.pdf    claim over two swept numeric parameters, the claims that do not move, every run
    sweep.ipynb  the page as a notebook (what the report's exporters render)
    sweep.json   the grid, the options, each run's status, cache key and error

A claim *moves* when its printed text differs between runs; it moves *in value only* when its value
differs but every run prints the same text (the move is below the printed precision); otherwise it is
*unchanged*. The relative move of a numeric claim is (highest − lowest) / the larger of |highest| and
|lowest| (0 to 1 when all values have one sign; 0 when they are all zero).

Exit codes: 0 every run succeeded, 4 some runs failed (the page lists them), 1 every run failed, 2 bad
input (an argument, a value, invalid data).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import DEFAULT_AS_OF, grid, paths
from .errors import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_FAILED, EXIT_OK, BuildError, first_line

SWEEPS = "sweeps"
_CLAIM_CALL = re.compile(r"""\bclaim\(\s*(f?)(["'])([^"']*)\2""")


@dataclass
class SweepOptions:
    section: str
    params: list[str]  # the raw -p options, e.g. "12.ceasefire_year=2026,2027"
    show: str | None = None  # the claim drawn as a heatmap over two swept numeric parameters
    as_of: str = DEFAULT_AS_OF
    currency: str = "EUR"
    jobs: int = 0
    out: Path = field(default_factory=lambda: paths.REPORTS)
    pdf: bool = True
    quiet: bool = False
    cell_timeout: int | None = None
    notebooks: Path | None = None  # another notebooks folder (tests)


@dataclass
class SweepResult:
    folder: Path
    combos: list[dict]
    statuses: list[str]  # per parameter set, in grid order: "cached", "executed" or "failed"
    table: pd.DataFrame
    moves: pd.DataFrame
    code: int


# --- the tidy table and the moves (no runner needed: unit-tested on their own) ----------------------

def tidy_table(axes: list[grid.Axis], combos: list[dict], statuses: list[str], ledgers: list[dict | None],
               errors: list[str] | None = None) -> pd.DataFrame:
    """One row per parameter set: `run`, the swept parameters, `status`, `error`, then for each claim (in the
    order the runs first made them) its value and its text (`<claim>.text`); a claim a run did not make, or
    a failed run, has empty cells."""
    names: list[str] = []
    for ledger in ledgers:
        for name in ledger or {}:
            if name not in names:
                names.append(name)
    rows = []
    for i, (combo, status, ledger) in enumerate(zip(combos, statuses, ledgers)):
        row = {"run": i + 1}
        for axis in axes:
            v = combo[axis.name]
            row[axis.name] = json.dumps(v) if isinstance(v, (list, dict)) else v
        row["status"] = status
        row["error"] = (errors[i] if errors else "") or ""
        for name in names:
            c = (ledger or {}).get(name)
            row[name] = c["value"] if c else None
            row[f"{name}.text"] = c["text"] if c else None
        rows.append(row)
    columns = ["run", *[a.name for a in axes], "status", "error"] + [x for n in names for x in (n, f"{n}.text")]
    table = pd.DataFrame(rows, columns=columns)
    for name in names:  # whole numbers stay whole where a failed run leaves a gap (not 20000.0)
        made = [v for v in table[name] if v is not None and not (isinstance(v, float) and math.isnan(v))]
        if made and all(isinstance(v, int) and not isinstance(v, bool) for v in made):
            table[name] = table[name].astype("Int64")
    return table


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def moves(ledgers: list[dict | None]) -> pd.DataFrame:
    """For every claim made by a successful run: whether it moves across the runs, and by how much.

    Columns: claim, unit, status ('moves', 'value only', 'unchanged'), relative_move (numeric claims),
    lowest, highest (texts at the lowest and highest value; for other claims the first and last distinct
    text), distinct (number of distinct texts), made_in (runs that made it), runs (successful runs).
    Sorted: moving claims by relative move (largest first; non-numeric after numeric, most distinct texts
    first), then those moving in value only, then the unchanged ones by name."""
    ok = [ledger for ledger in ledgers if ledger is not None]
    names: list[str] = []
    for ledger in ok:
        names += [n for n in ledger if n not in names]
    rows = []
    for name in names:
        made = [ledger[name] for ledger in ok if name in ledger]
        values, texts = [c["value"] for c in made], [c["text"] for c in made]
        distinct = list(dict.fromkeys(texts))
        numeric = all(_is_number(v) for v in values)
        if numeric:
            lo, hi = min(values), max(values)
            scale = max(abs(lo), abs(hi))
            relative = (hi - lo) / scale if scale else 0.0
            lowest, highest = texts[values.index(lo)], texts[values.index(hi)]
            value_moves = hi != lo
        else:
            relative = float("nan")
            lowest, highest = distinct[0], distinct[-1]
            value_moves = len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1
        if len(distinct) > 1 or len(made) < len(ok):
            status = "moves"
        elif value_moves:
            status = "value only"
        else:
            status = "unchanged"
        rows.append({"claim": name, "unit": made[0].get("unit", ""), "status": status,
                     "relative_move": relative, "lowest": lowest, "highest": highest, "distinct": len(distinct),
                     "made_in": len(made), "runs": len(ok)})
    frame = pd.DataFrame(rows, columns=["claim", "unit", "status", "relative_move", "lowest", "highest", "distinct",
                                        "made_in", "runs"])
    order = {"moves": 0, "value only": 1, "unchanged": 2}
    frame["_order"] = frame["status"].map(order)
    frame["_rel"] = frame["relative_move"].fillna(-1.0).where(frame["status"] != "unchanged", 0.0)
    frame = frame.sort_values(["_order", "_rel", "distinct", "claim"], ascending=[True, False, False, True],
                              kind="mergesort")
    return frame.drop(columns=["_order", "_rel"]).reset_index(drop=True)


def to_csv(table: pd.DataFrame) -> str:
    """The tidy table as CSV; text cells that a spreadsheet would evaluate are neutralised."""
    from .tables import to_csv as safe_csv

    return safe_csv(table)


# --- claims a notebook makes, read from its source (to refuse a bad --show before any work) -----------

def declared_claims(notebook: Path) -> tuple[set[str], bool]:
    """Names of the claims the notebook's code makes with a literal name, and whether some name is computed
    (an f-string), in which case an unknown name can only be refused after the runs."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    names, computed = set(), False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        for f, _, name in _CLAIM_CALL.findall(source):
            if f:
                computed = True
            else:
                names.add(name)
    return names, computed


# --- the command ------------------------------------------------------------------------------------

def check(options: SweepOptions):
    """Every argument checked before any work (BuildError, exit code 2): the section, the -p options and
    each of their values (the notebook's types and rules), --show, --as-of, --currency, --out.
    Returns (section, axes, combos, reports folder)."""
    from . import plan

    plan.check_as_of(options.as_of)
    plan.check_currency(options.currency)
    try:
        section = plan.plan([options.section], options.notebooks)[0]
    except BuildError as exc:  # the plan speaks of --sections; a sweep names its section as an argument
        raise BuildError(re.sub(r"^--sections: ", "", str(exc)), exc.code) from None
    try:
        axes = [grid.parse_axis(p) for p in options.params]
        grid.check_axes(axes, section.section)
    except grid.GridError as exc:
        raise BuildError(str(exc), EXIT_BAD_INPUT) from None
    common = {"as_of": options.as_of, "currency": options.currency}
    for axis in axes:
        for value in axis.values:  # each value on its own: the message names the value that is wrong
            plan.section_parameters(section, common, {axis.name: value})
    if options.show is not None:
        numeric = [a for a in axes if a.numeric]
        if len(axes) != 2 or len(numeric) != 2:
            raise BuildError(f"--show {options.show}: a heatmap needs exactly two swept parameters with numeric "
                             f"values (this sweep varies {', '.join(a.name for a in axes)})", EXIT_BAD_INPUT)
        names, computed = declared_claims(section.notebook)
        if options.show not in names and not computed:
            near = sorted(n for n in names if n.split("_")[0] == options.show.split("_")[0])[:4]
            raise BuildError(f"--show {options.show}: section {section.section} makes no claim of that name"
                             + (f" (e.g. {', '.join(near)})" if near else ""), EXIT_BAD_INPUT)
    reports = plan.check_out(options.out)
    return section, axes, grid.cross(axes), reports


def run(options: SweepOptions) -> SweepResult:
    """Run the sweep and write its folder (see the module docstring)."""
    from .runner import RunOptions, Runner

    started = time.perf_counter()
    section, axes, combos, reports = check(options)
    digest = grid.digest(section.section, axes, {"currency": options.currency})
    folder = reports / SWEEPS / options.as_of / f"{section.section}-{digest}"
    say = (lambda text: None) if options.quiet else (lambda text: print(text, flush=True))
    say(f"sweep of section {section.section} ({section.name}): {len(combos)} parameter set(s), "
        f"as of {options.as_of}, {options.currency}")

    names = [f"{section.section}@{i + 1:03d}" for i in range(len(combos))]
    labels = {name: grid.label(combo) for name, combo in zip(names, combos)}
    width = max(len(v) for v in labels.values())

    def line(name: str, status: str, seconds: float, note: str = "") -> None:
        say(f"  {name} {labels[name]:<{width}} {status:<8} {seconds:5.1f} s{note}")

    runner_options = RunOptions(as_of=options.as_of, currency=options.currency, sections=(section.section,),
                                jobs=options.jobs, out=reports, cell_timeout=options.cell_timeout)
    with Runner(runner_options, reports) as runner:
        tasks = [runner.task(section, given(section, combo), name=name) for name, combo in zip(names, combos)]
        state = runner.prepare(tasks)
        for name in names:
            if name in state.cached:
                line(name, "cached", state.cached[name].seconds, " (last run)")
        problems = runner.validate(state)
        if problems:
            for p in problems:
                print(str(p), file=sys.stderr)
            raise BuildError(f"data validation failed: {len(problems)} problem(s); nothing was run", EXIT_BAD_INPUT)

        def arrived(outcome) -> None:
            r = outcome.result
            line(outcome.task.name, "ok" if r.ok else "FAILED", r.seconds)
            if not r.ok:
                e = r.error or {}
                where = f"cell {e.get('cell')}" if e.get("cell") is not None else "before any cell ran"
                say(f"     {where}: {e.get('ename')}: {first_line(e.get('evalue', ''))}")

        runner.execute(state, on_result=arrived)
        runner.check_unchanged(state)
    outcomes = [state.outcomes[name] for name in names]
    statuses = [o.status for o in outcomes]
    ledgers = [o.claims() if o.ok else None for o in outcomes]
    errors = [_error_text(o.error) if not o.ok else "" for o in outcomes]
    table = tidy_table(axes, combos, statuses, ledgers, errors)
    moved = moves(ledgers)
    show = options.show
    if show is None and len(axes) == 2 and all(a.numeric for a in axes):
        numeric_moves = moved[(moved.status != "unchanged") & moved.relative_move.notna()]
        show = numeric_moves.claim.iloc[0] if not numeric_moves.empty else None
    if show is not None and all(ledger is None or show not in ledger for ledger in ledgers) \
            and any(ledger is not None for ledger in ledgers):
        raise BuildError(f"--show {show}: no run of section {section.section} made a claim of that name",
                         EXIT_BAD_INPUT)

    meta = {"section": section.section, "notebook": section.notebook.name, "title": section.title,
            "as_of": options.as_of, "currency": options.currency, "digest": digest,
            "axes": [{"name": a.name, "values": list(a.values)} for a in axes], "show": show,
            "runs": [{"run": i + 1, "parameters": combo, "status": o.status, "key": o.key,
                      "error": errors[i] or None} for i, (combo, o) in enumerate(zip(combos, outcomes))]}
    write_folder(folder, reports, section, axes, combos, outcomes, ledgers, table, moved, show, meta, options)
    failed = statuses.count("failed")
    code = EXIT_OK if not failed else EXIT_FAILED if failed == len(statuses) else EXIT_DEGRADED
    say(f"wrote {_shown(folder)}/ ({len(combos)} runs: {statuses.count('executed')} executed, "
        f"{statuses.count('cached')} cached, {failed} failed) in {time.perf_counter() - started:.1f} s")
    return SweepResult(folder, combos, statuses, table, moved, code)


def given(section, combo: dict) -> dict:
    """The parameters a run is given: a value equal to the notebook's default is left out, so the run has
    the cache key of a build that did not set it (the default parameter set of a sweep costs nothing after
    a build)."""
    declared = section.declared
    return {k: v for k, v in combo.items() if not (type(v) is type(declared.get(k)) and v == declared.get(k))}


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _error_text(error: dict | None) -> str:
    if not error:
        return "failed"
    where = f"cell {error.get('cell')}: " if error.get("cell") is not None else ""
    return f"{where}{error.get('ename')}: {first_line(error.get('evalue', ''))}"


# --- the folder ---------------------------------------------------------------------------------------

def write_folder(folder: Path, reports: Path, section, axes, combos, outcomes, ledgers, table, moved, show, meta,
                 options: SweepOptions) -> None:
    """Write everything into a staging folder beside `folder`, then swap it into place (a reader never sees
    half a sweep; an earlier sweep of the same grid is replaced whole)."""
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
                          "Status": o.status, "Error": _error_text(o.error) if not o.ok else ""}
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
            values.loc[r, c] = claim["value"] if _is_number(claim["value"]) else float("nan")
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
