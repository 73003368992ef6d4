"""A failed section as the preview shows it: an error box in place of the section (section, cell, exception,
the cell's source), while the rest of the report stays visible."""

from __future__ import annotations

import html
import json
from pathlib import Path

from . import assemble
from .errors import strip_ansi


def failed_cell_source(executed: Path, cell_index) -> str:
    """The source of the cell that raised: the one with an error output in the notebook Papermill left
    behind (its index shifts by the error-marker cell Papermill adds at the top)."""
    try:
        nb = json.loads(Path(executed).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                src = cell.get("source", "")
                return "".join(src) if isinstance(src, list) else src
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return ""


def error_part(part: assemble.Part, error: dict) -> assemble.Part:
    """A part whose only content is the error box (the rest of the report is unaffected)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["preview_error"] = True
    nb.cells = [assemble.html_cell(error_html(part.section, error))]
    return assemble.Part(section=part.section, title=part.title, nb=nb)


def error_html(section: str, error: dict) -> str:
    e = html.escape
    cell = error.get("cell")
    where = f"cell [{cell}]" if cell is not None else "before any cell ran"
    evalue = strip_ansi(str(error.get("evalue") or "")).strip()
    head, _, rest = evalue.partition("\n")
    source = error.get("source") or ""
    trace = error.get("trace") or ""
    return (
        '<div class="preview-error" role="alert" style="border:2px solid #D55E00;background:#FFF4EE;'
        'padding:0.6rem 0.9rem;margin:0.8rem 0;font-family:DejaVu Sans,sans-serif">'
        f'<p style="margin:0 0 0.4rem"><strong>Section {e(section)} failed</strong> in {e(where)}: '
        f"<code>{e(str(error.get('ename') or 'Error'))}</code>: {e(head)}</p>"
        + (f'<pre style="white-space:pre-wrap;font-size:0.8rem;margin:0.3rem 0">{e(rest.strip())}</pre>' if rest.strip() else "")
        + (f'<p style="margin:0.4rem 0 0.1rem;font-size:0.8rem">The cell:</p>'
           f'<pre style="white-space:pre-wrap;font-size:0.8rem;background:#fff;padding:0.3rem;margin:0">{e(source)}</pre>'
           if source else "")
        + (f'<pre style="white-space:pre-wrap;font-size:0.75rem">{e(strip_ansi(trace))}</pre>' if trace else "")
        + '<p style="margin:0.4rem 0 0;font-size:0.8rem">Fix the notebook and save it: this page rebuilds by itself.</p>'
        "</div>"
    )
