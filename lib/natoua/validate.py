"""Validate the data package and report every problem as `file:row:column: message`.

Frictionless checks the Table Schemas (types, constraints, primary and foreign
keys). Around it, this module adds what Frictionless lets through or reports
obscurely: bytes that are not UTF-8, empty and header-only files, paths leaving
the data folder, text that would be a spreadsheet formula or HTML markup,
dates whose precision column says "month" but carry a day, and cross-table
consistency. Rows are file line numbers (the header is line 1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import paths, regular

FORMULA_PREFIXES = ("=", "+", "-", "@")
HTML_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!]")
THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
# C0 and C1 control characters other than tab and newline (NUL, ANSI escapes, ...): never data, never printed raw.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional controls (embeddings, overrides, isolates, marks): invisible, and they reorder how the text
# around them is shown ("TAHW" shown as "WHAT"), so what a reader sees is not what the data say.
BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A resource path that names a scheme (http:, file:, s3:...) or a network location is not a local file.
URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//|\\")
MAX_FILE_BYTES = 64 * 1024 * 1024  # one CSV (the largest dataset is under 1 MB): bounds the validator's memory
MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024  # datapackage.json
MAX_PROBLEMS_PER_FILE = 50  # problems printed per file; the rest are counted in one line
MAX_CELL = 128 * 1024  # characters in one CSV cell
NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"}


def printable(text: str) -> str:
    """Text with control and bidi characters shown as escapes (a terminal must never receive them raw)."""
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))
    return BIDI.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def _control_problem(cell: str) -> str:
    if not CONTROL.search(cell):
        char = BIDI.search(cell).group(0)
        return (f"contains bidirectional control character U+{ord(char):04X} (it reorders how the text is "
                f"shown); remove it")
    char = CONTROL.search(cell).group(0)
    names = {"\x00": "NUL", "\x1b": "ESC, an ANSI escape sequence", "\r": "carriage return", "\x7f": "DEL"}
    return f"contains control character U+{ord(char):04X} ({names.get(char, 'not text')}); remove it"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        row = self.row if self.row is not None else "-"
        return printable(f"{self.file}:{row}:{self.column or '-'}: {self.message}")


def validate_package(data_dir: Path | None = None, cache_dir: Path | None = None) -> list[Problem]:
    """Every problem in the data package; an empty list means it is valid.

    With `cache_dir`, Frictionless results are remembered per resource (see `_frictionless_cached`), so
    after an edit only the changed resources and those whose foreign keys touch them are re-read.
    """
    base = (data_dir or paths.data_dir()).resolve()
    descriptor_path = base / "datapackage.json"
    dp_name = _rel(descriptor_path, base)
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
        found = _check_resource_entry(res, index, base, dp_name, seen_names)
        problems += found
        if not found:
            readable.append(res)

    texts: dict[str, list[list[str]]] = {}
    for res in readable:
        found, rows = _check_file(res, base)
        problems += found
        if not found:
            texts[res["name"]] = rows

    valid = [r for r in readable if r["name"] in texts]
    problems += (_frictionless_cached(descriptor, valid, base, cache_dir) if cache_dir
                 else _frictionless_problems(descriptor, valid, base))
    for res in valid:
        problems += _number_rules(res, texts[res["name"]], base)
        problems += _text_rules(res, texts[res["name"]], base)
        problems += _precision_rules(res, texts[res["name"]], base)
    problems += _cross_table_rules(valid, texts, base)
    problems += _provenance_rules(valid, texts, base)
    problems += _reading_rules(valid, texts, base)
    problems += _snapshot_rules(base)
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


# --- descriptor entries and files ---------------------------------------------------

def _check_resource_entry(res, index: int, base: Path, dp_name: str, seen: set[str]) -> list[Problem]:
    where = f"resources[{index}]"
    if not isinstance(res, dict):
        return [Problem(dp_name, None, where, "resource must be an object")]
    name, raw = res.get("name"), res.get("path")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name or ""):
        return [Problem(dp_name, None, where, f"resource name {name!r} must be lower_snake_case")]
    if name in seen:
        return [Problem(dp_name, None, where, f"resource name {name!r} is used twice")]
    seen.add(name)
    if not isinstance(raw, str) or not raw:
        return [Problem(dp_name, None, name, "resource has no path")]
    if URL_LIKE.search(raw):
        return [Problem(dp_name, None, name, f"path {raw!r} is not a local path: a resource is a file inside the "
                                             f"data folder, given relative to it (nothing is fetched)")]
    target = (base / raw).resolve()
    if Path(raw).is_absolute() or ".." in Path(raw).parts or not target.is_relative_to(base):
        return [Problem(dp_name, None, name, f"path {raw!r} points outside the data folder")]
    if not raw.endswith(".csv"):
        return [Problem(dp_name, None, name, f"path {raw!r} is not a .csv file")]
    if "dialect" in res and not isinstance(res["dialect"], dict):
        return [Problem(dp_name, None, name, "dialect must be an inline object (a path or URL is never read)")]
    if not isinstance(res.get("schema"), dict) or not res["schema"].get("fields"):
        return [Problem(dp_name, None, name, "resource has no inline Table Schema with fields")]
    fields = res["schema"]["fields"]
    if not isinstance(fields, list):
        return [Problem(dp_name, None, name, "schema.fields must be a list of field objects")]
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            return [Problem(dp_name, None, name, f"schema.fields[{i}] must be an object with a name, not {json.dumps(f)[:60]}")]
        if not isinstance(f.get("type", "string"), str) or not isinstance(f.get("constraints", {}), dict):
            return [Problem(dp_name, None, name, f"schema.fields[{i}] ({f['name']}): type must be text and constraints an object")]
    what = regular.not_regular(target)
    if what:
        return [Problem(_rel(target, base), None, None, f"is {what}, not a regular file (resource {name!r}); "
                                                        f"nothing was read")]
    if not target.is_file():
        return [Problem(_rel(target, base), None, None, f"file is missing (resource {name!r} in datapackage.json)")]
    if target.stat().st_size > MAX_FILE_BYTES:
        return [Problem(_rel(target, base), None, None, f"file is larger than {MAX_FILE_BYTES // 2**20} MB "
                                                        f"({target.stat().st_size:,} bytes); datasets hold tidy tables "
                                                        f"of short text, nothing was read")]
    return []


def _check_file(res: dict, base: Path) -> tuple[list[Problem], list[list[str]]]:
    """Byte-level and header checks; returns parsed rows when the file is usable."""
    import csv
    import io

    path = (base / res["path"]).resolve()
    name = _rel(path, base)
    try:
        data = regular.read_bytes(path)
    except regular.NotRegularFile as exc:
        return [Problem(name, None, None, f"is {exc.what}, not a regular file; nothing was read")], []
    if not data.strip():
        return [Problem(name, None, None, "file is empty (expected a header and data rows)")], []
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 BOM is accepted
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1].hex()
        return [Problem(name, line, None, f"not valid UTF-8 (byte 0x{bad}); save the file as UTF-8")], []
    # Frictionless raises the csv module's field limit on import; set it here too, so the size rule below
    # does not depend on what was imported first.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        return [Problem(name, reader.line_num, None, f"cannot be read as CSV ({exc})")], []
    for line, row in enumerate(rows, start=1):
        for i, cell in enumerate(row):
            if len(cell) > MAX_CELL:
                column = rows[0][i] if line > 1 and i < len(rows[0]) else f"#{i + 1}"
                return [Problem(name, line, printable(column), f"cell is larger than 128 KB ({len(cell):,} characters); "
                                                               f"datasets hold short text")], []
    header = rows[0] if rows else []
    expected = [f.get("name") for f in res["schema"]["fields"]]
    problems = [Problem(name, 1, f"#{i + 1}", f"column name {_control_problem(label)}")
                for i, label in enumerate(header) if CONTROL.search(label) or BIDI.search(label)]
    if problems:
        return problems, []
    for line, row in enumerate(rows[1:], start=2):
        for i, cell in enumerate(row):
            if CONTROL.search(cell.replace("\r\n", "\n")) or BIDI.search(cell):
                column = header[i] if i < len(header) else f"#{i + 1}"
                problems.append(Problem(name, line, column, _control_problem(cell.replace("\r\n", "\n"))))
    if problems:
        return problems, []
    for i, label in enumerate(header):
        if label not in expected:
            hint = f" (expected {expected[i]!r} here; renamed?)" if i < len(expected) and expected[i] not in header else ""
            problems.append(Problem(name, 1, label or f"#{i + 1}", f"unexpected column{hint}"))
    for i, field in enumerate(expected):
        if field not in header:
            problems.append(Problem(name, 1, field, "required column is missing from the header"))
        elif i < len(header) and header[i] != field and not problems:
            problems.append(Problem(name, 1, field, f"column is out of order (position {header.index(field) + 1}, expected {i + 1})"))
    if problems:
        return problems, []
    data_rows = rows[1:]
    while data_rows and not any(c.strip() for c in data_rows[-1]) and len(data_rows[-1]) <= 1:
        data_rows.pop()  # csv.reader yields [] for a final empty line only when it is truly empty
    if not data_rows:
        return [Problem(name, None, None, "file has a header but no data rows")], []
    return [], rows


# --- Frictionless ----------------------------------------------------------------------

def _frictionless_problems(descriptor: dict, resources: list[dict], base: Path,
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
            return [Problem(_rel(base / "datapackage.json", base), None, None, f"invalid descriptor: {exc}")]
    by_name = {r["name"]: r for r in resources}
    for task in report.tasks:
        res = by_name.get(task.name)
        file = _rel(base / res["path"], base) if res else _rel(base / "datapackage.json", base)
        for err in task.errors:
            problems.append(_translate(err, file, res))
    for err in report.errors:
        problems.append(Problem(_rel(base / "datapackage.json", base), None, None, err.message))
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


def _frictionless_cached(descriptor: dict, resources: list[dict], base: Path, cache_dir: Path) -> list[Problem]:
    """`_frictionless_problems`, re-reading only what changed.

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
    fresh = _frictionless_problems(descriptor, [r for r in resources if r["name"] in needed], base, only=todo)
    files = {name: _rel(base / by_name[name]["path"], base) for name in todo}
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


