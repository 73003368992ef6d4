"""The HTML of the report's generated pages, rendered from their data (natoua.assemble's title page and contents,
natoua.ledger's Key figures ledger). The same data go to the PDF (natoua.pdf_generated), never this HTML."""

from __future__ import annotations

import html

from . import links

e = html.escape


def generated_html(data: dict) -> str:
    return {"title_page": _title_page, "contents": _contents, "ledger": _ledger, "changes": _changes}[data["kind"]](data)


def runs_html(runs: list) -> str:
    """Text runs (strings, and internal links {"t": "plainref", "to": anchor, "c": runs}) as HTML."""
    out = []
    for r in runs:
        if isinstance(r, str):
            out.append(e(r, quote=False))
        elif r.get("t") == "plainref":
            out.append(links.internal(r["to"], runs_html(r["c"])))
        else:
            raise ValueError(f"a run this renderer does not know: {r.get('t')!r}")
    return "".join(out)


def _title_page(d: dict) -> str:
    banner = f'<p class="status-banner">{e(d["banner"])}</p>' if d["banner"] else ""
    facts = "".join(f"<dt>{e(term)}</dt><dd>{runs_html(text)}</dd>" for term, text in d["facts"])
    return ('<header class="title-page">'
            f'<p class="kicker">{e(d["kicker"])}</p>'
            f"<h1>{e(d['title'])}</h1>"
            f'<p class="subtitle">{e(d["subtitle"])}</p>'
            '<div class="rule"></div>'
            f"{banner}<dl>{facts}</dl>"
            f'<p class="abstract">{e(d["abstract"], quote=False)}</p>'
            "</header>")


def _contents(d: dict) -> str:
    lis = "".join(f'<li><span class="toc-no">{e(no)}</span><a href="#{e(anchor)}">{e(title)}</a></li>'
                  for no, title, anchor in d["items"])
    return (f'<nav class="toc" id="contents" aria-labelledby="contents-title"><h2 id="contents-title">{e(d["title"])}'
            f"</h2><ol>{lis}</ol></nav>")


def _ledger(d: dict) -> str:
    def name(r):
        code = f"<code>{links.breakable(r['name'])}</code>"
        return f'<span class="ledger-label">{e(r["label"])}</span><br/>{code}' if r["label"] else code

    def value(r):
        if r["number"]:
            return f"{r['number']} (&ldquo;{e(r['text'])}&rdquo; in the text)"
        return e(r["text"])

    body = "".join(
        f'<tr id="{e(r["anchor"], quote=True)}">'
        f'<td class="txt">{name(r)}</td>'
        f"<td class=\"{'num' if r['numeric'] else 'txt'}\">{value(r)}</td>"
        f'<td class="txt">{e(r["unit"])}</td>'
        f"<td class=\"txt\">{', '.join(links.internal(links.dataset_anchor(s), links.breakable(s), 'ident') for s in r['datasets'])}</td>"
        f'<td class="txt">{e(r["section"])}</td>'
        f'<td class="txt">{"<br/>".join(e(n) for n in r["notes"])}</td>'
        "</tr>"
        for r in d["rows"])
    cols = "".join(f'<col style="width:{w}%"/>' for w in d["widths"])
    heads = "".join(f'<th class="{"num" if c == "Value" else "txt"}" scope="col">'
                    f'{"<abbr title=" + chr(34) + "Section" + chr(34) + ">§</abbr>" if c == "§" else e(c)}</th>'
                    for c in d["columns"])
    return (f'<section class="report-section" id="{e(d["anchor"])}">'
            f'<h1 class="section-title">{e(d["title"])}</h1>'
            f"<p>{e(d['intro'])}</p>"
            '<div class="report-table compact"><div class="table-scroll" tabindex="0" role="region" '
            f'aria-label="{e(d["label"])}: the claim ledger"><table><caption><span class="table-number">{e(d["label"])}'
            f"</span> {e(d['caption'])}</caption>"
            f"<colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
            f'<p class="source">{runs_html(d["source"])}</p></div>'
            "</section>")


def _changes(d: dict) -> str:
    parts = [f'<section class="report-section" id="{e(d["anchor"])}">', f'<h1 class="section-title">{e(d["title"])}</h1>']
    if d["moved"]:
        rows = "".join(
            f'<tr><td class="txt"><code>{e(m["name"])}</code></td><td class="num">{e(m["old"])}</td>'
            f'<td class="num">{e(m["new"])}</td><td class="txt">{e(m["unit"])}</td>'
            f'<td class="txt">{e(m["datasets"])}</td></tr>'
            for m in d["moved"])
        parts.append('<div class="report-table"><div class="table-scroll" tabindex="0" role="region" '
                     'aria-label="Table C.1: figures that moved"><table><caption><span class="table-number">Table C.1</span> '
                     "Figures that moved</caption><colgroup><col style=\"width:30%\"/><col style=\"width:17%\"/>"
                     "<col style=\"width:17%\"/><col style=\"width:14%\"/><col style=\"width:22%\"/></colgroup>"
                     '<thead><tr><th class="txt">Figure</th><th class="num">Before</th><th class="num">Now</th>'
                     '<th class="txt">Unit</th><th class="txt">Revised dataset(s)</th></tr></thead>'
                     f"<tbody>{rows}</tbody></table></div>"
                     '<p class="source">Source: the claim ledgers of the two editions.</p></div>')
    if d["new_events"]:
        items = "".join(f"<li><strong>{e(day)}</strong> {e(t)}</li>" for day, t in d["new_events"])
        parts.append(f'<h2>New events</h2><div class="generated-list data-rows"><ul>{items}</ul></div>')
    if d["revised"]:
        items = "".join(f"<li><code>{e(r['dataset'])}</code>: {e(r['what'])}{r['counts']}</li>" for r in d["revised"])
        # rows of the two editions' dataset snapshots, listed as they are (like a table)
        parts.append(f'<h2>New or revised datasets</h2><div class="generated-list data-rows"><ul>{items}</ul></div>')
    if d["new_sources"]:
        items = "".join(f"<li>{e(s)}</li>" for s in d["new_sources"])
        parts.append(f'<h2>New sources and editions</h2><div class="generated-list"><ul>{items}</ul></div>')
    for label, names in d["claims"]:
        listed = ", ".join(f"<code>{e(n)}</code>" for n in names)
        parts.append(f"<p>Figure{'s' if len(names) > 1 else ''} {label}: {listed}.</p>")
    if d["nothing_new"]:
        parts.append("<p>No figure in the prose changed value, and no event, dataset or source is new.</p>")
    parts.append("</section>")
    return "".join(parts)
