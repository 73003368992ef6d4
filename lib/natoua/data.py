"""Load datasets by name from data/datapackage.json.

`load("summits", as_of="2024-12-31")` returns a typed DataFrame with the rows
known on that date. Every read is recorded (dataset name and content hash) in
the file named by NATOUA_RUN_LOG when the build sets it, so the build cache
knows which datasets a notebook actually used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths, regular

if TYPE_CHECKING:
    import pandas as pd

RUN_LOG_ENV = "NATOUA_RUN_LOG"


class DataError(Exception):
    """A dataset could not be loaded; the message names file, row and column."""


# --- the package descriptor -------------------------------------------------

@lru_cache(maxsize=4)
def _package(descriptor_path: str, mtime_ns: int) -> dict:
    try:
        return json.loads(regular.read_text(descriptor_path))
    except regular.NotRegularFile as exc:
        raise DataError(f"{_rel(Path(descriptor_path))}:-:-: is {exc.what}, not a regular file") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{_rel(Path(descriptor_path))}:{exc.lineno}:-: not valid JSON: {exc.msg}") from None
    except (RecursionError, UnicodeDecodeError):
        raise DataError(f"{_rel(Path(descriptor_path))}:-:-: not valid JSON (nested too deeply or not UTF-8)") from None


def package() -> dict:
    """The parsed datapackage.json."""
    p = paths.datapackage()
    if not p.exists():
        raise DataError(f"{_rel(p)}:-:-: data package descriptor is missing")
    return _package(str(p), p.stat().st_mtime_ns)


def resource(name: str) -> dict:
    """The descriptor of one resource (schema, sources, coverage)."""
    for res in package().get("resources", []):
        if res.get("name") == name:
            return res
    known = ", ".join(sorted(r.get("name", "?") for r in package().get("resources", [])))
    raise DataError(f"{_rel(paths.datapackage())}:-:-: no dataset named {name!r} (known: {known})")


def resource_names() -> list[str]:
    return [r["name"] for r in package().get("resources", [])]


def resource_path(res: dict) -> Path:
    """The CSV behind a resource; refuses paths that leave the data folder."""
    base = paths.data_dir()
    raw = res.get("path")
    if not isinstance(raw, str) or not raw:
        raise DataError(f"{_rel(paths.datapackage())}:-:-: resource {res.get('name')!r} has no path")
    if re.search(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//|\\", raw):
        raise DataError(f"{_rel(paths.datapackage())}:-:-: resource {res.get('name')!r} path {raw!r} is not a local path")
    target = (base / raw).resolve()
    if Path(raw).is_absolute() or ".." in Path(raw).parts or not target.is_relative_to(base):
        raise DataError(
            f"{_rel(paths.datapackage())}:-:-: resource {res.get('name')!r} path {raw!r} points outside the data folder"
        )
    what = regular.not_regular(target)  # a FIFO would block whoever opens it: refused before anyone does
    if what:
        raise DataError(f"{_rel(target)}:-:-: is {what}, not a regular file")
    return target


# --- loading -------------------------------------------------------------------

def load(name: str, as_of: str | date | None = None) -> pd.DataFrame:
    """A dataset as a typed DataFrame.

    With `as_of`, rows dated after it are dropped, using the field the resource
    names in its `as_of_filter` property (a date field, or an integer year).
    """
    res = resource(name)
    csv_path = resource_path(res)
    frame = _read_typed(name, str(csv_path), _file_digest(csv_path), json.dumps(res, sort_keys=True))
    _record_read(name, csv_path, res)
    if as_of is not None and res.get("as_of_filter"):
        frame = _filter_as_of(frame, res["as_of_filter"], as_of)
    return frame.copy()


def preload() -> None:
    """Parse every dataset into this process's cache, recording no read: the kernel zygote does this once, so
    each kernel forked from it finds the datasets already typed (about 0.1-0.3 s of CPU a notebook, 32 of them
    for the briefs). The cache is keyed on each file's digest, so a file changed since is read again. A dataset
    that cannot be read is left to the loader, which reports it where a notebook reads it."""
    try:
        names = resource_names()
    except Exception:  # only a head start: the loader reports any problem where a notebook meets it
        return
    for name in names:
        try:
            res = resource(name)
            csv_path = resource_path(res)
            _read_typed(name, str(csv_path), _file_digest(csv_path), json.dumps(res, sort_keys=True))
        except Exception:  # as above: a malformed dataset must not stop the kernels of the sections that
            continue       # do not read it


def rows_as_read(name: str, as_of) -> bytes:
    """The dataset's CSV as an edition of `as_of` read it: the header and the rows the as_of filter keeps, every
    value as written in the file (what the PDF attaches, so a reader sees no row the edition did not use)."""
    import pandas as pd  # late import: the no-change build path must stay fast

    res = resource(name)
    csv_path = resource_path(res)
    if not res.get("as_of_filter"):
        return csv_path.read_bytes()
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    typed = _read_typed(name, str(csv_path), _file_digest(csv_path), json.dumps(res, sort_keys=True))
    keep = _as_of_mask(typed, res["as_of_filter"], as_of).to_numpy()
    return raw.loc[keep].to_csv(index=False, lineterminator="\n").encode("utf-8")


def _filter_as_of(frame: pd.DataFrame, rule: dict, as_of) -> pd.DataFrame:
    return frame.loc[_as_of_mask(frame, rule, as_of)].reset_index(drop=True)


def _as_of_mask(frame: pd.DataFrame, rule: dict, as_of) -> pd.Series:
    import pandas as pd  # late import: the no-change build path must stay fast

    cutoff = pd.Timestamp(as_of)
    field = rule["field"]
    col = frame[field]
    if pd.api.types.is_datetime64_any_dtype(col):
        keep = col.isna() if rule.get("keep_undated") else pd.Series(False, index=frame.index)
        keep |= col <= cutoff
    else:  # an integer year: the year is kept once it has started
        keep = col <= cutoff.year
    return keep


@lru_cache(maxsize=64)
def _read_typed(name: str, csv_path: str, digest: str, descriptor_json: str) -> pd.DataFrame:
    import pandas as pd  # late import: the no-change build path must stay fast

    res = json.loads(descriptor_json)
    fields = res.get("schema", {}).get("fields", [])
    import io

    try:
        raw = pd.read_csv(io.BytesIO(regular.read_bytes(csv_path)), dtype=str, keep_default_na=False,
                          encoding="utf-8-sig")
    except regular.NotRegularFile as exc:
        raise DataError(f"{_rel(Path(csv_path))}:-:-: is {exc.what}, not a regular file") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{_rel(Path(csv_path))}:-:-: cannot read CSV: {exc}") from None
    missing = [f["name"] for f in fields if f["name"] not in raw.columns]
    if missing:
        raise DataError(f"{_rel(Path(csv_path))}:1:{missing[0]}: column is missing from the header")
    out = {}
    for field in fields:
        out[field["name"]] = _convert(raw[field["name"]], field, csv_path)
    return pd.DataFrame(out)


def _convert(col: pd.Series, field: dict, csv_path: str) -> pd.Series:
    import pandas as pd  # late import: the no-change build path must stay fast

    kind = field.get("type", "string")
    empty = col.str.strip() == ""
    try:
        if kind == "integer":
            return pd.to_numeric(col.where(~empty), errors="raise").astype("Int64")
        if kind == "number":
            return pd.to_numeric(col.where(~empty), errors="raise").astype("float64")
        if kind == "boolean":
            mapped = col.str.lower().map({"true": True, "false": False})
            if (mapped.isna() & ~empty).any():
                raise ValueError("not true/false")
            return mapped.astype("boolean")
        if kind == "date":
            return pd.to_datetime(col.where(~empty), format="%Y-%m-%d", errors="raise")
        if kind == "year":
            return pd.to_numeric(col.where(~empty), errors="raise").astype("Int64")
    except (ValueError, TypeError):
        row = _first_bad_row(col, kind)
        raise DataError(
            f"{_rel(Path(csv_path))}:{row}:{field['name']}: value {col.iloc[row - 2]!r} is not a valid {kind}"
        ) from None
    return col.where(~empty, None).astype("string")


def _first_bad_row(col: pd.Series, kind: str) -> int:
    for i, value in enumerate(col):
        if value.strip() == "":
            continue
        try:
            if kind in ("integer", "year"):
                int(value)
            elif kind == "number":
                float(value)
            elif kind == "date":
                date.fromisoformat(value)
            elif kind == "boolean" and value.lower() not in ("true", "false"):
                raise ValueError
        except ValueError:
            return i + 2  # header is line 1
    return 2


# --- reads, hashes, sources ------------------------------------------------------

def _file_digest(path: Path) -> str:
    what = regular.not_regular(path)
    if what:
        raise DataError(f"{_rel(path)}:-:-: is {what}, not a regular file")
    stat = path.stat()
    return _digest_of(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    """sha256 of a file, computed once per version of it (an edit changes mtime or size)."""
    return hashlib.sha256(regular.read_bytes(path)).hexdigest()


def descriptor_digest(res: dict) -> str:
    return hashlib.sha256(json.dumps(res, sort_keys=True).encode()).hexdigest()


def dataset_digest(name: str) -> str:
    """Content hash of one dataset: its CSV bytes and its descriptor."""
    res = resource(name)
    return hashlib.sha256(
        (_file_digest(resource_path(res)) + descriptor_digest(res)).encode()
    ).hexdigest()


_RECORDED: set[tuple[str, str, str]] = set()  # (log, dataset, digest) this process has written


def _record_read(name: str, csv_path: Path, res: dict) -> None:
    log = os.environ.get(RUN_LOG_ENV)
    if not log:
        return
    digest = dataset_digest(name)
    if (log, name, digest) in _RECORDED:  # the log is read as a set: a repeat only costs a write (a section
        return                            # looks sources up hundreds of times)
    entry = {"dataset": name, "digest": digest}
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    _RECORDED.add((log, name, digest))


@dataclass(frozen=True)
class Source:
    source_id: str
    publisher: str
    title: str
    edition: str
    url: str

    def citation(self) -> str:
        """'Publisher, Title, edition' with the edition's parenthetical detail left to the appendix."""
        edition = self.edition.split(" (")[0].strip()
        edition = f", {edition}" if edition and edition.lower() not in self.title.lower() else ""
        return f"{self.publisher}, {self.title}{edition}"


