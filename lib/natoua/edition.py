"""Write one edition into its staging folder: report HTML and PDF, executed notebooks,
claims.json, manifest.json (and, with a previous edition, changes.md)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import nbformat

from . import assemble, changes, claims, data, paths, releases

log = logging.getLogger("natoua.build")


class EditionError(Exception):
    pass


def file_stem(as_of: str, currency: str = "EUR") -> str:
    """'nato-ukraine-relations-2026-03-31' (EUR), 'nato-ukraine-relations-2026-03-31-usd'."""
    from .publish import edition_key

    return f"nato-ukraine-relations-{edition_key(as_of, currency)}"


def collect_ledger(parts: list[assemble.Part]) -> dict[str, dict]:
    """All claims of all sections; a name claimed by two sections is an error."""
    ledger: dict[str, dict] = {}
    for part in parts:
        if part.nb is None:
            continue
        for name, payload in claims.collect(part.nb).items():
            payload = dict(payload, section=part.section)
            if name in ledger and ledger[name]["section"] != part.section:
                raise EditionError(f"claim {name!r} is made in section {ledger[name]['section']} and again in {part.section}")
            ledger[name] = payload
    return ledger


def write_edition(staging: Path, options, sections: list, run, report_key: str, previous: Path | None,
                  partial: bool) -> None:
    """Write the edition of `run` (runner.Run; every section cached, executed or failed) into `staging`.
    `options` are the build's (as_of, currency, pdf, stale_months); `previous` the edition to compare with."""
    from .export import ReportHTMLExporter, notebook_to_pdf

    executed_dir = staging / "notebooks"
    executed_dir.mkdir()
    outcomes = {s.section: run.outcomes[s.section] for s in sections}
    entries = {sid: o.entry for sid, o in outcomes.items() if o.entry is not None}
    parts = []
    for s in sections:
        part = assemble.Part(section=s.section, title=s.title)
        if outcomes[s.section].status == "failed":
            err = outcomes[s.section].error or {}
            part.failed = f"{err.get('ename')}: {(err.get('evalue') or '').strip().splitlines()[0] if err.get('evalue') else ''}"
        else:
            src = entries[s.section].notebook
            shutil.copyfile(src, executed_dir / s.notebook.name)
            part.nb = nbformat.read(str(src), as_version=4)
            part.freshness, part.stale = changes.freshness(sorted(entries[s.section].reads), options.as_of,
                                                           options.stale_months)
            if part.stale:
                log.warning("section %s: %s", s.section, part.freshness)
        parts.append(part)

    ledger = collect_ledger(parts)
    for part in parts:  # a title may name a computed value, e.g. the latest summit
        part.title = claims.substitute(part.title, ledger, f"section {part.section} title", plain=True)
    read = sorted({name for entry in entries.values() if entry is not None for name in entry.reads})
    ed = assemble.Edition(as_of=options.as_of, params=options.common_parameters(), parts=parts, ledger=ledger,
                          degraded=[p.section for p in parts if p.failed],
                          releases=[r.to_json() for r in releases.edition_releases(options.as_of, read)])
    current = changes.snapshot()
    (staging / "datasets.json").write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if previous is not None and (previous / "claims.json").exists():
        diff = changes.compare(previous, ledger, current, options.as_of)
        ed.changes = changes.to_data(diff, options.as_of)
        (staging / "changes.md").write_text(changes.to_markdown(diff, options.as_of), encoding="utf-8")
        log.info("compared with the %s edition (%s): %d figures moved", diff.previous_as_of, previous.name, len(diff.moved))
    claims_json = json.dumps(ledger, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    report_nb = assemble.assemble(ed)
    def start_pdf():
        attachments = pdf_attachments(claims_json, entries, options.as_of)
        return _in_thread(lambda: notebook_to_pdf(report_nb, attachments, name=file_stem(options.as_of, options.currency)))

    # Typst releases the GIL while it typesets: the PDF runs beside the HTML, on a second core. The two then
    # share the cores, so each takes longer than alone; NATOUA_SERIAL_EXPORT=1 typesets the PDF after the HTML
    # (slower in all, but each phase's time is its own: `make bench` measures the PDF phase so).
    serial = os.environ.get("NATOUA_SERIAL_EXPORT") == "1"
    pdf_job = start_pdf() if options.pdf and not serial else None
    exporter = ReportHTMLExporter()
    t0 = time.perf_counter()
    html, _ = exporter.from_notebook_node(report_nb, resources={"metadata": {"name": file_stem(options.as_of, options.currency)}})
    run.timings["html"] = time.perf_counter() - t0
    stem = file_stem(options.as_of, options.currency)
    (staging / f"{stem}.html").write_text(html, encoding="utf-8")
    log.info("wrote %s.html (%d bytes)", stem, len(html.encode("utf-8")))
    if options.pdf and serial:
        pdf_job = start_pdf()
    if pdf_job is not None:
        pdf, run.timings["pdf"] = pdf_job.result()  # raises what the PDF raised
        (staging / f"{stem}.pdf").write_bytes(pdf)
        log.info("wrote %s.pdf (%d bytes)", stem, len(pdf))
    write_notebook(report_nb, staging / f"{stem}.ipynb")  # after the PDF: both read report_nb

    (staging / "claims.json").write_text(claims_json, encoding="utf-8")
    manifest = {
        "title": "NATO–Ukraine Relations 2026",
        "as_of": options.as_of,
        "report_key": report_key,
        "parameters": {
            "common": options.common_parameters(),
            # every parameter the notebook ran with: its declared defaults, then what was passed
            "sections": {s.section: {**s.declared, **outcomes[s.section].task.parameters} for s in sections},
        },
        "sections": [
            {
                "section": s.section,
                "notebook": f"notebooks/{s.notebook.name}",
                "title": next(p.title for p in parts if p.section == s.section),
                "status": outcomes[s.section].status,
                "seconds": round(outcomes[s.section].result.seconds, 2) if outcomes[s.section].result else None,
                "datasets": entries[s.section].reads if s.section in entries else {},
            }
            for s in sections
        ],
        "inputs": input_digests(),
        "outputs": sorted(p.name for p in staging.iterdir() if p.is_file()) + ["build.log", "manifest.json"],
        "versions": environment_versions(),
        "degraded": [s.section for s in sections if outcomes[s.section].status == "failed"],
        "partial": partial,  # a partial build (--sections) is not the edition: no reader may mistake it
        "releases": ed.releases,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                           encoding="utf-8")


def write_notebook(nb, path: Path) -> None:
    """The edition's notebook, the bytes nbformat.write writes, without its jsonschema validation (about a
    tenth of a second of CPU on the report): nbformat.write only logs what that finds, and the assembled
    notebook's cells are the executed sections' (read and validated by nbformat) and the generated pages'.
    Consumes `nb`: its cells are split into lines in place rather than copied first (nothing reads it after)."""
    import json

    from nbformat.v4.nbjson import BytesEncoder, split_lines, strip_transient

    ids = [cell.get("id") for cell in nb.cells]
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5) and (None in ids or len(set(ids)) < len(ids)):
        nbformat.write(nb, str(path))  # its validation gives a missing or repeated cell id a new one
        return
    text = json.dumps(strip_transient(split_lines(nb)), cls=BytesEncoder, indent=1, sort_keys=True,
                      separators=(",", ": "), ensure_ascii=False)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def _in_thread(work):
    """Start `work()` in a thread; the future's result is (its value, its seconds), or raises what it raised."""
    from concurrent.futures import ThreadPoolExecutor

    def timed():
        t0 = time.perf_counter()
        value = work()
        return value, time.perf_counter() - t0

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="natoua-pdf")
    future = pool.submit(timed)
    pool.shutdown(wait=False)
    return future


