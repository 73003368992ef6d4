"""What an importer returns (`Tidy`: the dataset's rows and the release) and the error it raises when a release
file is not in the layout it knows (`LayoutError`). Kept apart from the package so the publisher modules and
the package that runs them do not import each other."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path


class LayoutError(Exception):
    """The release file is not in the layout the importer knows. The message names sheet, row and column."""

    def __init__(self, file: str, message: str, sheet: str | None = None, row: int | None = None,
                 column: str | None = None):
        self.file, self.sheet, self.row, self.column = file, sheet, row, column
        where = [f"sheet {sheet!r}"] if sheet else []
        where += [f"row {row}"] if row is not None else []
        where += [f"column {column}"] if column else []
        super().__init__(f"{file}: {', '.join(where)}: {message}" if where else f"{file}: {message}")


@dataclass
class Tidy:
    """What an importer returns: the dataset's rows (already formatted as text) and the release."""

    dataset: str
    columns: list[str]
    rows: list[list[str]]
    keys: list[str]
    release: str  # the release label read from the file, e.g. "data 1949-2024"
    source_id: str  # the id the rows cite (derived from the release)
    meta: dict = field(default_factory=dict)  # metadata fields read from the file (release, published ...)
    # A dataset shared with other sources (NATO's editions): the importer owns the rows whose `owned_by` column
    # holds the value its own rows hold, and replaces only those (see `merged_bytes`).
    owned_by: str | None = None

    def csv_bytes(self) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buf.getvalue().encode("utf-8")

    def dataset_bytes(self, target: Path) -> bytes:
        """What the dataset file becomes: the whole file, or for a shared dataset the committed file with this
        release's rows replaced (see `merged_bytes`)."""
        return self.csv_bytes() if self.owned_by is None else merged_bytes(self, target)


KEPT_COLUMNS = ("notes",)  # the project's own remarks on a row: kept when a release is imported again


def merged_bytes(tidy: Tidy, target: Path) -> bytes:
    """The shared dataset with the rows this release owns replaced by the importer's rows.

    Owned rows are those whose `tidy.owned_by` column holds a value of the new rows (e.g. edition
    'nato-2024-06'); every other row stays byte for byte where it is. The new rows take the place of the first
    owned row (or go at the end when the release is new), in the importer's order. A row already in the
    dataset keeps its `notes` (the project's remarks, not the publisher's figures)."""
    owned = {r[tidy.columns.index(tidy.owned_by)] for r in tidy.rows}
    if not target.exists():
        return tidy.csv_bytes()
    with open(target, encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    header, body = table[0], table[1:]
    if header != tidy.columns:
        raise LayoutError(target.name, f"the dataset's header {header} is not the importer's {tidy.columns}", None, 1)
    col = header.index(tidy.owned_by)
    keys = [header.index(k) for k in tidy.keys]
    old = {tuple(r[i] for i in keys): r for r in body if len(r) > col and r[col] in owned}
    new_rows = []
    for row in tidy.rows:
        row = list(row)
        before = old.get(tuple(row[i] for i in keys))
        for name in KEPT_COLUMNS:
            if before is not None and name in header:
                row[header.index(name)] = before[header.index(name)]
        new_rows.append(row)
    out, placed = [], False
    for row in body:
        if len(row) > col and row[col] in owned:
            if not placed:
                out += new_rows
                placed = True
            continue
        out.append(row)
    if not placed:
        out += new_rows
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(out)
    return buf.getvalue().encode("utf-8")
