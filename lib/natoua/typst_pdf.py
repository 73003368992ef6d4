"""The PDF, typeset by Typst from the report's document form (natoua.pdf_form).

The form is written as JSON beside the project's Typst template (templates/natoua/report.typ), which places every
text as a string: nothing from the data is ever parsed as Typst markup.

The PDF is PDF/A-3a and PDF/UA-1, carries its attachments (claims.json, the CSVs read, datapackage.json)
as associated files, uses the project's fonts only and is dated from the edition, so its bytes are the
same on any machine, process and hash seed.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from . import paths

log = logging.getLogger("natoua.build")
TEMPLATE = paths.TEMPLATES / "natoua" / "report.typ"
FONTS = paths.TEMPLATES / "natoua" / "fonts"
PDF_STANDARDS = ["a-3a", "ua-1"]  # with attachments Typst accepts only PDF/A-3 (a, b, u) with UA-1


class PdfError(Exception):
    """The document cannot be typeset (a Typst error: e.g. an accessibility rule the form breaks)."""


def render(doc: dict, files: dict[str, bytes], attachments=()) -> bytes:
    """Typeset a document form into PDF bytes. `attachments` are (file name, bytes, description)."""
    import typst

    doc = dict(doc, attachments=[])
    with tempfile.TemporaryDirectory(prefix="natoua-pdf-") as tmp:
        root = Path(tmp)
        (root / "img").mkdir()
        (root / "att").mkdir()
        for name, content in files.items():
            (root / name).write_bytes(content)
        for i, (name, content, description) in enumerate(attachments):
            (root / "att" / str(i)).write_bytes(content)
            doc["attachments"].append({"name": name, "file": f"att/{i}", "description": description,
                                       "mime": _mime(name)})
        (root / "form.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        (root / "report.typ").write_bytes(TEMPLATE.read_bytes())
        try:
            pdf, warnings = typst.compile_with_warnings(
                str(root / "report.typ"), root=str(root), font_paths=[str(FONTS)], ignore_system_fonts=True,
                pdf_standards=PDF_STANDARDS)
        except typst.TypstError as exc:
            raise PdfError(f"the PDF could not be typeset: {exc}") from None
    for warning in warnings:  # e.g. a character no project font has: worth fixing, not worth failing over
        log.warning("PDF: %s", str(getattr(warning, "message", warning)).splitlines()[0])
    return pdf


def _mime(name: str) -> str:
    return {"csv": "text/csv", "json": "application/json"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")