# --- project rules ---------------------------------------------------------------------

def _text_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """Text cells must be inert wherever they are pasted: no formulas, no markup."""
    file = _rel(base / res["path"], base)
    header = rows[0]
    string_cols = [i for i, f in enumerate(res["schema"]["fields"]) if f.get("type", "string") == "string"]
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        for i in string_cols:
            if i >= len(row):
                continue
            cell = row[i]
            first = cell.lstrip()[:1]  # a spreadsheet ignores leading spaces: " =HYPERLINK(...)" is a formula too
            if first in FORMULA_PREFIXES:
                lead = "" if cell[:1] == first else " after leading whitespace"
                problems.append(Problem(file, line, header[i], f"text starts with {first!r}{lead} (spreadsheet formula "
                                                               f"injection risk); reword it"))
            if HTML_MARKUP.search(cell):
                tag = HTML_MARKUP.search(cell).group(0)
                problems.append(Problem(file, line, header[i], f"text contains HTML markup ({tag!r}...); datasets hold plain text"))
    return problems


def _number_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """inf and nan parse as numbers but are not figures: rejected unless the field declares
    `"nonFinite": true`."""
    file = _rel(base / res["path"], base)
    header = rows[0]
    fields = {f["name"]: f for f in res["schema"]["fields"]}
    problems = []
    for i, col in enumerate(header):
        field = fields.get(col, {})
        if field.get("type") != "number" or field.get("nonFinite") is True:
            continue
        for line, row in enumerate(rows[1:], start=2):
            if i < len(row) and row[i].strip().lower() in NON_FINITE:
                problems.append(Problem(file, line, col, f"{row[i]!r} is not a finite number (a field must declare "
                                                         f"\"nonFinite\": true to allow inf or nan)"))
    return problems


