"""Frictionless checks the Table Schemas (types, constraints, primary and foreign keys); its errors are
translated into `Problem`s that say what to fix. With a cache folder, results are remembered per resource."""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import regular
from .data_problem import Problem, shown_path

THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def frictionless_problems(descriptor: dict, resources: list[dict], base: Path,
                           only: set[str] | None = None) -> list[Problem]:
    from frictionless import Package, system

    if not resources:
        return []
    names = {r["name"] for r in resources}
    clean = []
    for res in resources:
        res = json.loads(json.dumps(res))
        res["encoding"] = "utf-8-sig" if regular.read_bytes(base / res["path"]).startswith(b"\xef\xbb\xbf") else "utf-8"
        # Foreign keys into a resource that is itself broken are reported on that resource.
        fks = res.get("schema", {}).get("foreignKeys", [])
        res["schema"]["foreignKeys"] = [fk for fk in fks if fk.get("reference", {}).get("resource", res["name"]) in names | {""}]
        clean.append({k: v for k, v in res.items() if k in _FRICTIONLESS_KEYS})
    problems: list[Problem] = []
    with system.use_context(trusted=False):
        try:
            package = Package({"name": descriptor.get("name", "package"), "resources": clean}, basepath=str(base))
            report = package.validate() if only is None else _validate_some(package, only)
        except Exception as exc:  # a descriptor Frictionless cannot even read
            return [Problem(shown_path(base / "datapackage.json", base), None, None, f"invalid descriptor: {exc}")]
    by_name = {r["name"]: r for r in resources}
    for task in report.tasks:
        res = by_name.get(task.name)
        file = shown_path(base / res["path"], base) if res else shown_path(base / "datapackage.json", base)
        for err in task.errors:
            problems.append(_translate(err, file, res))
    for err in report.errors:
        problems.append(Problem(shown_path(base / "datapackage.json", base), None, None, err.message))
    return problems


def _validate_some(package, only: set[str]):
    """What `Package.validate()` does (metadata, then each resource in turn), for some resources only;
    the others are in the package only as foreign-key lookup tables."""
    from frictionless import Report
    from frictionless.exception import FrictionlessException

    try:
        package.to_descriptor(validate=True)
    except FrictionlessException as exception:
        return Report.from_validation(errors=exception.to_errors())
    return Report.from_validation_reports(
        time=0, reports=[res.validate() for res in package.resources if res.name in only])


# --- incremental Frictionless: a cache per resource ---------------------------------------

VALIDATION_CACHE_FORMAT = 1


def frictionless_problems_cached(descriptor: dict, resources: list[dict], base: Path, cache_dir: Path) -> list[Problem]:
    """`frictionless_problems`, re-reading only what changed.

    A resource's Frictionless result depends on its descriptor and bytes and on the tables its foreign
    keys look up; that is its key. Results (problems included) are stored under cache_dir by key, so an
    edit to one CSV re-validates it plus the resources whose foreign keys point at it. Package-level
    errors are never cached (the whole package is validated again until they are gone).
    """
    import hashlib
    from importlib.metadata import version

    frictionless_version = version("frictionless")  # without importing it: nothing may need re-reading

    by_name = {r["name"]: r for r in resources}
    file_digest = {r["name"]: hashlib.sha256(regular.read_bytes(base / r["path"])).hexdigest() for r in resources}

    def targets(res):
        fks = res.get("schema", {}).get("foreignKeys", [])
        refs = {fk.get("reference", {}).get("resource", res["name"]) or res["name"] for fk in fks if isinstance(fk, dict)}
        return sorted(t for t in refs if t in by_name and t != res["name"])

    def own(name):
        return json.dumps([by_name[name], file_digest[name]], sort_keys=True)

    rules = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # how errors are translated
    keys = {}
    for res in resources:
        payload = json.dumps([VALIDATION_CACHE_FORMAT, frictionless_version, rules, base.name, own(res["name"]),
                              sorted(by_name), [own(t) for t in targets(res)]], sort_keys=True)
        keys[res["name"]] = hashlib.sha256(payload.encode()).hexdigest()

    problems: list[Problem] = []
    todo = set()
    for name, key in keys.items():
        stored = _read_cached(cache_dir / f"{key}.json")
        if stored is None:
            todo.add(name)
        else:
            problems += stored
    if not todo:
        return problems
    needed = todo | {t for n in todo for t in targets(by_name[n])}
    fresh = frictionless_problems(descriptor, [r for r in resources if r["name"] in needed], base, only=todo)
    files = {name: shown_path(base / by_name[name]["path"], base) for name in todo}
    if all(p.file in files.values() for p in fresh):  # no package-level error: remember each resource's result
        cache_dir.mkdir(parents=True, exist_ok=True)
        for name in todo:
            mine = [p for p in fresh if p.file == files[name]]
            _write_cached(cache_dir / f"{keys[name]}.json", mine)
    return problems + fresh