def pdf_attachments(claims_json: str, entries: dict, as_of: str | None = None) -> list[tuple[str, bytes, str]]:
    """What the PDF carries: claims.json, every CSV the edition's sections read (with `as_of`, only the rows the
    edition read: none dated after the cut-off), and the package descriptor (names as under data/), so a reader who
    has only the PDF can check every number."""
    read = sorted({name for entry in entries.values() if entry is not None for name in entry.reads})
    files = [("claims.json", claims_json.encode("utf-8"), "Every figure in the prose: value, unit, datasets, check")]
    base = paths.data_dir()
    for name in read:
        path = data.resource_path(data.resource(name))
        content = data.rows_as_read(name, as_of) if as_of else path.read_bytes()
        files.append((str(path.relative_to(base)), content, f"Dataset '{name}' as read by this edition"
                      + (f" (rows up to the cut-off, {as_of})" if as_of else "")))
    files.append(("datapackage.json", paths.datapackage().read_bytes(),
                  "The data package descriptor: schemas, units, sources and coverage of every dataset"))
    return files


def input_digests() -> dict:
    """sha256 of every dataset file and of the package descriptor."""
    import hashlib

    out = {}
    base = paths.data_dir()
    for name in data.resource_names():
        path = data.resource_path(data.resource(name))
        out[f"data/{path.relative_to(base)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    out["data/datapackage.json"] = hashlib.sha256(paths.datapackage().read_bytes()).hexdigest()
    return dict(sorted(out.items()))


def environment_versions() -> dict:
    """The versions that made the edition (recorded in its manifest)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    out = {"python": platform.python_version(), "natoua": __version__}
    for pkg in ("pandas", "numpy", "matplotlib", "papermill", "nbconvert", "nbclient", "ipykernel",
                "typst", "frictionless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