def source(source_id: str) -> Source:
    res = resource("sources")
    csv_path = resource_path(res)
    found = _sources_by_id(str(csv_path), _file_digest(csv_path), json.dumps(res, sort_keys=True))
    _record_read("sources", csv_path, res)
    if source_id not in found:
        raise DataError(f"{_rel(csv_path)}:-:source_id: unknown source {source_id!r}")
    return found[source_id]


@lru_cache(maxsize=4)
def _sources_by_id(csv_path: str, digest: str, descriptor_json: str) -> dict[str, Source]:
    """Every source by id (the first row of an id), per version of sources.csv: `source` is called for
    every figure, table and claim, hundreds of times a section."""
    import pandas as pd  # late import: the no-change build path must stay fast

    table = _read_typed("sources", csv_path, digest, descriptor_json)
    found: dict[str, Source] = {}
    for row in table.itertuples(index=False):
        row = row._asdict()
        found.setdefault(row["source_id"], Source(
            source_id=row["source_id"],
            publisher=str(row["publisher"]),
            title=str(row["title"]),
            edition="" if pd.isna(row["edition"]) else str(row["edition"]),
            url="" if pd.isna(row["url"]) else str(row["url"]),
        ))
    return found


def source_ids(frame_or_ids) -> list:
    """The distinct source ids behind the rows (a DataFrame's source_id column) or in a list, in order of first use."""
    import pandas as pd  # late import: the no-change build path must stay fast

    ids = frame_or_ids["source_id"].dropna() if isinstance(frame_or_ids, pd.DataFrame) else frame_or_ids
    return list(dict.fromkeys(ids))


