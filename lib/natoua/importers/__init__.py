"""Importers: a publisher's release file -> the project's tidy dataset (owid/etl's snapshot -> tidy steps).

Each publisher has a folder `data/raw/<publisher>/` holding its release file exactly as published
and a metadata record beside it (`<file>.meta.json`: publisher, title, release, landing and file
URLs, retrieved date, sha256, terms of use, the source id the tidy rows cite). One module per
publisher (`sipri`, `ecb`) knows the file's layout and returns tidy rows; this module runs them:

    natoua import sipri PATH          # read PATH, print what would change in the dataset
    natoua import sipri PATH --write  # ... and write the dataset, the snapshot and its metadata

Without PATH the committed snapshots are re-imported (`make data`). A file in another layout raises
`LayoutError` naming sheet, row and column, and nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from datetime import date
from pathlib import Path

from .. import paths, regular
from ..files import write_atomic
from .tidy import KEPT_COLUMNS, LayoutError, Tidy

META_SUFFIX = ".meta.json"
META_FIELDS = ("publisher", "title", "release", "published", "landing_url", "file_url", "file", "retrieved",
               "retrieved_how", "sha256", "terms_of_use", "source_id", "importer", "datasets")


def publishers() -> dict:
    from . import ecb, nato, sipri

    return {"sipri": sipri, "ecb": ecb, "nato": nato}


def raw_dir(data_dir: Path | None = None) -> Path:
    return (data_dir or paths.data_dir()) / "raw"


def snapshots(publisher: str, data_dir: Path | None = None) -> list[tuple[Path, dict]]:
    """Every committed snapshot of a publisher with its metadata, oldest release first. One for a publisher whose
    dataset is one release (SIPRI, ECB); one per edition where the dataset keeps several (NATO)."""
    folder = raw_dir(data_dir) / publisher
    found = []
    for meta_path in sorted(folder.glob("*" + META_SUFFIX)):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        found.append((folder / meta["file"], meta))
    if not found:
        raise LayoutError(str(folder), f"no snapshot metadata file (*{META_SUFFIX})")
    return sorted(found, key=lambda fm: (str(fm[1].get("published") or ""), fm[0].name))


def snapshot_meta(publisher: str, data_dir: Path | None = None) -> tuple[Path, dict]:
    """The publisher's newest committed snapshot and its metadata record."""
    return snapshots(publisher, data_dir)[-1]


def sha256(path: Path) -> str:
    return hashlib.sha256(regular.read_bytes(path)).hexdigest()


# --- what would change -----------------------------------------------------------------

