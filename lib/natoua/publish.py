"""Publishing editions atomically, and the build lock.

Layout under reports/:

    _editions/2026-03-31--20261127T101500-4242/   every published build, kept until `natoua prune`
    2026-03-31 -> _editions/2026-03-31--...        the current build of that edition
    latest -> 2026-03-31                            the full edition with the newest as_of
    2026-03-31-usd -> _editions/2026-03-31-usd--... the same cut-off in US dollars: its own edition
    latest-usd -> 2026-03-31-usd                    the newest full US-dollar edition
    partial/2026-03-31 -> ../_editions/...          the newest partial build (--sections) of that date
    partial/latest -> 2026-03-31                    the newest partial build

An edition is keyed by its cut-off and currency (`edition_key`): the default currency (EUR) has the bare date,
another currency a suffix (`-usd`), so building one currency never touches another's folder or `latest`.

A build writes into `_editions/.tmp-<run>/`, renames it to its final name, then
switches the `<as_of>` link and the `latest` link, each with an atomic rename.
Killing a build at any moment therefore leaves the previous edition and
`latest` as they were; the next run removes staging folders and repairs a
`latest` left behind by a crash between the two switches. Cleanup never
deletes a build: old and rolled-back builds stay in `_editions/` until
`natoua prune --keep N`. A partial build never becomes `<as_of>` or `latest`.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

EDITIONS = "_editions"
TMP_PREFIX = ".tmp-"
LATEST = "latest"
PARTIAL = "partial"


DEFAULT_CURRENCY = "EUR"


def edition_key(as_of: str, currency: str = DEFAULT_CURRENCY) -> str:
    """The name of an edition: '2026-03-31' (EUR), '2026-03-31-usd'."""
    return as_of if currency.upper() == DEFAULT_CURRENCY else f"{as_of}-{currency.lower()}"


def latest_name(currency: str = DEFAULT_CURRENCY) -> str:
    """The link to a currency's newest edition: 'latest' (EUR), 'latest-usd'."""
    return LATEST if currency.upper() == DEFAULT_CURRENCY else f"{LATEST}-{currency.lower()}"


def parse_key(name: str) -> tuple[str, str] | None:
    """('2026-03-31', 'USD') for '2026-03-31-usd'; None for a name that is not an edition key."""
    as_of, rest = name[:10], name[10:]
    if not _is_date(as_of):
        return None
    if rest == "":
        return as_of, DEFAULT_CURRENCY
    if rest.startswith("-") and rest[1:].isalpha() and rest[1:].islower() and len(rest) == 4:
        return as_of, rest[1:].upper()
    return None


class ReportsLayoutError(Exception):
    """The reports folder holds something the build must not replace (a real folder where a link goes)."""


class Locked(Exception):
    """Another build holds the lock."""


class LockLost(Exception):
    """The lock file this run locked was deleted or replaced while it ran (`make clean`, a stale-lock sweep):
    another build may be running, so this one publishes nothing."""


_HELD: dict[str, tuple[int, int]] = {}  # lock file -> (device, inode) of the file this process locked


def _remember(path: Path) -> None:
    st = os.stat(path)
    _HELD[str(path)] = (st.st_dev, st.st_ino)


def check_lock(reports: Path) -> None:
    """Raise LockLost unless the lock file this process locked is still the one at its path. A lock is a
    lock on a file, not a name: once the file is deleted, a second build locks a new file of the same name
    and runs; the first must notice before it publishes or deletes anything."""
    path = reports / ".build.lock"
    expected = _HELD.get(str(path))
    if expected is None:
        return
    try:
        st = os.stat(path)
        same = (st.st_dev, st.st_ino) == expected
    except OSError:
        same = False
    if not same:
        raise LockLost(f"the build lock {path} was removed while this run held it (another build may be running); "
                       f"nothing published: run again")


def _owner_alive(name: str) -> bool:
    """Whether the run that named a folder `...-<pid>` (a run id) is still running: its staging and scratch
    folders are its own, even if its lock file was deleted and another build now holds a new one."""
    match = re.search(r"-(\d+)$", name)
    if not match or int(match.group(1)) == os.getpid():
        return False
    try:
        cmdline = Path(f"/proc/{match.group(1)}/cmdline").read_bytes()
    except OSError:
        return False
    return b"natoua" in cmdline or b"python" in cmdline