def _precision_rules(res: dict, rows: list[list[str]], base: Path) -> list[Problem]:
    """A date whose precision is month/year must not carry an invented day/month."""
    file = _rel(base / res["path"], base)
    header = rows[0]
    problems = []
    for i, col in enumerate(header):
        if not col.endswith("_precision") or col[: -len("_precision")] not in header:
            continue
        date_i = header.index(col[: -len("_precision")])
        for line, row in enumerate(rows[1:], start=2):
            if max(i, date_i) >= len(row):
                continue
            value, precision = row[date_i], row[i]
            if precision == "month" and value[8:10] not in ("", "01"):
                problems.append(Problem(file, line, header[date_i], f"{value!r} has a day but its precision is 'month' (use the 1st)"))
            if precision == "year" and value[5:10] not in ("", "01-01"):
                problems.append(Problem(file, line, header[date_i], f"{value!r} has a month/day but its precision is 'year' (use January 1st)"))
    return problems


def _cross_table_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """Facts held in two tables must agree (NATO accession dates)."""
    if "countries" not in texts or "nato_enlargement" not in texts:
        return []
    by_name = {r["name"]: r for r in resources}

    def table(name):
        rows = texts[name]
        return [dict(zip(rows[0], r)) for r in rows[1:] if r]

    joined = {r["iso3"]: r.get("accession_date", "") for r in table("nato_enlargement")}
    file = _rel(base / by_name["countries"]["path"], base)
    problems = []
    for line, row in enumerate(table("countries"), start=2):
        date, iso = row.get("nato_accession_date", ""), row.get("iso3", "")
        if iso in joined and joined[iso] != date:
            problems.append(Problem(file, line, "nato_accession_date", f"{date!r} disagrees with nato_enlargement.csv ({joined[iso]!r})"))
        if date and iso not in joined:
            problems.append(Problem(file, line, "nato_accession_date", f"{iso} has an accession date but no row in nato_enlargement.csv"))
    return problems


# --- provenance (issue 12) ---------------------------------------------------------------

