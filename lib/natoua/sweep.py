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

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import DEFAULT_AS_OF, grid, paths
from .errors import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_FAILED, EXIT_OK, BuildError, first_line
from .sweep_page import write_folder
from .sweep_table import error_text, moves, tidy_table

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
    errors = [error_text(o.error) if not o.ok else "" for o in outcomes]
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