def _read_cached(path: Path) -> list[Problem] | None:
    try:
        return [Problem(*p) for p in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return None  # missing or damaged: validate again


def _write_cached(path: Path, problems: list[Problem]) -> None:
    from .files import write_atomic

    write_atomic(path, json.dumps([[p.file, p.row, p.column, p.message] for p in problems]).encode("utf-8"))


_FRICTIONLESS_KEYS = {"name", "path", "format", "mediatype", "encoding", "schema", "dialect", "title", "description"}


def _translate(err, file: str, res: dict | None) -> Problem:
    kind = err.type
    row = getattr(err, "row_number", None)
    column = getattr(err, "field_name", None)
    cell = getattr(err, "cell", None)
    field = _field(res, column) if res and column else {}
    if kind == "type-error":
        expected = field.get("type", "value")
        hint = ""
        if expected in ("integer", "number") and cell and THOUSANDS.match(cell.strip()):
            hint = " (remove the thousands separator)"
        elif expected == "date":
            hint = " (expected an existing date as YYYY-MM-DD)"
        return Problem(file, row, column, f"{cell!r} is not a valid {expected}{hint}")
    if kind == "constraint-error":
        return Problem(file, row, column, f"{cell!r} breaks the rule {_constraint_text(err.note, field)}")
    if kind == "primary-key":
        keys = res.get("schema", {}).get("primaryKey", []) if res else []
        keys = [keys] if isinstance(keys, str) else keys
        first = re.search(r"row at position (\d+)", _note(err))
        same = f"same as line {first.group(1)}" if first else _note(err)
        return Problem(file, row, ",".join(keys) or None, f"duplicate primary key ({', '.join(keys)}): {same}")
    if kind == "foreign-key":
        match = re.search(r'values "([^"]*)" not found in the lookup table "([^"]+)" as "([^"]+)"', _note(err))
        if match:
            value, table, key = match.groups()
            return Problem(file, row, _fk_field(err), f"unknown reference: {value!r} is not in {table}.{key}")
        return Problem(file, row, _fk_field(err), f"unknown reference: {_note(err)}")
    if kind == "blank-row":
        return Problem(file, row, None, "blank row (delete it)")
    if kind in ("missing-cell", "extra-cell"):
        what = "missing a cell" if kind == "missing-cell" else "has an extra cell"
        return Problem(file, row, column, f"row {what} (check quoting and commas)")
    if kind == "encoding-error":
        return Problem(file, row, None, "not valid UTF-8; save the file as UTF-8")
    return Problem(file, row, column, f"{kind}: {_note(err)}")


def _note(err) -> str:
    return getattr(err, "note", "") or err.message


def _fk_field(err) -> str | None:
    match = re.search(r'for "([^"]+)"', getattr(err, "note", "") or "")
    return match.group(1) if match else None


def _constraint_text(note: str, field: dict) -> str:
    constraints = field.get("constraints", {})
    match = re.search(r'constraint "(\w+)"', note or "")
    name = match.group(1) if match else ""
    if name == "enum":
        return f"must be one of: {', '.join(map(str, constraints.get('enum', [])))}"
    if name in ("minimum", "maximum", "minLength", "maxLength", "pattern"):
        return f"{name} {constraints.get(name)!r}"
    if name == "required":
        return "a value is required"
    if name == "unique":
        return "values must be unique"
    return note or "constraint"


def _field(res: dict | None, column: str | None) -> dict:
    for f in (res or {}).get("schema", {}).get("fields", []):
        if f.get("name") == column:
            return f
    return {}