def source_line(frame_or_ids) -> str:
    """'Source: ...' naming each distinct publisher, title and edition behind the rows."""
    found = [source(i) for i in source_ids(frame_or_ids)]
    cites = list(dict.fromkeys(s.citation() for s in found))
    if not cites:
        return "Source: none (no rows)."
    if len(cites) <= MAX_FULL_CITATIONS:
        return "Source: " + "; ".join(cites) + "."
    return "Source: " + _compact(found) + "; full references in Sources and methodology."


MAX_FULL_CITATIONS = 4


def _compact(found: list["Source"]) -> str:
    """Many sources: one entry per publisher, counting its publications, most-cited first."""
    by_publisher: dict[str, list] = {}
    for src in found:
        by_publisher.setdefault(src.publisher, [])
        if src.citation() not in [s.citation() for s in by_publisher[src.publisher]]:
            by_publisher[src.publisher].append(src)
    ranked = sorted(by_publisher.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    parts = [kv[0] if len(kv[1]) == 1 else f"{kv[0]} ({len(kv[1])} publications)" for kv in ranked[:5]]
    rest = len(ranked) - 5
    if rest > 0:
        parts.append(f"{rest} other publisher{'s' if rest > 1 else ''}")
    return "; ".join(parts)


def source_text(source) -> str:
    """A 'Source:' line from text, a DataFrame with source_id, or a list of source ids."""
    import pandas as pd  # late import: the no-change build path must stay fast

    if isinstance(source, str):
        return source if source.startswith("Source") else f"Source: {source}"
    if isinstance(source, pd.DataFrame) or isinstance(source, (list, tuple, set)):
        return source_line(source if isinstance(source, pd.DataFrame) else list(source))
    raise TypeError("source must be text, a DataFrame with a source_id column, or source ids")


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)