def lock(reports: Path, wait: bool, timeout: float = 6 * 3600, on_wait=None) -> FileLock:
    """Hold the reports folder's build lock; with wait=False a held lock raises Locked at once,
    with wait=True `on_wait` is called once and the build waits its turn."""
    reports.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(reports / ".build.lock"))
    try:
        held.acquire(timeout=0)
        _remember(reports / ".build.lock")
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
    _remember(reports / ".build.lock")
    return held


def new_run_id() -> str:
    """Names one run's staging, scratch and published folders: sortable by time, unique per process."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f") + f"-{os.getpid()}"


def new_staging(reports: Path, run_id: str) -> Path:
    staging = reports / EDITIONS / f"{TMP_PREFIX}{run_id}"
    staging.mkdir(parents=True)
    return staging


def clean_leftovers(reports: Path) -> list[Path]:
    """Remove what killed builds left behind (call while holding the lock): staging folders, half-made
    links, unlinked brief folders, scratch run folders and truncated cache files. Never a build."""
    removed: list[Path] = []
    store = reports / EDITIONS
    if store.exists():
        for p in store.iterdir():
            if p.name.startswith(TMP_PREFIX) and not _owner_alive(p.name):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        for build in store.iterdir():  # brief folders a killed `natoua briefs` left unlinked
            if build.is_dir() and not build.name.startswith(TMP_PREFIX):
                linked_briefs = (build / "briefs").resolve() if (build / "briefs").is_symlink() else None
                for p in build.glob(".briefs-*"):
                    if p != linked_briefs and not _owner_alive(p.name):
                        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                        removed.append(p)
    for folder in (reports, reports / PARTIAL):
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.startswith(".link-") and p.is_symlink():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    runs = reports / ".cache" / "runs"  # scratch folders of failed or killed builds
    if runs.is_dir():
        for p in runs.iterdir():
            if _owner_alive(p.name):
                continue
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    sections = reports / ".cache" / "sections"  # a cache write cut short (disk full, killed)
    if sections.is_dir():
        for p in sections.glob("*/.*.tmp"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def check_layout(reports: Path, as_of: str, currency: str = DEFAULT_CURRENCY) -> None:
    """The links a build will switch must be links (or absent): a real folder there is an operator's
    file, which the build neither replaces nor half-publishes around."""
    key, latest = edition_key(as_of, currency), latest_name(currency)
    for link in (reports / latest, reports / key, reports / PARTIAL / latest, reports / PARTIAL / key):
        if (link.exists() or link.is_symlink()) and not link.is_symlink():
            raise ReportsLayoutError(f"{link} is a real {'folder' if link.is_dir() else 'file'}, not a link to an edition; "
                              f"move it away (the build switches it atomically)")
    partial = reports / PARTIAL
    if partial.exists() and not partial.is_dir():
        raise ReportsLayoutError(f"{partial} is not a folder; move it away")


def repair_latest(reports: Path) -> bool:
    """Point each currency's `latest` at its full edition with the newest as_of if a crash left it behind (or
    missing)."""
    repaired = False
    for currency in currencies(reports):
        keys = editions(reports, currency=currency)
        link = reports / latest_name(currency)
        if not keys or (link.exists() and not link.is_symlink()):
            continue
        if link.is_symlink() and os.readlink(link) == keys[-1]:
            continue
        _switch_link(link, Path(keys[-1]))
        repaired = True
    return repaired


def currencies(reports: Path, partial: bool = False) -> list[str]:
    """The currencies that have a published edition (or partial build)."""
    folder = reports / PARTIAL if partial else reports
    if not folder.is_dir():
        return []
    found = {parse_key(p.name) for p in folder.iterdir() if p.is_symlink()}
    return sorted({k[1] for k in found if k is not None})


def prune(reports: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest builds of each edition date and kind (full editions and partial
    builds counted apart, so the newest full edition of a date is never deleted for a newer partial one,
    nor for a missing link); a build a link points to is never deleted (call while holding the lock)."""
    store = reports / EDITIONS
    if not store.is_dir():
        return []
    keep = max(1, keep)
    linked = {p.resolve() for folder in (reports, reports / PARTIAL) if folder.is_dir()
              for p in folder.iterdir() if p.is_symlink()}
    by_kind: dict[tuple[str, bool], list[Path]] = {}
    for p in store.iterdir():
        if p.is_dir() and not p.name.startswith(TMP_PREFIX) and "--" in p.name:
            by_kind.setdefault((p.name.split("--")[0], _is_partial(p)), []).append(p)
    removed = []
    for builds in by_kind.values():
        for p in sorted(builds, key=lambda b: b.name, reverse=True)[keep:]:
            if p.resolve() not in linked:
                check_lock(reports)
                shutil.rmtree(p)
                removed.append(p)
    return sorted(removed)