def changes(old_csv: Path, new: Tidy, value_columns: list[str], top: int = 5) -> list[str]:
    """Rows added, removed and revised between the committed dataset and the new one, as printable lines."""
    old_rows: dict[tuple, dict] = {}
    owned = {r[new.columns.index(new.owned_by)] for r in new.rows} if new.owned_by else None
    if old_csv.exists():
        with open(old_csv, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if owned is None or row.get(new.owned_by) in owned:  # a shared dataset: this release's rows only
                    old_rows[tuple(row.get(k, "") for k in new.keys)] = row
    new_rows = {tuple(r[new.columns.index(k)] for k in new.keys): dict(zip(new.columns, r)) for r in new.rows}
    added = sorted(set(new_rows) - set(old_rows))
    removed = sorted(set(old_rows) - set(new_rows))
    revised, other = [], 0
    for key in sorted(set(new_rows) & set(old_rows)):
        a, b = old_rows[key], new_rows[key]
        for col in value_columns:
            if col not in a:
                continue
            x, y = _num(a[col]), _num(b[col])
            if x is not None and y is not None:
                if x != y:
                    revised.append((abs(y - x) / (abs(x) or 1.0), key, col, a[col], b[col]))
            elif (a[col] or "") != (b[col] or ""):
                revised.append((float("inf"), key, col, a[col] or "(empty)", b[col] or "(empty)"))
        if any(a.get(c, b[c]) != b[c] for c in new.columns if c not in value_columns
               and not (new.owned_by and c in KEPT_COLUMNS)):
            other += 1
    lines = [f"{new.dataset}: {len(new_rows)} rows; release {new.release!r} (source id {new.source_id})",
             f"  rows added: {len(added)}, removed: {len(removed)}, values revised: {len(revised)}, "
             f"rows with other columns changed: {other}"]
    for label, keys in (("added", added), ("removed", removed)):
        if keys:
            shown = ", ".join("/".join(k) for k in keys[:8])
            lines.append(f"  {label}: {shown}{' ...' if len(keys) > 8 else ''}")
    if revised:
        lines.append(f"  largest revisions (of {len(revised)}):")
        for rel, key, col, a, b in sorted(revised, key=lambda r: (-r[0], r[1], r[2]))[:top]:
            pct = "" if rel == float("inf") else f" ({rel:+.1%})" if rel < 10 else " (x" + f"{rel:.0f})"
            lines.append(f"    {'/'.join(key)} {col}: {a} -> {b}{pct}")
    return lines


def _num(text: str):
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


# --- running an import ----------------------------------------------------------------------

def run(publisher: str, path: Path | None, write: bool, out=print, data_dir: Path | None = None,
        file_url: str | None = None) -> int:
    """Import one release file (without `path`: every committed snapshot of the publisher, oldest first). Prints
    what would change; writes only with `write`. Returns an exit code."""
    base = data_dir or paths.data_dir()
    committed = snapshots(publisher, base)
    if path is None:
        return max(_run_one(publisher, snap, meta, committed, write, out, base, file_url) for snap, meta in committed)
    path = Path(path)
    if not path.exists():
        raise LayoutError(str(path), "file not found")
    digest = sha256(path) if path.is_file() else ""
    snap, meta = next(((s, m) for s, m in committed if m["sha256"] == digest), committed[-1])
    return _run_one(publisher, path, meta, committed, write, out, base, file_url)


def _run_one(publisher, path: Path, meta: dict, committed: list, write: bool, out, base: Path, file_url) -> int:
    module = publishers()[publisher]
    tidy = read(module, path, meta)
    target = base / f"{tidy.dataset}.csv"
    new_bytes = tidy.dataset_bytes(target)
    same_file = any(path.resolve() == s.resolve() or sha256(path) == m["sha256"] for s, m in committed)
    for line in changes(target, tidy, module.VALUE_COLUMNS):
        out(line)
    if tidy.source_id != meta["source_id"]:
        out(f"  new release: {tidy.release!r} (was {meta['release']!r}); rows will cite {tidy.source_id}")
    unchanged = target.exists() and target.read_bytes() == new_bytes
    if unchanged and same_file:
        out(f"  {target.name} is up to date (byte for byte)")
        return 0
    if not write:
        out("  nothing written; run again with --write to update the dataset"
            + ("" if same_file else ", the snapshot under data/raw/ and its metadata"))
        return 0
    if not same_file:
        # a dataset that keeps several releases (owned_by) keeps each release's snapshot; otherwise the new file
        # replaces the old one (which stays in git history)
        keep_old = tidy.owned_by is not None and tidy.source_id != meta["source_id"]
        _replace_snapshot(publisher, path, committed[-1][0], meta, tidy, base, file_url, keep_old)
    write_atomic(target, new_bytes)
    out(f"  wrote {target.relative_to(base.parent) if target.is_relative_to(base.parent) else target}")
    return 0


def read(module, path: Path, meta: dict) -> Tidy:
    """module.read, after the guard's checks; any failure to parse the file is a LayoutError (one line, exit code 2),
    never a traceback: the file is untrusted input."""
    from . import guard

    guard.check(path, expect_zip=getattr(module, "EXPECTS_ZIP", True))
    try:
        return module.read(path, meta)
    except LayoutError:
        raise
    except MemoryError:
        raise LayoutError(Path(path).name, "ran out of memory while reading the file; nothing written") from None
    except Exception as exc:  # a damaged member, bad XML, a truncated stream ...: bad input, not a crash
        raise LayoutError(Path(path).name, f"cannot be read ({type(exc).__name__}: {exc})") from None


def _replace_snapshot(publisher, path: Path, committed: Path, meta: dict, tidy: Tidy, base: Path, file_url,
                      keep_old: bool = False) -> None:
    """Copy the new release file in, write its metadata, and add its source row if it is new."""
    folder = raw_dir(base) / publisher
    new_meta = dict(meta)
    new_meta.update(tidy.meta)
    new_meta.update({"file": path.name, "sha256": sha256(path), "retrieved": date.today().isoformat(),
                     "source_id": tidy.source_id, "release": tidy.release,
                     "file_url": file_url or "",
                     "retrieved_how": "Imported with `natoua import` from a local copy of the publisher's file; "
                                      "record where it was downloaded from (file_url)."})
    if path.resolve() != (folder / path.name).resolve():
        shutil.copyfile(path, folder / (path.name + ".tmp"))
        os.replace(folder / (path.name + ".tmp"), folder / path.name)
    if committed.name != path.name and not keep_old:
        committed.unlink(missing_ok=True)
        (folder / (committed.name + META_SUFFIX)).unlink(missing_ok=True)
    write_atomic(folder / (path.name + META_SUFFIX),
                  (json.dumps({k: new_meta.get(k) for k in META_FIELDS}, indent=2, ensure_ascii=False) + "\n").encode())
    add_source(new_meta, base)


def add_source(meta: dict, base: Path) -> None:
    """Append the release's row to sources.csv unless its id is already there."""
    sources = base / "sources.csv"
    with open(sources, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if any(r["source_id"] == meta["source_id"] for r in reader):
            return
    published = meta.get("published") or ""
    precision = {10: "day", 7: "month", 4: "year"}.get(len(published), "")
    published = {7: published + "-01", 4: published + "-01-01"}.get(len(published), published)
    row = {"source_id": meta["source_id"], "publisher": meta["publisher"], "title": meta["title"],
           "edition": meta["release"], "url": meta.get("landing_url") or "", "published": published,
           "published_precision": precision, "accessed": meta["retrieved"], "licence": "",
           # where the file came from; empty (and refused by validation) until someone records it
           "via": f"the publisher's file as downloaded from {meta['file_url']}" if meta.get("file_url") else "",
           "read_as": "official-file",
           "notes": f"Publisher's release file kept as a raw snapshot: data/raw/{meta['importer'].rsplit('.', 1)[-1]}/"
                    f"{meta['file']} (sha256 {meta['sha256'][:12]}...); terms: {meta.get('terms_of_use', '')}"}
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore").writerow(row)
    text = sources.read_text(encoding="utf-8")
    write_atomic(sources, (text + ("" if text.endswith("\n") else "\n") + buf.getvalue()).encode("utf-8"))


# --- validation: the snapshots are what their metadata say ----------------------------------------

def snapshot_problems(data_dir: Path) -> list[tuple[str, str | None, str]]:
    """(file, field, message) for every raw snapshot whose metadata is incomplete or whose hash differs."""
    found = []
    root = raw_dir(data_dir)
    if not root.is_dir():
        return found
    for meta_path in sorted(root.glob("*/*" + META_SUFFIX)):
        rel = str(meta_path.relative_to(data_dir.parent))
        what = regular.not_regular(meta_path)
        if what:
            found.append((rel, None, f"is {what}, not a regular file; nothing was read"))
            continue
        try:
            meta = json.loads(regular.read_text(meta_path))
        except regular.NotRegularFile as exc:
            found.append((rel, None, f"is {exc.what}, not a regular file; nothing was read"))
            continue
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            found.append((rel, None, f"not valid JSON: {exc}"))
            continue
        missing = [k for k in META_FIELDS if k not in meta]
        if missing:
            found.append((rel, missing[0], f"metadata field is missing ({', '.join(missing)})"))
            continue
        snap = meta_path.parent / str(meta["file"])
        if regular.not_regular(snap):
            found.append((rel, "file", f"snapshot {meta['file']!r} is {regular.not_regular(snap)}, not a regular file"))
        elif Path(str(meta["file"])).name != meta["file"] or not snap.is_file():
            found.append((rel, "file", f"snapshot {meta['file']!r} is missing beside its metadata"))
        elif sha256(snap) != meta["sha256"]:
            found.append((rel, "sha256", f"{meta['file']} does not match its recorded sha256 "
                                         f"(file {sha256(snap)[:12]}..., recorded {str(meta['sha256'])[:12]}...): "
                                         "a raw snapshot is never edited; import a new release instead"))
    return found
