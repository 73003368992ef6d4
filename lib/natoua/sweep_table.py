"""A sweep's results as data: the tidy table (one row per parameter set, every claim's value and text) and
which claims move across the runs and by how much. No runner needed: unit-tested on their own."""

from __future__ import annotations

import json
import math

import pandas as pd

from . import grid
from .errors import first_line


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


def is_number(v) -> bool:
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
        numeric = all(is_number(v) for v in values)
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


def error_text(error: dict | None) -> str:
    if not error:
        return "failed"
    where = f"cell {error.get('cell')}: " if error.get("cell") is not None else ""
    return f"{where}{error.get('ename')}: {first_line(error.get('evalue', ''))}"