def _is_partial(build: Path) -> bool:
    import json

    try:
        return bool(json.loads((build / "manifest.json").read_text(encoding="utf-8")).get("partial", False))
    except (OSError, ValueError, AttributeError):
        return False


def current(reports: Path, as_of: str, partial: bool = False, currency: str = DEFAULT_CURRENCY) -> Path | None:
    """The build the `<as_of>` link (`<as_of>-usd` for US dollars; or `partial/...`) points at."""
    link = (reports / PARTIAL if partial else reports) / edition_key(as_of, currency)
    if link.is_symlink() and link.resolve().is_dir():
        return link.resolve()
    return None


def editions(reports: Path, partial: bool = False, currency: str = DEFAULT_CURRENCY) -> list[str]:
    """Keys of a currency's published editions (or partial builds), oldest first ('2026-03-31', or
    '2026-03-31-usd' for US dollars)."""
    folder = reports / PARTIAL if partial else reports
    if not folder.is_dir():
        return []
    keys = []
    for p in folder.iterdir():
        parsed = parse_key(p.name)
        if parsed and parsed[1] == currency.upper() and current(reports, parsed[0], partial, parsed[1]):
            keys.append(p.name)
    return sorted(keys)


def previous_edition(reports: Path, as_of: str, partial: bool = False,
                     currency: str = DEFAULT_CURRENCY) -> Path | None:
    """The edition this one is compared with: the current build of the same as_of and currency if there is one,
    else the newest edition of that currency with an earlier as_of (partial builds are compared with partial
    builds). Editions in another currency are never compared: every amount would differ by the rate."""
    same = current(reports, as_of, partial, currency)
    if same is None:
        earlier = [k for k in editions(reports, partial, currency) if k[:10] < as_of]
        same = current(reports, earlier[-1][:10], partial, currency) if earlier else None
    return same if same is not None and _currency_of(same) in (None, currency.upper()) else None


def _currency_of(build: Path) -> str | None:
    """The currency a published build was made in (from its manifest), None if it does not say."""
    import json

    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    common = (manifest.get("parameters") or {}).get("common") or {}
    return str(common["currency"]).upper() if common.get("currency") else None


def _is_date(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def publish(staging: Path, reports: Path, as_of: str, run_id: str, partial: bool = False,
            currency: str = DEFAULT_CURRENCY) -> Path:
    """Give the staged build its final name, then switch its edition link (`<as_of>`, `<as_of>-usd`) and its
    currency's `latest` (`latest`, `latest-usd`) to it (for a partial build, under `partial/`). Another
    currency's links are never touched."""
    check_lock(reports)
    check_layout(reports, as_of, currency)
    key, latest = edition_key(as_of, currency), latest_name(currency)
    final = reports / EDITIONS / f"{key}--{run_id}"
    os.replace(staging, final)
    if partial:
        (reports / PARTIAL).mkdir(exist_ok=True)
        _switch_link(reports / PARTIAL / key, Path("..") / EDITIONS / final.name)
        _switch_link(reports / PARTIAL / latest, Path(key))
        return reports / PARTIAL / key
    _switch_link(reports / key, Path(EDITIONS) / final.name)
    _switch_link(reports / latest, Path(editions(reports, currency=currency)[-1]))
    return reports / key


def _switch_link(link: Path, target: Path) -> None:
    tmp = link.parent / f".link-{link.name}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def switch_briefs(edition: Path, staging: Path, reports: Path | None = None) -> None:
    """Switch edition/briefs to the new folder with one atomic rename of a symlink; drop the old folder.
    Briefs already published for allies the new folder lacks are carried into it first (hard links), so
    briefs are published per ally: building EST never removes POL."""
    link = edition / "briefs"
    old = link.resolve() if link.is_symlink() else (link if link.is_dir() else None)
    if old is not None and old.is_dir():
        for f in old.iterdir():
            if f.is_file() and not f.name.startswith(".") and not (staging / f.name).exists():
                try:
                    os.link(f, staging / f.name)
                except OSError:
                    shutil.copyfile(f, staging / f.name)
    if reports is not None:
        check_lock(reports)
    old = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    tmp = edition / f".briefs-link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(staging.name, tmp)
    os.replace(tmp, link)
    if old is not None and old != staging and old.parent == edition:
        shutil.rmtree(old, ignore_errors=True)
