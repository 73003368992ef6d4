"""The data a run validated are the data it used.

`validate` checks the whole package, remembered by content in reports/.cache/validation (a valid package is
not checked twice; after an edit only what changed is re-read). `snapshot` hashes every data file as
validated; `check_unchanged` compares it again after the sections ran and before publishing, and checks every
dataset a section read against its validated digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import cache, paths
from .errors import EXIT_BAD_INPUT, BuildError


def validate(reports: Path, snapshot: dict | None = None) -> list:
    """Every problem in the data package; a valid package is remembered (by content) in reports/.cache."""
    from .validate import validate_package

    digest = _package_content_digest(snapshot if snapshot is not None else data_snapshot())
    marker = reports / ".cache" / "validation" / f"{digest}.ok"
    if marker.exists():
        return []
    problems = validate_package(cache_dir=reports / ".cache" / "validation" / "resources")  # re-reads what changed
    if not problems:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("valid\n")
    return problems


def _package_content_digest(snapshot: dict) -> str:
    h = hashlib.sha256(cache.package_digest().encode())
    h.update(str(paths.data_dir()).encode())
    for name, digest in sorted(snapshot.items()):
        h.update(name.encode())
        h.update(digest.encode())
    return h.hexdigest()


def data_snapshot() -> dict[str, str]:
    """sha256 of every file in the data folder, by path: the package as validation saw it."""
    base = paths.data_dir()
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def dataset_digests() -> dict[str, str]:
    """Dataset name -> content digest, as the loader sees them now."""
    from . import data

    return {name: data.dataset_digest(name) for name in data.resource_names()}


def check_unchanged(validated: dict, datasets: dict, reads: list[dict]) -> None:
    """The data the run validated is the data it used: no file changed since validation, and every
    dataset a section read is the validated version. Otherwise exit 2 naming the file."""
    from . import data

    now = data_snapshot()
    changed = sorted(k for k in set(validated) | set(now) if validated.get(k) != now.get(k))
    if not changed:
        for section_reads in reads:
            for name, digest in section_reads.items():
                if datasets.get(name, digest) != digest:
                    try:
                        changed.append(str(data.resource_path(data.resource(name)).relative_to(paths.data_dir())))
                    except (data.DataError, ValueError):
                        changed.append(name)
    if changed:
        raise BuildError(f"data/{changed[0]} changed while the build ran (after validation)"
                         f"{f' (and {len(changed) - 1} more)' if len(changed) > 1 else ''}; nothing published: "
                         f"run the build again", EXIT_BAD_INPUT)