# A source id cited in free text ("per kyivindependent-madrid-2022"): lower-case, two or more hyphens, a digit,
# not part of a URL or file name.
CITED_ID = re.compile(r"(?<![\w/.-])([a-z][a-z0-9]*(?:-[a-z0-9]+){2,})(?![\w/-])(?!\.[a-z])")
NEEDS_VIA = {"official-via-reprint", "transcription", "compiled-list"}


def _provenance_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """Every source id cited in notes exists; every source says how it was read, naming the reprint or list."""
    if "sources" not in texts:
        return []
    by_name = {r["name"]: r for r in resources}
    header, *body = texts["sources"]
    ids = {row[header.index("source_id")] for row in body if row}
    problems = []
    if "read_as" in header:
        file = _rel(base / by_name["sources"]["path"], base)
        for line, row in enumerate(body, start=2):
            rec = dict(zip(header, row))
            if rec.get("read_as") in NEEDS_VIA and not rec.get("via", "").strip():
                problems.append(Problem(file, line, "via", f"read_as is {rec['read_as']!r}: name the reprint, "
                                                           "transcription or list in via"))
            if rec.get("read_as") == "news-report" and not (rec.get("via", "").strip() or rec.get("url", "").strip()):
                problems.append(Problem(file, line, "via", "read_as is 'news-report': name the report in via "
                                                           "(or give the news article's url)"))
    for name, rows in texts.items():
        head, *data = rows
        cols = [i for i, c in enumerate(head) if c in ("notes", "via")]
        file = _rel(base / by_name[name]["path"], base)
        for line, row in enumerate(data, start=2):
            for i in cols:
                for cited in CITED_ID.findall(row[i] if i < len(row) else ""):
                    if any(ch.isdigit() for ch in cited) and cited not in ids:
                        problems.append(Problem(file, line, head[i], f"cites source {cited!r}, which is not in "
                                                                     "sources.csv (add it or drop the citation)"))
    return problems


# --- how a source was read agrees with what it names (issue 18) ----------------------------------

# `via` wording that says the figures came from a news report; such a source is read_as 'news-report'.
NEWS_VIA = re.compile(r"\b(reported by|as reported|news report|press coverage|press reports?)\b", re.I)


def _reading_rules(resources: list[dict], texts: dict, base: Path) -> list[Problem]:
    """`read_as` and `via` agree: an official file names the copy it came through (or says it came from the
    publisher) and is a raw snapshot under data/raw/; a snapshot's source is read as 'official-file'; a source
    whose via names a news report is never read as the official page or file."""
    import json

    if "sources" not in texts or "read_as" not in texts["sources"][0]:
        return []
    by_name = {r["name"]: r for r in resources}
    file = _rel(base / by_name["sources"]["path"], base)
    header, *body = texts["sources"]
    snapshots: dict[str, str] = {}  # source id -> metadata file
    for meta_path in sorted((base / "raw").glob("*/*.meta.json")):
        try:
            meta = json.loads(regular.read_text(meta_path))  # a FIFO here is refused, never waited on
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # reported by the snapshot rules
        if isinstance(meta, dict) and isinstance(meta.get("source_id"), str):
            snapshots[meta["source_id"]] = _rel(meta_path, base)
    problems = []
    for line, row in enumerate(body, start=2):
        rec = dict(zip(header, row))
        sid, read_as, via = rec.get("source_id", ""), rec.get("read_as", ""), rec.get("via", "").strip()
        if read_as == "official-file":
            if not via:
                problems.append(Problem(file, line, "via", "read_as is 'official-file': name in via the copy the file "
                                                           "came through (or say it was downloaded from the publisher)"))
            if sid not in snapshots:
                problems.append(Problem(file, line, "read_as", f"read_as is 'official-file' but no raw snapshot under "
                                                               f"data/raw/ has source_id {sid!r}"))
        elif sid in snapshots:
            problems.append(Problem(file, line, "read_as", f"{read_as!r}, but {snapshots[sid]} makes {sid!r} a raw "
                                                           "snapshot: read_as is 'official-file'"))
        if read_as in ("official-page", "official-file") and NEWS_VIA.search(via):
            problems.append(Problem(file, line, "read_as", f"read_as is {read_as!r} but via names a news report "
                                                           f"({NEWS_VIA.search(via).group(0)!r}): a figure taken from "
                                                           "a news report is read_as 'news-report'"))
    return problems


def _snapshot_rules(base: Path) -> list[Problem]:
    """Raw release files under data/raw/ match the sha256 in the metadata beside them."""
    from .importers import snapshot_problems

    return [Problem(file, None, column, message) for file, column, message in snapshot_problems(base)]


def _rel(path: Path, base: Path) -> str:
    """A path as the analyst knows it: relative to the folder holding data/."""
    try:
        return str(path.resolve().relative_to(base.parent))
    except ValueError:
        return str(path)
