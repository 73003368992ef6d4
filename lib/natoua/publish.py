"""Publishing editions atomically, and the build lock.

Layout under reports/:

    _editions/2026-03-31--20261127T101500-4242/   every published build, kept
    2026-03-31 -> _editions/2026-03-31--...        the current build of that edition
    latest -> 2026-03-31                            the edition with the newest as_of

A build writes into `_editions/.tmp-<run>/`, renames it to its final name, then
switches the `<as_of>` link and the `latest` link, each with an atomic rename.
Killing a build at any moment therefore leaves the previous edition and
`latest` as they were; the next run removes staging folders and any build
that was renamed but never linked. A rebuilt edition never overwrites the old
one: the old build stays in `_editions/`.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

from filelock import FileLock, Timeout

EDITIONS = "_editions"
TMP_PREFIX = ".tmp-"
LATEST = "latest"


class Locked(Exception):
    """Another build holds the lock."""


def lock(reports: Path, wait: bool, timeout: float = 6 * 3600, on_wait=None) -> FileLock:
    """Hold the reports folder's build lock; with wait=False a held lock raises Locked at once,
    with wait=True `on_wait` is called once and the build waits its turn."""
    reports.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(reports / ".build.lock"))
    try:
        held.acquire(timeout=0)
        return held
    except Timeout:
        if not wait:
            raise Locked(str(reports / ".build.lock")) from None
    if on_wait is not None:
        on_wait(str(reports / ".build.lock"))
    try:
        held.acquire(timeout=timeout)
    except Timeout:
        raise Locked(str(reports / ".build.lock")) from None
    return held


def new_staging(reports: Path, run_id: str) -> Path:
    staging = reports / EDITIONS / f"{TMP_PREFIX}{run_id}"
    staging.mkdir(parents=True)
    return staging


def clean_leftovers(reports: Path) -> list[Path]:
    """Remove what killed builds left behind (call while holding the lock)."""
    removed: list[Path] = []
    store = reports / EDITIONS
    if not store.exists():
        return removed
    linked = {current(reports, p.name) for p in reports.iterdir() if _is_date(p.name)}
    for p in store.iterdir():
        as_of = p.name.split("--")[0]
        unlinked_newer = (
            not p.name.startswith(TMP_PREFIX)
            and p not in linked
            and (current(reports, as_of) is None or p.name > current(reports, as_of).name)
        )
        if p.name.startswith(TMP_PREFIX) or unlinked_newer:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    for build in store.iterdir():  # brief folders a killed `natoua briefs` left unlinked
        if build.is_dir() and not build.name.startswith(TMP_PREFIX):
            linked_briefs = (build / "briefs").resolve() if (build / "briefs").is_symlink() else None
            for p in build.glob(".briefs-*"):
                if p != linked_briefs:
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                    removed.append(p)
    for p in reports.iterdir():
        if p.name.startswith(".link-"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def current(reports: Path, as_of: str) -> Path | None:
    """The build the `<as_of>` link points at."""
    link = reports / as_of
    if link.is_symlink() and link.resolve().is_dir():
        return link.resolve()
    return None


def editions(reports: Path) -> list[str]:
    """as_of dates of published editions, oldest first."""
    if not reports.exists():
        return []
    return sorted(p.name for p in reports.iterdir() if _is_date(p.name) and current(reports, p.name))


def previous_edition(reports: Path, as_of: str) -> Path | None:
    """The edition this one is compared with: the current build of the same as_of if there is one,
    else the newest edition with an earlier as_of."""
    same = current(reports, as_of)
    if same is not None:
        return same
    earlier = [d for d in editions(reports) if d < as_of]
    return current(reports, earlier[-1]) if earlier else None


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def publish(staging: Path, reports: Path, as_of: str, run_id: str) -> Path:
    """Give the staged build its final name, then switch `<as_of>` and `latest` to it."""
    final = reports / EDITIONS / f"{as_of}--{run_id}"
    os.replace(staging, final)
    _switch_link(reports / as_of, Path(EDITIONS) / final.name)
    _switch_link(reports / LATEST, Path(editions(reports)[-1]))
    return reports / as_of


def _switch_link(link: Path, target: Path) -> None:
    tmp = link.parent / f".link-{link.name}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
