"""Cache of executed sections under reports/.cache/.

A section's entry is keyed on the notebook's content (outputs stripped), its
parameters and the natoua package source. The entry records which datasets
the execution read (the data loader logs them) and their content digests; it
is used only while every one of those datasets is unchanged. Entries are
written atomically (notebook first, then the meta file that commits it) and a
truncated or tampered entry fails its checksum and is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import data, paths
from .files import write_atomic

CACHE_FORMAT = 1


def sha256(data_bytes: bytes) -> str:
    return hashlib.sha256(data_bytes).hexdigest()


def notebook_digest(notebook: Path | bytes) -> str:
    """The notebook's content (a file, or its bytes as read) as a reader of the code sees it: cells, not
    outputs or counters."""
    nb = json.loads(notebook if isinstance(notebook, bytes) else Path(notebook).read_text(encoding="utf-8"))
    cells = [
        {"type": c.get("cell_type"), "source": _source(c), "tags": sorted(c.get("metadata", {}).get("tags", []))}
        for c in nb.get("cells", [])
    ]
    return sha256(json.dumps(cells, sort_keys=True).encode())


def code_digest(notebook: Path | bytes) -> str:
    """The notebook as its kernel sees it: `notebook_digest` with every Markdown cell's text left out (its
    place, tags and attachments kept). Two notebooks with the same code digest execute to the same outputs:
    a build's kernel never reads Markdown (the placeholders in it are filled in at export)."""
    nb = json.loads(notebook if isinstance(notebook, bytes) else Path(notebook).read_text(encoding="utf-8"))
    cells = [
        {"type": c.get("cell_type"), "id": c.get("id"), "tags": sorted(c.get("metadata", {}).get("tags", [])),
         "source": "" if c.get("cell_type") == "markdown" else _source(c), "attachments": c.get("attachments")}
        for c in nb.get("cells", [])
    ]
    return sha256(json.dumps(cells, sort_keys=True).encode())


def reworded(executed: bytes, source: bytes) -> bytes | None:
    """The executed notebook `executed` with the Markdown text of `source`, the same notebook with only its
    prose edited (same code digest): the bytes its execution would give, without running it. None if the
    two do not line up cell for cell (then it must run)."""
    try:
        done, new = json.loads(executed), json.loads(source)
        ran = [c for c in done["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
        if len(ran) != len(new["cells"]):
            return None
        for old, cell in zip(ran, new["cells"]):
            if (old.get("cell_type"), old.get("id")) != (cell.get("cell_type"), cell.get("id")):
                return None
            if cell.get("cell_type") == "markdown":
                old["source"] = _source(cell).splitlines(True)  # as nbformat writes it (Papermill's output)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return (json.dumps(done, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


@lru_cache(maxsize=1)
def package_digest() -> str:
    """Digest of the natoua package: code, templates (HTML, CSS, Typst) and fonts, every file that can shape
    the report; compiled caches and hidden files (editor swap files) are not part of it."""
    h = hashlib.sha256()
    root = paths.PACKAGE_SOURCE
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in rel and not any(x.startswith(".") for x in rel):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def params_digest(params: dict) -> str:
    return sha256(json.dumps(params, sort_keys=True, default=str).encode())


def section_key(notebook: Path | bytes, params: dict) -> str:
    """The cache key of a section run: pass the notebook's bytes as they will be executed (see Section.source)."""
    return sha256(f"{CACHE_FORMAT}|{notebook_digest(notebook)}|{params_digest(params)}|{package_digest()}".encode())


def code_key(notebook: Path | bytes, params: dict) -> str:
    """What a run's outputs depend on: `section_key` without the prose (see code_digest)."""
    return sha256(f"{CACHE_FORMAT}|code|{code_digest(notebook)}|{params_digest(params)}|{package_digest()}".encode())


@dataclass
class Entry:
    notebook: Path
    reads: dict[str, str]
    seconds: float


class SectionCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else paths.REPORTS / ".cache" / "sections"

    def _paths(self, section: str, key: str) -> tuple[Path, Path]:
        folder = self.root / section
        return folder / f"{key}.ipynb", folder / f"{key}.json"

    def lookup(self, section: str, key: str) -> Entry | None:
        """The cached execution, if it is complete, intact and its datasets are unchanged."""
        nb_path, meta_path = self._paths(section, key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != CACHE_FORMAT or sha256(nb_path.read_bytes()) != meta["notebook_sha256"]:
                raise ValueError("checksum mismatch")
        except (OSError, ValueError, KeyError, TypeError):
            self.discard(section, key)  # partial or corrupted: rebuild
            return None
        for name, digest in meta["reads"].items():
            try:
                if data.dataset_digest(name) != digest:
                    return None
            except data.DataError:
                return None
        return Entry(notebook=nb_path, reads=meta["reads"], seconds=meta.get("seconds", 0.0))

    def store(self, section: str, key: str, notebook_bytes: bytes, reads: dict[str, str], seconds: float,
              code: str = "") -> Path:
        """Store an execution under `key` and, given its `code_key`, remember it as the last run of that code."""
        nb_path, meta_path = self._paths(section, key)
        nb_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(nb_path, notebook_bytes)
        meta = {"format": CACHE_FORMAT, "notebook_sha256": sha256(notebook_bytes), "reads": reads,
                "seconds": round(seconds, 3)}
        write_atomic(meta_path, json.dumps(meta, sort_keys=True).encode())
        if code:
            write_atomic(self._code_path(section, code), json.dumps({"key": key}).encode())
        return nb_path

    def _code_path(self, section: str, code: str) -> Path:
        return self.root / section / f"code-{code}.json"

    def lookup_code(self, section: str, code: str) -> tuple[str, Entry] | None:
        """The last cached run of the same code (another prose), if still usable: (its key, its entry)."""
        try:
            key = json.loads(self._code_path(section, code).read_text(encoding="utf-8"))["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(key, str) or not key.isalnum():  # a tampered pointer names no other file
            return None
        entry = self.lookup(section, key)
        return (key, entry) if entry is not None else None

    def discard(self, section: str, key: str) -> None:
        for p in self._paths(section, key):
            p.unlink(missing_ok=True)

