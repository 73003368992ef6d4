"""nbconvert exporters: a self-contained HTML page and a print-grade PDF.

Both are registered under nbconvert's exporter entry point, so
`jupyter nbconvert --to natoua_html|natoua_pdf executed.ipynb` works outside
the build too. The PDF is the same HTML rendered by WeasyPrint with the
stylesheet's print rules; WeasyPrint may fetch nothing but `data:` URLs.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import default

from . import claims, links, mimes, paths, webfonts

REPORT_MIMES = (mimes.FIGURE, mimes.TABLE, mimes.BLOCK)
_FIG = re.compile(r'<span class="figure-number">Figure</span>')
_TAB = re.compile(r'<span class="table-number">Table</span>')
_INTERNAL_LINK = re.compile(r'<a( class="[^"]*")? href="#([^"]+)">(.*?)</a>', re.S)
_ID = re.compile(r'\sid="([^"]+)"')
FONTS = paths.TEMPLATES / "natoua" / "fonts"


class ReportPreprocessor(Preprocessor):
    """Keep only report outputs, put claim values into the prose, number figures and tables."""

    def preprocess(self, nb, resources):
        meta = nb.metadata.get("natoua", {})
        ledger = meta.get("claims") or claims.collect(nb)
        default_section = meta["section"] if "section" in meta else _section_from_name(resources)
        counters: dict[str, list[int]] = {}
        for index, cell in enumerate(nb.cells):
            section = cell.metadata.get("natoua", {}).get("section", default_section)
            where = f"section {section}, cell {index}"
            if cell.cell_type == "markdown":
                cell.source = claims.substitute(cell.source, ledger, where, link=links.claim)
            elif cell.cell_type == "code":
                cell.source = ""
                cell.outputs = [o for o in cell.outputs if _is_report_output(o)]
                count = counters.setdefault(section, [0, 0])
                for out in cell.outputs:
                    # generated prose, stat cards and titles name claims as {{ name }}, linked like Markdown's
                    markup = claims.substitute_html(out.data["text/html"], ledger, where, link=links.claim)
                    out.data["text/html"] = _number(markup, section, count)
        return nb, resources


def _is_report_output(output) -> bool:
    return output.get("output_type") in ("display_data", "execute_result") and any(
        m in output.get("data", {}) for m in REPORT_MIMES
    ) and "text/html" in output.get("data", {})


def _number(markup: str, section: str, count: list[int]) -> str:
    label = (section.lstrip("0") or section) if section else ""
    prefix = f"{label}." if label else ""

    def fig(_):
        count[0] += 1
        return f'<span class="figure-number">Figure {prefix}{count[0]}</span>'

    def tab(_):
        count[1] += 1
        return f'<span class="table-number">Table {prefix}{count[1]}</span>'

    return _TAB.sub(tab, _FIG.sub(fig, markup))


def _section_from_name(resources) -> str:
    name = (resources or {}).get("metadata", {}).get("name", "")
    match = re.match(r"([0-9]{2}|A[0-9])_", name)
    return match.group(1) if match else "0"


class ReportHTMLExporter(HTMLExporter):
    """One self-contained HTML file: no code, no prompts, no scripts, figures embedded."""

    export_from_notebook = "NATO–Ukraine report (HTML)"

    @default("template_name")
    def _template_name_default(self):
        return "natoua"

    @default("template_file")
    def _template_file_default(self):
        return "index.html.j2"  # the PDF exporter renders the same page

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self):
        return [str(paths.TEMPLATES)]

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources=resources, **kw)
        return webfonts.embed(house_quotes(name_heading_anchors(drop_dangling_links(html)))), resources

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.exclude_input = True
        self.exclude_input_prompt = True
        self.exclude_output_prompt = True
        self.register_preprocessor(ReportPreprocessor, enabled=True)

    @property
    def default_config(self):
        config = super().default_config
        # nbconvert's default HTML preprocessors add pygments CSS and widget state we don't use
        config.merge({"CSSHTMLHeaderPreprocessor": {"enabled": False}})
        return config


class ReportPDFExporter(ReportHTMLExporter):
    """A4 PDF via WeasyPrint: title page, contents with page numbers, running header, page X of Y."""

    export_from_notebook = "NATO–Ukraine report (PDF)"
    output_mimetype = "application/pdf"

    def _file_extension_default(self):
        return ".pdf"

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources=resources, **kw)
        resources["output_extension"] = ".pdf"
        return html_to_pdf(html), resources


_ANCHOR = re.compile(r'(<h([1-6])[^>]*>)(.*?)<a class="anchor-link" href="#([^"]+)">¶</a>(</h\2>)', re.S)
_TAGS = re.compile(r"<[^>]+>")


def name_heading_anchors(html: str) -> str:
    """nbconvert's "¶" after each heading gets an accessible name: 'Link to this section: <heading>'."""
    def repl(m):
        text = " ".join(_TAGS.sub("", m.group(3)).split())
        return (f'{m.group(1)}{m.group(3)}<a class="anchor-link" href="#{m.group(4)}" '
                f'aria-label="Link to this section: {text}">¶</a>{m.group(5)}')

    return _ANCHOR.sub(repl, html)


