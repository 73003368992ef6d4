"""The data package's descriptor entries and files, checked before Frictionless reads them: entries that are
objects with a local .csv path inside the data folder and an inline schema; files that are regular, not too
large, UTF-8, readable as CSV, free of control characters, with the expected header and some data rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import regular
from .data_problem import BIDI, CONTROL, Problem, printable, shown_path

# A resource path that names a scheme (http:, file:, s3:...) or a network location is not a local file.
URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//|\\")
MAX_FILE_BYTES = 64 * 1024 * 1024  # one CSV (the largest dataset is under 1 MB): bounds the validator's memory
MAX_CELL = 128 * 1024  # characters in one CSV cell


def _control_problem(cell: str) -> str:
    if not CONTROL.search(cell):
        char = BIDI.search(cell).group(0)
        return (f"contains bidirectional control character U+{ord(char):04X} (it reorders how the text is "
                f"shown); remove it")
    char = CONTROL.search(cell).group(0)
    names = {"\x00": "NUL", "\x1b": "ESC, an ANSI escape sequence", "\r": "carriage return", "\x7f": "DEL"}
    return f"contains control character U+{ord(char):04X} ({names.get(char, 'not text')}); remove it"



def check_resource_entry(res, index: int, base: Path, dp_name: str, seen: set[str]) -> list[Problem]:
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
        return [Problem(shown_path(target, base), None, None, f"is {what}, not a regular file (resource {name!r}); "
                                                        f"nothing was read")]
    if not target.is_file():
        return [Problem(shown_path(target, base), None, None, f"file is missing (resource {name!r} in datapackage.json)")]
    if target.stat().st_size > MAX_FILE_BYTES:
        return [Problem(shown_path(target, base), None, None, f"file is larger than {MAX_FILE_BYTES // 2**20} MB "
                                                        f"({target.stat().st_size:,} bytes); datasets hold tidy tables "
                                                        f"of short text, nothing was read")]
    return []


def check_file(res: dict, base: Path) -> tuple[list[Problem], list[list[str]]]:
    """Byte-level and header checks; returns parsed rows when the file is usable."""
    import csv
    import io

    path = (base / res["path"]).resolve()
    name = shown_path(path, base)
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

