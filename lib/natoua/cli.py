"""The `natoua` command: build, briefs, preview, sweep, validate, import, prune."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import DEFAULT_AS_OF, paths


def _sections(value: str) -> list[str]:
    chosen = [s.strip() for s in value.split(",") if s.strip()]
    if not chosen:  # an empty list is not "every section": a full edition is built without --sections
        raise argparse.ArgumentTypeError(f"{value!r} names no section (leave --sections out to build them all)")
    return chosen


def _folder(value: str) -> Path:
    if not value.strip():  # Path("") is the current folder: never publish there by accident
        raise argparse.ArgumentTypeError("an empty path is not a folder (give the reports folder, e.g. reports)")
    return Path(value)


def _param(value: str) -> tuple[str, str, object]:
    """'12.ceasefire_year=2027' -> ('12', 'ceasefire_year', 2027)."""
    import ast

    try:
        target, raw = value.split("=", 1)
        section, name = target.split(".", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected SECTION.NAME=VALUE, e.g. 12.ceasefire_year=2027") from None
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        parsed = raw
    return section, name, parsed


def _seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds from 1 to 86400")
    return seconds


class _OneLineParser(argparse.ArgumentParser):
    """A bad argument is one line on stderr (for a schedule's log and mail), exit code 2; --help has the rest."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="natoua", description="Build the report 'NATO–Ukraine Relations 2026' from data.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build an edition (HTML + PDF) and publish it under reports/<as_of>/")
    b.add_argument("--as-of", default=DEFAULT_AS_OF, help=f"data cut-off date YYYY-MM-DD (default {DEFAULT_AS_OF})")
    b.add_argument("--sections", type=_sections, help="comma-separated section numbers, e.g. 02,07 (default: all)")
    b.add_argument("--jobs", type=int, default=0, help="worker processes (default: number of cores)")
    b.add_argument("--no-pdf", dest="pdf", action="store_false", help="skip the PDF")
    b.add_argument("--out", type=_folder, default=paths.REPORTS, help="reports folder (default: reports/)")
    b.add_argument("--currency", default="EUR", help="EUR (default) or USD")
    b.add_argument("-p", "--param", dest="params", type=_param, action="append", default=[],
                   metavar="SECTION.NAME=VALUE", help="a section parameter, e.g. -p 12.ceasefire_year=2027")
    b.add_argument("--force", action="store_true", help="ignore the cache and re-execute every section")
    b.add_argument("--keep-going", action="store_true", help="publish a degraded edition when sections fail")
    wait = b.add_mutually_exclusive_group()
    wait.add_argument("--wait", dest="wait", action="store_true", default=True, help="wait for a running build (default)")
    wait.add_argument("--no-wait", dest="wait", action="store_false", help="exit with code 3 if another build is running")
    b.add_argument("--quiet", action="store_true", help="print only errors")
    b.add_argument("--cell-timeout", type=_seconds, metavar="SECONDS",
                   help="fail a section whose cell runs longer than this (default: the notebook's "
                        "metadata natoua.cell_timeout, else 300)")

    pr = sub.add_parser("prune", help="delete old builds, keeping the N newest of each edition date (and any linked)")
    pr.add_argument("--keep", type=_count, required=True, metavar="N", help="builds to keep per edition date (>= 1)")
    pr.add_argument("--out", type=_folder, default=paths.REPORTS, help="reports folder (default: reports/)")

    v = sub.add_parser("validate", help="validate the data package (file:row:column: message per problem)")
    v.add_argument("--data", type=Path, help="data folder (default: data/)")

    br = sub.add_parser("briefs", help="build per-ally briefs into reports/<as_of>/briefs/")
    br.add_argument("--as-of", default=DEFAULT_AS_OF)
    br.add_argument("--allies", default="all", help="comma-separated ISO3 codes, or 'all' (default)")
    br.add_argument("--jobs", type=int, default=0)
    br.add_argument("--no-pdf", dest="pdf", action="store_false")
    br.add_argument("--out", type=_folder, default=paths.REPORTS)
    br.add_argument("--force", action="store_true")
    br.add_argument("--currency", default="EUR", help="EUR (default) or USD")
    br.add_argument("--cell-timeout", type=_seconds, metavar="SECONDS", help="as for build")

    im = sub.add_parser("import", help="import a publisher's release file into its tidy dataset (prints changes; "
                                       "writes with --write)")
    im.add_argument("publisher", choices=["sipri", "ecb", "nato"],
                    help="whose file: sipri (Milex workbook), ecb (eurofxref-hist) or nato (defence-expenditure tables workbook)")
    im.add_argument("path", nargs="?", type=Path, help="the release file (default: the committed snapshot in data/raw/)")
    im.add_argument("--write", action="store_true", help="write the dataset (and a new snapshot + metadata)")
    im.add_argument("--file-url", help="where the new file was downloaded from (recorded in its metadata)")
    im.add_argument("--data", type=Path, help="data folder (default: data/)")

    pv = sub.add_parser("preview", help="live HTML preview on http://localhost:8765/ that follows edits to notebooks and data")
    pv.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    pv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    pv.add_argument("--allow-remote", action="store_true", help="accept connections from other machines (not advised)")
    pv.add_argument("--as-of", default=DEFAULT_AS_OF)
    pv.add_argument("--sections", type=_sections, help="comma-separated section numbers (default: all)")
    pv.add_argument("--jobs", type=int, default=0)
    pv.add_argument("--currency", default="EUR")
    pv.add_argument("-p", "--param", dest="params", type=_param, action="append", default=[], metavar="SECTION.NAME=VALUE")
    pv.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True,
                    help="render the PDF in the background after each change (default; --no-pdf: only on request)")
    pv.add_argument("--out", type=_folder, default=paths.REPORTS, help="reports folder; the preview lives in its .preview/")
    pv.add_argument("--cell-timeout", type=_seconds, metavar="SECONDS", help="as for build")

    sw = sub.add_parser("sweep", help="run one section over a grid of parameter values and show which claims move "
                                      "(into reports/sweeps/<as_of>/; publishes nothing)")
    sw.add_argument("section", help="the section, e.g. 12")
    sw.add_argument("-p", "--param", dest="params", action="append", default=[], metavar="SECTION.NAME=V1,V2,...",
                    help="a swept parameter and its values (the grid is the cross product), "
                         "e.g. -p 12.ceasefire_year=2026,2027,2029")
    sw.add_argument("--show", metavar="CLAIM", help="the claim drawn as a heatmap over two swept numeric parameters "
                                                    "(default: the one that moves most)")
    sw.add_argument("--as-of", default=DEFAULT_AS_OF)
    sw.add_argument("--currency", default="EUR")
    sw.add_argument("--jobs", type=int, default=0, help="worker processes (default: number of cores)")
    sw.add_argument("--no-pdf", dest="pdf", action="store_false", help="skip the page's PDF")
    sw.add_argument("--out", type=_folder, default=paths.REPORTS, help="reports folder (default: reports/)")
    sw.add_argument("--quiet", action="store_true", help="print only errors")
    sw.add_argument("--cell-timeout", type=_seconds, metavar="SECONDS", help="as for build")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args)
    if args.command == "import":
        return _import(args)
    from .errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED, BuildError

    from . import procs

    before = os.environ.get(procs.RUN_ENV)
    token = procs.start_run()  # every process this run starts carries it; all are ended below
    owner = os.getpid()
    previous_handlers = _on_signals(owner, token)
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "preview":
            return _preview(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "prune":
            return _prune(args)
        if args.command == "briefs":
            from .briefs import run_briefs
            from .execute import quiet_imports

            quiet_imports()  # like the build: a cold validation otherwise pays about 2 s of CPU for it
            return run_briefs(args)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:  # a full disk, a file limit, a folder that vanished: one line, not a traceback
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}; stopped, nothing more published", file=sys.stderr)
        return 1
    except Exception as exc:
        edition = sys.modules.get("natoua.edition")  # not imported for its own sake: the no-change path stays fast
        if edition is None or not isinstance(exc, edition.EditionError):
            raise
        print(f"error: {exc}; nothing published", file=sys.stderr)  # e.g. one claim made by two sections
        return 1
    except KeyboardInterrupt:
        print("interrupted (SIGINT): stopped; nothing more published", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated (SIGTERM): stopped; nothing more published", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if os.getpid() == owner:
            procs.sweep(procs.RUN_ENV, token)  # kernels and whatever they started, in any session
            # called in-process (a test, a notebook): leave the caller's environment and signals as they were
            os.environ.pop(procs.RUN_ENV, None) if before is None else os.environ.__setitem__(procs.RUN_ENV, before)
            _restore_signals(previous_handlers)
    return EXIT_BAD_INPUT


class Terminated(BaseException):
    """SIGTERM (systemd's stop, `kill`): unwound like Ctrl-C, so locks are released and staging removed."""


def _on_signals(owner: int, token: str) -> dict:
    """SIGTERM and SIGINT first end every process of this run (kernels and their children, whatever their
    session), so workers stop waiting on them at once, then unwind the build (exit 143 or 130). In a
    worker process (forked from this one) the signals keep their usual meaning."""
    import signal

    from . import procs

    def handler(signum, frame):
        if os.getpid() != owner:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            os._exit(128 + signum)
        signal.signal(signum, signal.SIG_IGN)  # one unwinding, even if the signal comes again
        procs.sweep(procs.RUN_ENV, token)
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    import signal

    for sig, handler in previous.items():
        if handler is not None:
            signal.signal(sig, handler)


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return int(value)


def _prune(args) -> int:
    from . import publish
    from .errors import EXIT_BAD_INPUT, EXIT_LOCKED, BuildError

    reports = Path(args.out)
    if not reports.is_dir():
        raise BuildError(f"--out {args.out}: not a folder", EXIT_BAD_INPUT)
    try:
        held = publish.lock(reports.resolve(), wait=False)
    except publish.Locked as exc:
        raise BuildError(f"another build is running (lock {exc}); try again later", EXIT_LOCKED) from None
    try:
        removed = publish.prune(reports.resolve(), args.keep)
    finally:
        held.release()
    for p in removed:
        print(f"removed {p}")
    print(f"pruned {len(removed)} build(s); kept the {args.keep} newest of each edition date and every linked build")
    return 0


def _validate(args) -> int:
    if args.data:
        os.environ["NATOUA_DATA_DIR"] = str(args.data.resolve())
    from .validate import validate_package

    problems = validate_package()
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {paths.datapackage()}", file=sys.stderr)
        return 2
    print(f"data package valid: {paths.datapackage()}")
    return 0


def _import(args) -> int:
    from .importers import LayoutError, run

    try:
        return run(args.publisher, args.path, args.write, data_dir=args.data.resolve() if args.data else None,
                   file_url=args.file_url)
    except LayoutError as exc:
        print(f"error: {exc}; nothing written", file=sys.stderr)
        return 2


def _section_params(args) -> dict:
    params: dict = {}
    for section, name, value in args.params:
        params.setdefault(section, {})[name] = value
    return params


def _build(args) -> int:
    from .build import Options, build
    from .execute import quiet_imports

    quiet_imports()
    options = Options(as_of=args.as_of, sections=args.sections, jobs=args.jobs, pdf=args.pdf, out=args.out,
                      currency=args.currency.upper(), params=_section_params(args), force=args.force,
                      keep_going=args.keep_going, wait=args.wait, quiet=args.quiet, cell_timeout=args.cell_timeout)
    return build(options)


def _sweep(args) -> int:
    from .execute import quiet_imports
    from .sweep import SweepOptions, run

    quiet_imports()
    options = SweepOptions(section=args.section, params=args.params, show=args.show, as_of=args.as_of,
                           currency=args.currency.upper(), jobs=args.jobs, out=args.out, pdf=args.pdf,
                           quiet=args.quiet, cell_timeout=args.cell_timeout)
    return run(options).code


def _preview(args) -> int:
    from .execute import quiet_imports
    from .preview_server import serve
    from .runner import RunOptions

    quiet_imports()
    options = RunOptions(as_of=args.as_of, sections=args.sections, jobs=args.jobs, out=args.out,
                         currency=args.currency.upper(), params=_section_params(args), cell_timeout=args.cell_timeout)
    return serve(options, host=args.host, port=args.port, pdf=args.pdf, allow_remote=args.allow_remote)


if __name__ == "__main__":
    sys.exit(main())