_PIECES = re.compile(r"(<[^>]*>)")
_VERBATIM = re.compile(r"<(style|script|code|pre)\b", re.I)
_QUOTE = re.compile(r'"|&quot;')
_BEFORE_OPENING = set(" \t\n([{—–/\u00a0")


def house_quotes(html: str) -> str:
    """Quotation marks in one house style: straight double quotes in the text (prose written with ") become
    “ after a space or an opening bracket (or at the start) and ” otherwise, reading the text across inline tags.
    Markup, attributes, code and style sheets are left as they are."""
    out, verbatim, last = [], None, " "
    for i, piece in enumerate(_PIECES.split(html)):
        if i % 2:  # a tag
            opening = _VERBATIM.match(piece)
            if verbatim is None and opening:
                verbatim = opening.group(1).lower()
            elif verbatim and piece.lower().startswith(f"</{verbatim}"):
                verbatim = None
            elif re.match(r"</?(p|li|td|th|h[1-6]|div|br|dd|dt|caption|figcaption)\b", piece, re.I):
                last = " "  # a block boundary: the next quote opens
        elif verbatim is None and piece:
            if '"' in piece or "&quot;" in piece:
                chunks, prev = [], last
                pos = 0
                for m in _QUOTE.finditer(piece):
                    before = piece[pos:m.start()]
                    prev = before[-1] if before else prev
                    chunks.append(before + ("“" if prev in _BEFORE_OPENING else "”"))
                    prev = chunks[-1][-1]
                    pos = m.end()
                chunks.append(piece[pos:])
                piece = "".join(chunks)
            last = piece[-1]
        out.append(piece)
    return "".join(out)


def drop_dangling_links(html: str) -> str:
    """Keep the text of an internal link whose target is not in this document (a brief has no Sources
    appendix; a degraded edition may lack one): a link must never lead nowhere."""
    ids = set(_ID.findall(html))
    return _INTERNAL_LINK.sub(lambda m: m.group(0) if m.group(2) in ids else m.group(3), html)


def data_only_fetcher():
    """A WeasyPrint URL fetcher that serves data: URLs and the project's font files, and refuses everything
    else, fatally: the report is self-contained, so any other fetch is a bug (or hostile input)."""
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    fonts = FONTS.resolve()

    class DataOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            parts = urlsplit(url)
            if parts.scheme == "file" and not parts.netloc:
                path = Path(unquote(parts.path)).resolve()
                if path.parent == fonts and path.suffix == ".ttf" and path.is_file():
                    return super().fetch(path.as_uri(), headers)
            raise FatalURLFetchingError(f"refusing to fetch {url[:80]!r}: the report must be self-contained")

    return DataOnlyFetcher(allowed_protocols={"data", "file"}, fail_on_errors=True)


