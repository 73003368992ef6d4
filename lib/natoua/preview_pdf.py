"""The preview's PDF, typeset in the background in a warm worker process so it never delays the HTML."""

from __future__ import annotations

import threading
from pathlib import Path

from .files import write_atomic


def _render_pdf(source: str, pdf_path: str) -> None:
    """Typeset the report notebook snapshot `source` (or, failing one, the page) into `pdf_path`. Runs in the
    PdfMaker's worker process, which stays up between renders: Typst keeps its fonts and memoised layout, so a
    PDF after an edit costs a fraction of the first one."""
    if source.endswith(".ipynb"):
        import nbformat

        from .export import notebook_to_pdf

        pdf = notebook_to_pdf(nbformat.read(source, as_version=4), name=Path(source).stem)
    else:
        from .pdf_form import html_to_pdf

        pdf = html_to_pdf(Path(source).read_text(encoding="utf-8"))
    write_atomic(Path(pdf_path), pdf)


class PdfMaker:
    """Renders the current report to PDF in a worker process (kept warm between renders); one at a time, the
    newest version wins."""

    def __init__(self, engine):  # the preview's Engine
        self.engine = engine
        self.version = 0  # version of the page the PDF on disk was made from
        self.running: int | None = None  # version being rendered
        self.error = ""
        self.follow = False  # render again whenever the page changed while a render ran (the PDF follows edits)
        self._lock = threading.Lock()
        self._pool = None  # one warm worker process, started on the first render

    def request(self) -> None:
        with self._lock:
            wanted = self.engine.version
            if self.running is not None or self.version == wanted or not self.engine.page.exists():
                return
            self.running = wanted
        threading.Thread(target=self._run, args=(wanted,), daemon=True).start()

    def _run(self, wanted: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        import nbformat

        report = getattr(self.engine, "report", None)
        if report is not None:
            snapshot = self.engine.folder / f"pdf-source-{wanted}.ipynb"
            snapshot.write_text(nbformat.writes(report), encoding="utf-8")
        else:
            snapshot = self.engine.folder / f"pdf-source-{wanted}.html"
            snapshot.write_bytes(self.engine.page.read_bytes())
        error = ""
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
            self._pool.submit(_render_pdf, str(snapshot), str(self.engine.pdf)).result()
        except BrokenProcessPool:
            self._pool = None  # the worker died (killed, out of memory): a new one next time
            error = "PDF rendering failed: its process died"
        except Exception as exc:  # noqa: BLE001 (any error of the typesetter is shown, the preview goes on)
            error = f"PDF rendering failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        snapshot.unlink(missing_ok=True)
        with self._lock:
            self.running = None
            if not error:
                self.version, self.error = wanted, ""
            else:
                self.error = error
            again = self.follow and not error and self.engine.version != wanted
        if again:  # the page changed while this one rendered: the newest version wins
            self.request()

    @property
    def ready(self) -> bool:
        return self.version == self.engine.version and self.engine.pdf.exists()
