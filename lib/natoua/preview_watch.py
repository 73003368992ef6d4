"""Watching notebooks/ and data/ for the preview: a file counts as changed once its content changed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from . import cache

SETTLE_SECONDS = 0.15  # a change is acted on once files have stopped changing for this long


class Watcher:
    """Polls the watched folders; `changed()` is true once a file's content (not just its mtime) changed."""

    def __init__(self, folders: list[Path]):
        self.folders = folders
        self.stats = self._stat()
        self.digests = {p: _content_digest(p) for p in self.stats}

    def _stat(self) -> dict[Path, tuple[int, int]]:
        found = {}
        for folder in self.folders:
            for p in folder.rglob("*"):
                rel = p.relative_to(folder).parts
                if any(part.startswith(".") for part in rel) or not p.is_file():
                    continue  # editor swap files, .ipynb_checkpoints
                try:
                    st = p.stat()
                except OSError:
                    continue
                found[p] = (st.st_mtime_ns, st.st_size)
        return found

    def changed(self) -> list[Path]:
        """Files whose content changed since the last call (added and removed files count)."""
        stats = self._stat()
        if stats == self.stats:
            return []
        time.sleep(SETTLE_SECONDS)  # let an editor finish writing
        stats = self._stat()
        touched = [p for p in stats.keys() | self.stats.keys() if stats.get(p) != self.stats.get(p)]
        self.stats = stats
        out = []
        for p in touched:
            digest = _content_digest(p) if p in stats else None
            if digest != self.digests.get(p):
                out.append(p)
            if digest is None:
                self.digests.pop(p, None)
            else:
                self.digests[p] = digest
        return sorted(out)


def _content_digest(path: Path) -> str | None:
    """What matters in a file: a notebook's cells without outputs (Lab saving outputs rebuilds nothing)."""
    try:
        if path.suffix == ".ipynb":
            return cache.notebook_digest(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return hashlib.sha256(str(time.time()).encode()).hexdigest()  # unreadable mid-save: try again
