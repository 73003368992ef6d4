"""nbconvert exporters: a self-contained HTML page and a print-grade PDF.

Both are registered under nbconvert's exporter entry point, so
`jupyter nbconvert --to natoua_html|natoua_pdf executed.ipynb` works outside
the build too. The PDF is typeset by Typst from the same page's document form
(natoua.pdf_form, typeset by natoua.typst_pdf): it reads nothing but the page, its embedded images and the
project's fonts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import default

from . import claims, links, mimes, paths, webfonts
from .quotes import house_quotes

REPORT_MIMES = (mimes.FIGURE, mimes.TABLE, mimes.BLOCK)
_FIG = re.compile(r'<span class="figure-number">Figure</span>')
_TAB = re.compile(r'<span class="table-number">Table</span>')
# (the class before or after the address: nbconvert's pass wrote attributes sorted, the template as given)
_INTERNAL_LINK = re.compile(r'<a(?: class="[^"]*")? href="#([^"]+)"(?: class="[^"]*")?>(.*?)</a>', re.S)
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
                    _claims_in_payload(out.data, ledger, where)
                    _label_payload(out.data)
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


_NUMBER = re.compile(r'<span class="(?:figure|table)-number">((?:Figure|Table) [^<]+)</span>')


def _label_payload(data) -> None:
    """The number given to a figure or table ("Figure 7.2") goes into its payload too (the PDF reads it there)."""
    match = _NUMBER.search(data["text/html"])
    for mime in (mimes.FIGURE, mimes.TABLE):
        if match and isinstance(data.get(mime), dict):
            data[mime]["label"] = match.group(1)


def _claims_in_payload(data, ledger: dict, where: str) -> None:
    """The PDF reads an output's payload: a figure's or table's title and caption get the claims' values; a
    generated block whose text names claims is read from its HTML instead (where each value is a ledger link)."""
    import json

    block = data.get(mimes.BLOCK)
    if isinstance(block, dict) and "{{" in json.dumps(block, ensure_ascii=False):
        data[mimes.BLOCK] = {"kind": block.get("kind")}
    for mime in (mimes.FIGURE, mimes.TABLE):
        payload = data.get(mime)
        if isinstance(payload, dict):
            for key, value in payload.items():
                if isinstance(value, str) and "{{" in value:
                    payload[key] = claims.substitute(value, ledger, where, plain=True)


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
        html, resources = self._page(nb, resources, **kw)
        return webfonts.embed(house_quotes(name_heading_anchors(drop_dangling_links(html)))), resources

    def _page(self, nb, resources=None, **kw):
        """The template's page. nbconvert's HTMLExporter.from_notebook_node renders it, then parses the whole
        page with BeautifulSoup (about two thirds of the page's CPU) only to give every <img> without alt text a
        placeholder and make JupyterLab's input and output areas focusable, and writes the tree out again. The
        report's page has neither (its images carry their alt text, its template no JupyterLab classes): that
        pass would change no element or attribute, so it runs only on a page where it would
        (`needs_nbconvert_pass`). The page's text then has its character references written as characters, as
        the pass wrote them (the post-processors and the font subsets read characters)."""
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        # what HTMLExporter.from_notebook_node does before its pass (nbconvert 7.16-7.17)
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        if needs_nbconvert_pass(html):
            return nbconvert_pass(html, self.log), resources
        return text_characters(html), resources

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # nbformat validates the whole notebook after each of the twelve preprocessors (about a tenth of the
        # page's CPU); once, after the last, finds the same problems
        self.optimistic_validation = True
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
    """A4 PDF via Typst: title page, contents with page numbers, running header, page X of Y."""

    export_from_notebook = "NATO–Ukraine report (PDF)"
    output_mimetype = "application/pdf"

    def _file_extension_default(self):
        return ".pdf"

    def from_notebook_node(self, nb, resources=None, **kw):
        resources = self._init_resources(resources)
        resources["output_extension"] = ".pdf"
        name = resources.get("metadata", {}).get("name") or "report"
        return notebook_to_pdf(nb, name=name), resources


# --- what nbconvert's BeautifulSoup pass did, where it matters -----------------------------------------

_IMG = re.compile(r"""<img\b((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.I)
_ATTR_NAME = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_JUPYTER_AREAS = re.compile(r"jp-Cell-inputWrapper|jp-OutputArea-output")
_SINGLE_QUOTED = re.compile(r"<[a-zA-Z][^>]*=\s*'")
# Markup the text's references must not be decoded in: comments and the raw text of <style> and <script>.
_OPAQUE = re.compile(r"(<!--.*?-->|<(?:style|script)\b[^>]*>.*?</(?:style|script)\s*>|<[^>]*>)", re.S | re.I)
_CHARREF = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_STAYS_ESCAPED = {"&", "<", ">"}


def needs_nbconvert_pass(html: str) -> bool:
    """Whether nbconvert's pass would change the page's elements: an <img> without alt text, or JupyterLab's
    input or output areas (their class names anywhere, conservatively). A single-quoted attribute also sends a
    page through the pass: `text_characters` writes a "'" as a character and relies on double-quoted values."""
    def has_alt(attributes: str) -> bool:
        return "alt" in {m.group(1).lower() for m in _ATTR_NAME.finditer(attributes)}

    return (not all(has_alt(m.group(1)) for m in _IMG.finditer(html)) or bool(_JUPYTER_AREAS.search(html))
            or bool(_SINGLE_QUOTED.search(html)))


def nbconvert_pass(html: str, log=None) -> str:
    """nbconvert 7.17's HTMLExporter pass, for a page that needs it: alt text for images, focusable Jupyter areas."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, features="html.parser")
    missing = soup.select("img:not([alt])")
    for elem in missing:
        elem.attrs["alt"] = "No description has been provided for this image"
    if missing and log is not None:
        log.warning("Alternative text is missing on %s image(s).", len(missing))
    for elem in soup.select(".jp-Notebook div.jp-Cell-inputWrapper") + soup.select(".jp-Notebook div.jp-OutputArea-output"):
        elem.attrs["tabindex"] = "0"
    return str(soup)


def text_characters(html: str) -> str:
    """The page with the character references of its text written as characters ("&#x27;" as "'", "&#182;"
    as "¶"), except &amp;, &lt; and &gt;: the same text nodes. Tags (their attribute values), comments and the
    raw text of <style> and <script> are left as written."""
    def decode(match):
        char = unescape(match.group(0))
        return match.group(0) if char in _STAYS_ESCAPED else char

    pieces = _OPAQUE.split(html)
    return "".join(p if i % 2 or "&" not in p else _CHARREF.sub(decode, p) for i, p in enumerate(pieces))


# The heading's text never runs past the end of a heading: a heading without a "¶" (the contents' title) must
# not lend its text, and everything after it, to the next heading's link.
_ANCHOR = re.compile(r'(<h([1-6])[^>]*>)((?:(?!</h[1-6]>).)*?)<a class="anchor-link" href="#([^"]+)">¶</a>(</h\2>)', re.S)
_TAGS = re.compile(r"<[^>]+>")


def name_heading_anchors(html: str) -> str:
    """nbconvert's "¶" after each heading gets an accessible name: 'Link to this section: <heading>'."""
    def repl(m):
        text = " ".join(_TAGS.sub("", m.group(3)).split()).replace('"', "&quot;")  # text into an attribute
        return (f'{m.group(1)}{m.group(3)}<a class="anchor-link" href="#{m.group(4)}" '
                f'aria-label="Link to this section: {text}">¶</a>{m.group(5)}')

    return _ANCHOR.sub(repl, html)


def drop_dangling_links(html: str) -> str:
    """Keep the text of an internal link whose target is not in this document (a brief has no Sources
    appendix; a degraded edition may lack one): a link must never lead nowhere."""
    ids = set(_ID.findall(html))
    return _INTERNAL_LINK.sub(lambda m: m.group(0) if m.group(1) in ids else m.group(2), html)


def notebook_to_pdf(nb, attachments: list[tuple[str, bytes, str]] = (), name: str = "report") -> bytes:
    """The PDF of a report notebook (assembled, or one executed notebook), typeset by Typst from its section
    form: the outputs' payloads, its Markdown and its raw cells (natoua.pdf_form). `attachments` are
    (file name, bytes, description) embedded as associated files."""
    import copy

    from .pdf_form import notebook_form
    from .typst_pdf import render

    nb = copy.deepcopy(nb)
    ReportPreprocessor().preprocess(nb, {"metadata": {"name": name}})
    doc, files = notebook_form(nb, name)
    return render(doc, files, attachments)


def html_to_pdf(html: str, attachments: list[tuple[str, bytes, str]] = ()) -> bytes:
    """The PDF of a report page, typeset by Typst (natoua.pdf_form). `attachments` are (file name, bytes,
    description) embedded as associated files (the edition's claims.json and the CSVs it read)."""
    from .pdf_form import html_to_pdf as typeset

    return typeset(html, attachments)


def export_notebook(executed: Path, html_path: Path, pdf_path: Path, title: str, as_of: str) -> None:
    """Render one executed notebook on its own (the ally briefs): HTML and PDF side by side."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata["natoua"] = {"title": title, "as_of": as_of, "section": ""}
    html, _ = _brief_exporter().from_notebook_node(nb, resources={"metadata": {"name": html_path.stem}})
    html_path.write_text(html, encoding="utf-8")
    pdf_path.write_bytes(notebook_to_pdf(nb, name=html_path.stem))


@lru_cache(maxsize=1)
def _brief_exporter() -> ReportHTMLExporter:
    """One exporter per worker process: each new one compiles the page template again (about 0.1 s a brief).
    An exporter keeps no state from one notebook to the next (its resources are made per call)."""
    return ReportHTMLExporter()