PDF_VARIANT = "pdf/a-3a"  # archival and tagged; attachments allowed (associated files)
_DATE = re.compile(r'<meta name="dcterms.created" content="([0-9]{4}-[0-9]{2}-[0-9]{2})')


def document_date(html: str):
    """The document's date (from its dcterms.created, i.e. the edition date), for every date the PDF holds."""
    from datetime import datetime, timezone

    match = _DATE.search(html)
    day = match.group(1) if match else "2026-01-01"
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def html_to_pdf(html: str, attachments: list[tuple[str, bytes, str]] = ()) -> bytes:
    """The PDF of a report page. `attachments` are (file name, bytes, description) embedded as associated
    files (the edition's claims.json and the CSVs it read)."""
    import io
    import logging

    from weasyprint import CSS, HTML, Attachment
    from weasyprint.text.fonts import FontConfiguration

    # WeasyPrint reports CSS it ignores as warnings; keep them out of the console and the PDF.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    html = webfonts.strip(html)  # the PDF embeds the project's font files itself
    when = document_date(html)
    fetcher = data_only_fetcher()
    font_config = FontConfiguration()
    fonts = CSS(filename=str(FONTS / "fonts.css"), url_fetcher=fetcher, font_config=font_config)
    files = [Attachment(file_obj=io.BytesIO(content), name=name, description=description, relationship="Data",
                        created=when, modified=when)
             for name, content, description in attachments]
    document = HTML(string=html, base_url=str(paths.TEMPLATES), url_fetcher=fetcher)
    # Without libharfbuzz-subset WeasyPrint subsets fonts with fontTools, which stamps each subset with the
    # current time unless SOURCE_DATE_EPOCH is set: the PDF's bytes then changed from one second to the next.
    with _source_date_epoch(int(when.timestamp())):
        return document.write_pdf(stylesheets=[fonts], font_config=font_config, pdf_variant=PDF_VARIANT,
                                  attachments=files, uncompressed_pdf=False, finisher=_declare_pdf_ua)


class _source_date_epoch:
    """Set SOURCE_DATE_EPOCH for the duration of a render unless the caller already set it."""

    def __init__(self, epoch: int):
        self.epoch, self.previous = str(epoch), None

    def __enter__(self):
        import os

        self.previous = os.environ.get("SOURCE_DATE_EPOCH")
        if self.previous is None:
            os.environ["SOURCE_DATE_EPOCH"] = self.epoch

    def __exit__(self, *exc):
        import os

        if self.previous is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)


def _declare_pdf_ua(document, pdf) -> None:
    """WeasyPrint writes PDF/A-3a metadata; the file is also tagged for PDF/UA-1 (lang, title shown as the
    window title, structure tree), so say so in its XMP, and describe every link annotation (PDF/UA needs
    /Contents on links)."""
    import pydyf

    if "Metadata" not in pdf.catalog:  # only variants write XMP metadata
        return
    metadata = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
    xmp = b"".join(metadata.stream)
    declaration = (b'<rdf:Description xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" rdf:about="" '
                   b'pdfuaid:part="1" />')
    metadata.stream = [xmp.replace(b"</rdf:RDF>", declaration + b"</rdf:RDF>", 1)]
    for obj in pdf.objects:
        if isinstance(obj, dict) and obj.get("Subtype") == "/Link" and "Contents" not in obj:
            action = obj.get("A") or {}
            uri = action.get("URI") if isinstance(action, dict) else None
            if uri is not None:
                obj["Contents"] = pydyf.String(f"Link to {getattr(uri, 'string', uri)}")
            else:
                obj["Contents"] = pydyf.String("Link to another part of this document")


def export_notebook(executed: Path, html_path: Path, pdf_path: Path, title: str, as_of: str) -> None:
    """Render one executed notebook on its own (the ally briefs): HTML and PDF side by side."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata["natoua"] = {"title": title, "as_of": as_of, "section": ""}
    html, _ = ReportHTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": html_path.stem}})
    html_path.write_text(html, encoding="utf-8")
    pdf_path.write_bytes(html_to_pdf(html))
