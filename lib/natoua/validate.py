"""Validate the data package and report every problem as `file:row:column: message`.

Frictionless checks the Table Schemas (types, constraints, primary and foreign
keys; validate_frictionless). Around it, the project adds what Frictionless lets
through or reports obscurely: bytes that are not UTF-8, empty and header-only
files, paths leaving the data folder (validate_files), text that would be a
spreadsheet formula or HTML markup, dates whose precision column says "month"
but carry a day, and cross-table consistency (validate_rules). This module reads
the descriptor, runs them in turn and orders and caps what they found. Rows are
file line numbers (the header is line 1).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import paths, regular
from .data_problem import Problem, shown_path
from .validate_files import check_file, check_resource_entry
from .validate_frictionless import frictionless_problems, frictionless_problems_cached
from .validate_rules import (cross_table_rules, number_rules, precision_rules, provenance_rules, reading_rules,
                             snapshot_rules, text_rules)

MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024  # datapackage.json
MAX_PROBLEMS_PER_FILE = 50  # problems printed per file; the rest are counted in one line


def validate_package(data_dir: Path | None = None, cache_dir: Path | None = None) -> list[Problem]:
    """Every problem in the data package; an empty list means it is valid.

    With `cache_dir`, Frictionless results are remembered per resource (see `frictionless_problems_cached`), so
    after an edit only the changed resources and those whose foreign keys touch them are re-read.
    """
    base = (data_dir or paths.data_dir()).resolve()
    descriptor_path = base / "datapackage.json"
    dp_name = shown_path(descriptor_path, base)
    if not descriptor_path.exists():
        return [Problem(dp_name, None, None, "data package descriptor is missing")]
    what = regular.not_regular(descriptor_path)
    if what:
        return [Problem(dp_name, None, None, f"is {what}, not a regular file; nothing was read")]
    if descriptor_path.stat().st_size > MAX_DESCRIPTOR_BYTES:
        return [Problem(dp_name, None, None, f"is larger than {MAX_DESCRIPTOR_BYTES // 2**20} MB; nothing was read")]
    try:
        descriptor = json.loads(regular.read_text(descriptor_path))
    except regular.NotRegularFile as exc:
        return [Problem(dp_name, None, None, f"is {exc.what}, not a regular file; nothing was read")]
    except UnicodeDecodeError as exc:
        return [Problem(dp_name, None, None, f"not valid UTF-8: {exc.reason}")]
    except json.JSONDecodeError as exc:
        return [Problem(dp_name, exc.lineno, None, f"not valid JSON: {exc.msg} (column {exc.colno})")]
    except RecursionError:
        return [Problem(dp_name, None, None, "not valid: JSON nested too deeply")]
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return [Problem(dp_name, None, "resources", "descriptor must be an object with a list of resources")]

    problems: list[Problem] = []
    readable: list[dict] = []
    seen_names: set[str] = set()
    for index, res in enumerate(descriptor["resources"]):
        found = check_resource_entry(res, index, base, dp_name, seen_names)
        problems += found
        if not found:
            readable.append(res)

    texts: dict[str, list[list[str]]] = {}
    for res in readable:
        found, rows = check_file(res, base)
        problems += found
        if not found:
            texts[res["name"]] = rows

    valid = [r for r in readable if r["name"] in texts]
    problems += (frictionless_problems_cached(descriptor, valid, base, cache_dir) if cache_dir
                 else frictionless_problems(descriptor, valid, base))
    for res in valid:
        problems += number_rules(res, texts[res["name"]], base)
        problems += text_rules(res, texts[res["name"]], base)
        problems += precision_rules(res, texts[res["name"]], base)
    problems += cross_table_rules(valid, texts, base)
    problems += provenance_rules(valid, texts, base)
    problems += reading_rules(valid, texts, base)
    problems += snapshot_rules(base)
    found = sorted(set(_without_cascades(problems)), key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
    return _capped(found)


def _capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS_PER_FILE problems per file, then one line counting the rest (a file with a
    million bad rows must not print a million lines into a schedule's log)."""
    out, shown = [], {}
    for p in problems:
        shown[p.file] = shown.get(p.file, 0) + 1
        if shown[p.file] <= MAX_PROBLEMS_PER_FILE:
            out.append(p)
    for file, count in sorted(shown.items()):
        if count > MAX_PROBLEMS_PER_FILE:
            out.append(Problem(file, None, None, f"... and {count - MAX_PROBLEMS_PER_FILE:,} more problem(s) in "
                                                 f"this file (the first {MAX_PROBLEMS_PER_FILE} are listed)"))
    return out


def _without_cascades(problems: list[Problem]) -> list[Problem]:
    """A blank or ragged row makes every other check on it fail too; report only the row's real defect."""
    structural = {(p.file, p.row) for p in problems if p.column is None and p.row is not None
                  and p.message.startswith(("blank row", "row has", "row missing"))}
    return [p for p in problems if (p.file, p.row) not in structural or p.column is None]
