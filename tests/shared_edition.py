"""The test run's shared edition (conftest.default_edition), built in a process of its own that starts as soon
as a test process has collected a test that reads it: the edition builds while the unit tests run, instead of
a test process standing idle until it is built.

How the processes agree, with no clock and no polling: the builder takes `default-edition.lock` in the run's
folder before it says "locked" on its first line and keeps it until the edition is built; the test process that
started it waits for that line before it marks the build started (under `default-edition.start.lock`). Any
test process that then needs the edition takes `default-edition.lock` and so waits for the builder to finish,
and reads `default-edition.built` or, if the build failed, `default-edition.failed` (its output).

Run as `python shared_edition.py RUN_FOLDER` (what `start` does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

# `make test-quick` (the inner loop) keeps the shared edition's build caches between runs in the folder this
# variable names: a later run's build takes unchanged sections from them, keyed as any build's cache is (the
# notebook's bytes, the data it reads, the package's code), so only what changed since the last run executes.
# `make test` (what CI runs) leaves it unset: its shared edition is always built cold.
KEEP_CACHE_ENV = "NATOUA_TEST_KEEP_CACHE"

ROOT = Path(__file__).resolve().parent.parent


def folder(run: Path) -> Path:
    return run / "default-edition"


def _marker(run: Path, what: str) -> Path:
    return run / f"default-edition.{what}"  # beside the folder, not in it: the folder is only the build's


def seeded_reports(reports: Path, edition_reports: Path) -> Path:
    """A new reports folder whose caches (executed sections, validation, parameters) are the shared
    edition's: a build of unchanged sections on unchanged data takes them from the cache (no kernel starts).
    For tests about what a build publishes, not about executing notebooks."""
    shutil.copytree(edition_reports / ".cache", reports / ".cache",
                    ignore=shutil.ignore_patterns("runs", "timings.json"))
    return reports


def _build(run: Path) -> None:
    out = folder(run)
    shutil.rmtree(out, ignore_errors=True)  # a builder that died half-way left it
    out.mkdir()
    kept = os.environ.get(KEEP_CACHE_ENV)
    if kept:
        with FileLock(kept + ".lock"):
            if (Path(kept) / ".cache").is_dir():
                seeded_reports(out, Path(kept))
    proc = subprocess.run([sys.executable, "-m", "natoua.cli", "build", "--jobs", "2", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"the shared edition's build exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    if kept:
        _keep_cache(out, Path(kept))


def _keep_cache(out: Path, kept: Path) -> None:
    """Replace the kept caches by this build's, whole (never a mix of two runs' files)."""
    with FileLock(str(kept) + ".lock"):
        fresh = kept.with_name(f"{kept.name}.new-{os.getpid()}")
        old = kept.with_name(f"{kept.name}.old-{os.getpid()}")
        shutil.rmtree(fresh, ignore_errors=True)
        seeded_reports(fresh, out)
        if kept.exists():
            kept.rename(old)
        fresh.rename(kept)
        shutil.rmtree(old, ignore_errors=True)


def main(run: Path) -> None:
    with FileLock(str(_marker(run, "lock"))):
        print("locked", flush=True)
        try:
            _build(run)
        except BaseException as exc:  # every test that reads the edition reports this
            _marker(run, "failed").write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
            raise
        _marker(run, "built").touch()


_builder: subprocess.Popen | None = None  # the builder this test process started, if any


def start(run: Path) -> None:
    """Start the builder unless a test process of this run already did (or the edition is built)."""
    global _builder
    with FileLock(str(_marker(run, "start.lock"))):
        if _marker(run, "started").exists():
            return
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(run)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        first = proc.stdout.readline()
        if first.strip() != "locked":
            proc.wait()
            raise RuntimeError(f"the shared edition's builder did not start: {first}{proc.stdout.read()}")
        _marker(run, "started").touch()
        _builder = proc


def wait(run: Path) -> Path:
    """The built edition's reports folder, once the builder has finished (starting it if nobody has)."""
    start(run)
    with FileLock(str(_marker(run, "lock"))):
        pass  # held by the builder until it is done
    failed = _marker(run, "failed")
    if failed.exists():
        raise RuntimeError(failed.read_text(encoding="utf-8"))
    assert _marker(run, "built").exists(), "the shared edition's builder ended without building it"
    return folder(run)


def finish() -> None:
    """At the end of this test process: wait for the builder it started (another process may be reading it)."""
    if _builder is not None:
        _builder.communicate()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
