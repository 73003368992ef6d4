"""Per-ally briefs: notebooks/ally_brief.ipynb run once per ally, exported to HTML and PDF.

    natoua briefs [--as-of 2026-03-31] [--allies POL,DEU|all] [--jobs N] [--force]

Briefs go to reports/<as_of>/briefs/<ISO3>.pdf|.html inside the published
edition of that date (build the report first). Ally codes are checked against
the allies on `as_of` before anything runs, so a code can never reach a path.
Executed briefs and their exports are cached like report sections.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import cache, paths, publish
from .build import EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_OK, BuildError, check_as_of, check_out, run_jobs, validate_data

ISO3 = re.compile(r"^[A-Z]{3}$")
TITLE = "Ally brief — NATO–Ukraine Relations 2026"


def brief_title(ally_name: str) -> str:
    """The brief's title (PDF window title, running header): names the ally."""
    return f"{ally_name}: {TITLE}"


def parse_allies(value: str, as_of: str) -> list[str]:
    """'all' or comma-separated ISO3 codes of allies on as_of; anything else is an error."""
    from .analysis import allies

    on_date = list(allies(as_of)["iso3"])
    if value.strip().lower() == "all":
        return on_date
    codes = [c.strip().upper() for c in value.split(",") if c.strip()]
    bad = [c for c in codes if not ISO3.match(c)]
    if bad or not codes:
        raise BuildError(f"--allies: {', '.join(map(repr, bad)) or repr(value)} is not a list of ISO3 codes like POL,DEU",
                         EXIT_BAD_INPUT)
    unknown = [c for c in codes if c not in on_date]
    if unknown:
        raise BuildError(f"--allies: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not NATO allies on {as_of}",
                         EXIT_BAD_INPUT)
    return list(dict.fromkeys(codes))


def run_briefs(args) -> int:
    as_of = check_as_of(args.as_of)
    reports = check_out(args.out)
    try:
        held = publish.lock(reports, wait=True,
                            on_wait=lambda path: print(f"waiting for another build to finish (lock {path})", flush=True))
    except publish.Locked:
        raise BuildError("another build is running", EXIT_LOCKED) from None
    try:
        publish.clean_leftovers(reports)
        problems = validate_data(reports)
        if problems:
            for p in problems:
                print(str(p), file=sys.stderr)
            raise BuildError(f"data validation failed: {len(problems)} problem(s); no briefs were built", EXIT_BAD_INPUT)
        codes = parse_allies(args.allies, as_of)
        partial = publish.current(reports, as_of) is None  # briefs go into a partial build only when no full one exists
        edition = publish.current(reports, as_of, partial=partial)
        if edition is None:
            raise BuildError(f"no published edition for {as_of} in {reports}: build it first (make report AS_OF={as_of})",
                             EXIT_BAD_INPUT)
        folder = (Path(args.out) / publish.PARTIAL if partial else Path(args.out)) / as_of / "briefs"
        return _build(codes, as_of, args, reports, edition, folder)
    finally:
        held.release()


def _build(codes: list[str], as_of: str, args, reports: Path, edition: Path, folder: Path) -> int:
    from tqdm import tqdm

    from .execute import Job

    started = time.perf_counter()
    notebook = paths.ally_brief_notebook()
    store = cache.SectionCache(reports / ".cache" / "sections")
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f") + f"-{os.getpid()}"
    scratch = reports / ".cache" / "runs" / run_id
    staging = edition / f".briefs-{run_id}"
    staging.mkdir()
    from .analysis import allies

    names = allies(as_of).set_index("iso3")["name"]
    keys, done, jobs = {}, {}, []
    for code in codes:
        params = {"ally": code, "as_of": as_of, "currency": "EUR"}
        keys[code] = cache.section_key(notebook, params)
        entry = None if args.force else store.lookup(f"brief-{code}", keys[code])
        exports = entry and [entry.notebook.with_suffix(s) for s in (".html", ".pdf")]
        if entry and all(p.exists() for p in exports):
            done[code] = entry.notebook
            continue
        jobs.append(Job(f"brief-{code}", notebook, params, scratch / f"{code}.ipynb", export_title=brief_title(names[code])))
    failed = []
    with tqdm(total=len(codes), initial=len(done), desc="briefs", unit="ally", file=sys.stdout,
              disable=not sys.stdout.isatty()) as bar:
        def progress(result):
            code = result.section.removeprefix("brief-")
            if result.ok:
                nb = store.store(result.section, keys[code], result.output.read_bytes(), result.reads, result.seconds)
                for suffix in (".html", ".pdf"):
                    shutil.copyfile(result.output.with_suffix(suffix), nb.with_suffix(suffix))
                done[code] = nb
            else:
                err = result.error or {}
                failed.append(code)
                tqdm.write(f"  {code} FAILED: {err.get('ename')}: {str(err.get('evalue', '')).strip().splitlines()[:1]}")
            bar.update(1)

        run_jobs(jobs, args.jobs or os.cpu_count() or 1, progress)
    shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"{len(failed)} brief(s) failed: {', '.join(failed)}; existing briefs left as they were")
    for code, nb in done.items():
        for suffix in (".html", ".pdf"):
            if suffix == ".pdf" and not args.pdf:
                continue
            shutil.copyfile(nb.with_suffix(suffix), staging / f"{code}{suffix}")
    _publish_briefs(edition, staging)
    print(f"{len(codes)} briefs ({len(jobs)} built, {len(codes) - len(jobs)} cached) in "
          f"{folder}/ in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


def _publish_briefs(edition: Path, staging: Path) -> None:
    """Switch edition/briefs to the new folder with one atomic rename of a symlink; drop the old folder."""
    link = edition / "briefs"
    old = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    tmp = edition / f".briefs-link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(staging.name, tmp)
    os.replace(tmp, link)
    if old is not None and old != staging and old.parent == edition:
        shutil.rmtree(old, ignore_errors=True)
