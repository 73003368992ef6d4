"""Report blocks generated from code: paragraphs, lists, call-outs, key-figure panels.

Everything here escapes its text, so a dataset string can never become markup. A number in generated text is
a claim named by its placeholder (`claim.ref`, i.e. `{{ name }}`): the export puts in its value, linked to its
row in the claim ledger, exactly as in a Markdown cell (an unknown name fails the export).
Only outputs carrying one of the natoua MIME types reach the report; anything
else a cell prints (a DataFrame repr, a warning) stays in the notebook.
"""

from __future__ import annotations

import html

from . import links, mimes

MIME = mimes.BLOCK


class Block:
    """A generated block: its HTML, and in the block+json output its kind and items as plain data (what the
    PDF is typeset from)."""

    def __init__(self, markup: str, kind: str, data: dict | None = None):
        self.markup, self.kind, self.data = markup, kind, data or {}

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.markup, MIME: {"kind": self.kind, **self.data}, "text/plain": self.kind}


def _show(markup: str, kind: str, data: dict | None = None) -> None:
    from IPython.display import display

    display(Block(markup, kind, data))


def paragraph(text: str) -> None:
    """A paragraph of generated prose (plain text, escaped)."""
    return _show(f'<p class="generated">{html.escape(text)}</p>', "paragraph", {"text": str(text)})


def bullets(items, title: str = "", source=None) -> None:
    """A bulleted list of plain-text items (each may be (bold lead, rest)). With `source` (a frame with source_id,
    or source ids) the items are rows of a dataset shown as they are, like a table: they get its "Source:" line."""
    lis, data = [], []
    for item in items:
        if isinstance(item, tuple):
            lead, rest = item
            lis.append(f"<li><strong>{html.escape(str(lead))}</strong> {html.escape(str(rest))}</li>")
            data.append({"lead": str(lead), "text": str(rest)})
        else:
            lis.append(f"<li>{html.escape(str(item))}</li>")
            data.append({"lead": "", "text": str(item)})
    head = f'<p class="list-title">{html.escape(title)}</p>' if title else ""
    if source is None:
        return _show(f'<div class="generated-list">{head}<ul>{"".join(lis)}</ul></div>', "bullets",
                     {"title": str(title), "items": data})
    _, cited = links.source_line(source)
    # rows with their "Source:" line: the PDF reads this HTML (its citation links) rather than the plain items
    return _show(f'<div class="generated-list data-rows">{head}<ul>{"".join(lis)}</ul>'
                 f'<p class="source">{cited}</p></div>', "bullets")


def callout(text: str, kind: str = "note", title: str = "") -> None:
    """A boxed note. kind: 'note', 'gap' (data we could not source), 'brief' (where the data correct the brief)."""
    titles = {"gap": "Data gap", "brief": "The brief and the data", "note": "Note", "warning": "Warning"}
    head = html.escape(title or titles.get(kind, "Note"))
    return _show(
        f'<aside class="callout callout-{html.escape(kind)}"><p class="callout-title">{head}</p>'
        f"<p>{html.escape(text)}</p></aside>",
        "callout", {"callout": str(kind), "title": title or titles.get(kind, "Note"), "text": str(text)},
    )


def key_figures(items) -> None:
    """A panel of headline numbers: items are (claim, label, note); the value shows linked to its ledger row.
    Text (label, note, or a value given as text) may name claims as {{ name }} (`claim.ref`)."""
    cells, data = [], []
    for value, label, *rest in items:
        text = getattr(value, "ref", value)
        data.append({"value": str(text), "label": str(label), "note": str(rest[0]) if rest and rest[0] else ""})
        note = f'<span class="kf-note">{html.escape(rest[0])}</span>' if rest and rest[0] else ""
        cells.append(
            f'<div class="kf"><span class="kf-value">{html.escape(str(text))}</span>'
            f'<span class="kf-label">{html.escape(label)}</span>{note}</div>'
        )
    columns = len(cells) if len(cells) <= 4 else 3
    return _show(f'<div class="key-figures" style="grid-template-columns: repeat({columns}, 1fr)">{"".join(cells)}</div>',
                 "key_figures", {"items": data, "columns": columns})


def references(entries) -> None:
    """A reference list: entries are dicts with publisher, title, edition, date, url, read, via (all plain text) and
    source_id (the entry's anchor, which source lines and the data dictionary link to). http(s) addresses
    become links that wrap only at safe points."""
    e = html.escape
    items = []
    for ref in entries:
        parts = [f"{e(ref['publisher'])}, <em>{e(ref['title'])}</em>"]
        if ref.get("edition"):
            parts.append(e(ref["edition"]))
        if ref.get("date"):
            parts.append(e(ref["date"]))
        text = ", ".join(parts) + "."
        if ref.get("url"):
            text += " " + links.url(ref["url"], "ref-url")
        if ref.get("read"):  # how the figures were actually read (sources.read_as)
            text += f' <span class="ref-read">Read: {e(ref["read"])}.</span>'
        if ref.get("via"):
            text += f' <span class="ref-via">Via: {links.linkify(ref["via"])}</span>'
        anchor = f' id="{e(links.source_anchor(ref["source_id"]), quote=True)}"' if ref.get("source_id") else ""
        items.append(f"<li{anchor}>{text}</li>")
    _show(f'<ol class="references">{"".join(items)}</ol>', "references")


def ledger_markup(made, title: str) -> str:
    """The ledger of a document exported alone (an ally brief): one row per claim in `made` (Claim objects), with
    its label, value, unit and datasets; each row is the target of the links on that value in the text."""
    e = html.escape
    rows = "".join(
        f'<tr id="{e(links.claim_anchor(c.name), quote=True)}"><td class="txt">{e(c.label or c.name)}</td>'
        f'<td class="txt">{e(c.text)}</td><td class="txt">{e(c.unit)}</td><td class="txt">{e(", ".join(c.datasets))}</td></tr>'
        for c in made)
    return (f'<div class="report-table compact"><div class="table-scroll" tabindex="0" role="region" '
            f'aria-label="{e(title, quote=True)}"><table><caption><span class="table-number">Table</span> {e(title)}'
            '</caption><thead><tr><th class="txt" scope="col">Figure</th><th class="txt" scope="col">Value</th>'
            '<th class="txt" scope="col">Unit</th><th class="txt" scope="col">Dataset(s)</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></div>")


def figures_ledger(title: str) -> None:
    """Every claim made in this kernel whose text holds a number, as the document's own ledger (see
    `ledger_markup`). A name (the ally's, in the title) gets no row: its link would make the title, repeated in the
    PDF's running header, a link inside a page artifact, which PDF/UA forbids."""
    import re

    from . import claims

    return _show(ledger_markup([c for c in claims.LEDGER.values() if re.search(r"[0-9]", c.text)], title), "ledger")
