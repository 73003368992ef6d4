"""Per-ally briefs: notebooks/ally_brief.ipynb run once per ally, exported to HTML and PDF.

    natoua briefs [--as-of 2026-03-31] [--allies POL,DEU|all] [--jobs N] [--force]

Briefs go to reports/<as_of>/briefs/<ISO3>.pdf|.html inside the published
edition of that date (build the report first). Ally codes are checked against
the allies on `as_of` before anything runs, so a code can never reach a path.
Executed briefs and their exports are cached like report sections.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from . import paths, publish
from .errors import EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_OK, BuildError, first_line
from .plan import check_as_of, check_currency, check_out, load_section, parameters_memo
from .runner import RunOptions, Runner

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
    options = RunOptions(as_of=args.as_of, currency=args.currency.upper(), jobs=args.jobs,
                         cell_timeout=args.cell_timeout, force=args.force, out=args.out)
    check_as_of(options.as_of)
    check_currency(options.currency)
    reports = check_out(options.out)
    try:
        held = publish.lock(reports, wait=True,
                            on_wait=lambda path: print(f"waiting for another build to finish (lock {path})", flush=True))
    except publish.Locked:
        raise BuildError("another build is running", EXIT_LOCKED) from None
    try:
        publish.clean_leftovers(reports)
        with Runner(options, reports) as runner:
            return _build(runner, args.allies, args.pdf)
    finally:
        held.release()


def _build(runner: Runner, allies_arg: str, pdf: bool) -> int:
    from tqdm import tqdm

    from .analysis import allies

    started = time.perf_counter()
    options, reports = runner.options, runner.reports
    section = load_section("brief", paths.ally_brief_notebook(), parameters_memo(reports))
    checked = runner.prepare([])
    problems = runner.validate(checked)
    if problems:
        for p in problems:
            print(str(p), file=sys.stderr)
        raise BuildError(f"data validation failed: {len(problems)} problem(s); no briefs were built", EXIT_BAD_INPUT)
    codes = parse_allies(allies_arg, options.as_of)
    # briefs go into the edition of their cut-off and currency; into a partial build only when no full one exists
    partial = publish.current(reports, options.as_of, currency=options.currency) is None
    edition = publish.current(reports, options.as_of, partial=partial, currency=options.currency)
    key = publish.edition_key(options.as_of, options.currency)
    if edition is None:
        more = "" if options.currency == publish.DEFAULT_CURRENCY else f" ARGS='--currency {options.currency}'"
        raise BuildError(f"no published edition {key} in {reports}: build it first "
                         f"(make report AS_OF={options.as_of}{more})", EXIT_BAD_INPUT)
    folder = (Path(options.out) / publish.PARTIAL if partial else Path(options.out)) / key / "briefs"
    names = allies(options.as_of).set_index("iso3")["name"]
    tasks = [runner.task(section, {"ally": code}, name=code, export_title=brief_title(names[code]),
                         cache_name=f"brief-{code}") for code in codes]
    run = runner.prepare(tasks)
    run.snapshot, run.datasets = checked.snapshot, checked.datasets  # the data as validated, checked again below
    with tqdm(total=len(codes), initial=len(run.cached), desc="briefs", unit="ally", file=sys.stdout,
              disable=not sys.stdout.isatty()) as bar:
        def progress(outcome):
            if outcome.status == "failed":
                err = outcome.error or {}
                tqdm.write(f"  {outcome.task.name} FAILED: {err.get('ename')}: {first_line(err.get('evalue', ''))}")
            bar.update(1)

        runner.execute(run, progress)
    runner.check_unchanged(run)  # like the build: the briefs read the data that were validated
    failed = [o.task.name for o in run.failed()]
    if failed:
        raise BuildError(f"{len(failed)} brief(s) failed: {', '.join(failed)}; existing briefs left as they were")
    staging = edition / f".briefs-{run.run_id}"
    staging.mkdir()
    for code in codes:
        for suffix in (".html", ".pdf") if pdf else (".html",):
            shutil.copyfile(run.outcomes[code].notebook.with_suffix(suffix), staging / f"{code}{suffix}")
    runner.check_unchanged(run)
    try:
        publish.switch_briefs(edition, staging, reports)
    except publish.LockLost as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(str(exc), EXIT_LOCKED) from None
    print(f"{len(codes)} briefs ({len(run.to_run)} built, {len(codes) - len(run.to_run)} cached) in "
          f"{folder}/ in {time.perf_counter() - started:.1f} s")
    return EXIT_OK
