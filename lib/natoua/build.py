"""`natoua build`: run the section notebooks (see runner), then write the edition and publish it.

    natoua build [--as-of 2026-03-31] [--sections 02,07] [--jobs N] [--no-pdf] [--out reports]

Under the build lock: clean what a killed build left, validate the data and run what the cache does not
hold (runner), stop if the edition is already up to date, write the edition into a staging folder
(edition) and publish it atomically (publish). Exit codes: see errors and the README.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__, cache, paths, publish
from .errors import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_LOCKED, EXIT_OK, BuildError, first_line
from .files import read_json
from .plan import Section, check_out
from .runner import Outcome, Run, RunOptions, Runner, check

log = logging.getLogger("natoua.build")


@dataclass(frozen=True)
class Options(RunOptions):
    """The build command's options (frozen; what the run finds out is in runner.Run)."""

    pdf: bool = True
    keep_going: bool = False  # publish a degraded edition when sections fail
    wait: bool = True  # wait for another build's lock (else exit code 3)
    quiet: bool = False


def build(options: Options) -> int:
    started = time.perf_counter()
    sections = check(options)
    reports = check_out(options.out)
    # A subset of sections, or no PDF, is not the edition: published under reports/partial/, never latest.
    partial = len(sections) < len(paths.section_notebooks()) or not options.pdf
    try:
        held = publish.lock(reports, options.wait,
                            on_wait=lambda path: print(f"waiting for another build to finish (lock {path})", flush=True))
    except publish.Locked as exc:
        raise BuildError(f"another build is running (lock {exc}); try again later or use --wait", EXIT_LOCKED) from None
    try:
        publish.clean_leftovers(reports)
        try:
            publish.check_layout(reports, options.as_of, options.currency)
        except publish.ReportsLayoutError as exc:
            raise BuildError(f"--out: {exc}; nothing was built or published", EXIT_BAD_INPUT) from None
        if publish.repair_latest(reports):  # a build killed between its two link switches
            latest = reports / publish.latest_name(options.currency)
            _say(options, f"repaired {reports.name}/{latest.name}" + (f" -> {os.readlink(latest)}" if latest.is_symlink() else ""))
        from . import procs
        from .execute import clean_stale_socket_dirs

        clean_stale_socket_dirs()
        procs.sweep_orphans()  # what a build killed with SIGKILL (which cannot sweep) left running
        with Runner(options, reports) as runner:
            return _locked_build(options, runner, sections, partial, started)
    finally:
        held.release()


def _say(options: Options, text: str) -> None:
    log.info(text)
    if not options.quiet:
        print(text, flush=True)


def _locked_build(options: Options, runner: Runner, sections: list[Section], partial: bool, started: float) -> int:
    reports = runner.reports
    run = runner.prepare(runner.section_tasks(sections))  # workers start now: their start-up overlaps validation
    problems = runner.validate(run)
    if problems:
        for p in problems:
            print(str(p), file=sys.stderr)
        raise BuildError(f"data validation failed: {len(problems)} problem(s); nothing was built or published",
                         EXIT_BAD_INPUT)
    existing = publish.current(reports, options.as_of, partial, options.currency)
    if not run.to_run and existing is not None:
        manifest = read_json(existing / "manifest.json")
        if manifest.get("report_key") == report_key(options, run.keys, run.cached):
            key = publish.edition_key(options.as_of, options.currency)
            where = f"{publish.PARTIAL}/{key}" if partial else key
            _say(options, f"up to date: {reports.name}/{where} (nothing changed; {len(sections)} sections cached)")
            return EXIT_OK

    staging = publish.new_staging(reports, run.run_id)
    handler = logging.FileHandler(staging / "build.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("natoua")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        log.info("build %s as_of=%s sections=%s jobs=%s", run.run_id, options.as_of,
                 ",".join(s.section for s in sections), options.jobs)
        return _run_and_publish(options, runner, run, sections, partial, staging, started)
    finally:
        root.removeHandler(handler)
        handler.close()
        if staging.exists():  # not published: remove the staging folder
            shutil.rmtree(staging, ignore_errors=True)


def _run_and_publish(options: Options, runner: Runner, run: Run, sections: list[Section], partial: bool,
                     staging: Path, started: float) -> int:
    reports = runner.reports
    for s in sections:
        if s.section in run.cached:
            _say(options, f"  {s.section} {s.name:<34} cached   {run.cached[s.section].seconds:5.1f} s (last run)")

    def progress(o: Outcome) -> None:
        if o.status == "reworded":  # only its Markdown changed: nothing ran
            _say(options, f"  {o.task.name} {o.task.section.name:<34} prose    (only the text changed; outputs of "
                          f"the last run, {o.seconds:.1f} s)")
            return
        _say(options, f"  {o.task.name} {o.task.section.name:<34} {'ok' if o.status != 'failed' else 'FAILED':<8} "
                      f"{o.seconds:5.1f} s")
        if o.status == "failed":
            e = o.error or {}
            where = f"cell {e.get('cell')}" if e.get("cell") is not None else "before any cell ran"
            _say(options, f"     {where}: {e.get('ename')}: {first_line(e.get('evalue', ''))}")

    keep = reports / "_failed" / run.run_id
    runner.execute(run, progress, keep_failed=keep)
    runner.check_unchanged(run)
    failed = [s for s in sections if run.outcomes[s.section].status == "failed"]
    if failed:
        _say(options, f"failed sections kept in {keep}")
        if not options.keep_going:
            raise BuildError(f"{len(failed)} section(s) failed: {', '.join(s.section for s in failed)}; nothing published")

    lost = [sid for sid, o in run.outcomes.items() if o.status != "failed" and o.entry is None]
    if lost:  # the cache no longer matches the data: something changed under the build
        runner.check_unchanged(run)
        raise BuildError(f"the executed section {lost[0]} could not be read back from the cache; nothing published: "
                         f"run the build again")
    from .edition import write_edition

    entries = {sid: o.entry for sid, o in run.outcomes.items() if o.entry is not None}
    previous = publish.previous_edition(reports, options.as_of, partial, options.currency)
    write_edition(staging, options, sections, run, report_key(options, run.keys, entries), previous, partial)
    runner.check_unchanged(run)
    try:
        published = publish.publish(staging, reports, options.as_of, run.run_id, partial, options.currency)
    except publish.LockLost as exc:
        raise BuildError(str(exc), EXIT_LOCKED) from None
    except (OSError, publish.ReportsLayoutError) as exc:
        raise BuildError(f"publishing failed: {exc}; the next run repairs the links") from None
    total = time.perf_counter() - started
    phases = ", ".join(f"{k} {v:.1f}" for k, v in run.timings.items())
    _say(options, f"published {published} in {total:.1f} s ({phases})" + (" (DEGRADED)" if failed else "")
         + (" (partial build: not the edition, never latest)" if partial else ""))
    return EXIT_DEGRADED if failed else EXIT_OK


def report_key(options: Options, keys: dict, entries: dict) -> str:
    """What the published edition was made from: the sections' cache keys, the data each read, the natoua
    source and whether it has a PDF. An edition with the same key is up to date."""
    reads = {s: sorted(e.reads.items()) for s, e in entries.items() if e is not None}
    payload = json.dumps({"keys": keys, "reads": reads, "pdf": options.pdf, "pkg": cache.package_digest(),
                          "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()

