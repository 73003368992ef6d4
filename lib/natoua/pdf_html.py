"""The PDF's document form of project HTML: Markdown rendered by nbconvert, raw cells (title page, contents,
section headings, appendices) and an output that carries no payload, read into blocks (headings, paragraphs of
inline runs, lists, figures, tables, call-outs, key-figure panels, the title page and the contents)."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote_to_bytes

from .pdf_dom import BLOCK_TAGS, WS, Node, merge, strip, visible
from .typst_pdf import PdfError


class HtmlForm:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.tables = 0
        self.level = 0  # the last heading level, so none is skipped (PDF/UA)

    # inline runs
    def inlines(self, node: Node, mode: str = "") -> list:
        out: list = []
        for c in node.children:
            if isinstance(c, str):
                text = WS.sub(" ", c)
                if text:
                    out.append({"t": "ident", "s": text} if mode == "ident" else text)
                continue
            out += self.inline(c, mode)
        return merge(out)

    def inline(self, n: Node, mode: str = "") -> list:
        tag, cls = n.tag, n.classes
        anchor = [{"t": "anchor", "id": n.attrs["id"]}] if n.attrs.get("id") and tag not in ("a",) else []
        if tag in ("wbr", "script", "style", "col", "colgroup", "img"):
            return []
        if tag == "br":
            return [{"t": "br"}]
        if tag in ("strong", "b"):
            return anchor + [{"t": "b", "c": self.inlines(n, mode)}]
        if tag in ("em", "i", "cite"):
            return anchor + [{"t": "i", "c": self.inlines(n, mode)}]
        if tag in ("code", "kbd", "samp", "tt"):
            return anchor + [{"t": "code", "s": WS.sub(" ", n.text())}]
        if tag in ("sup", "sub"):
            return [{"t": tag, "c": self.inlines(n, mode)}]
        if tag == "a" and cls & {"skip-link", "anchor-link"}:
            return []  # the HTML's skip link: the PDF's structure and bookmarks do that job
        if tag == "a":
            href = n.attrs.get("href") or ""
            inner_mode = "ident" if cls & {"url", "ref-url", "ident"} else mode
            body = self.inlines(n, inner_mode)
            if not visible(body):
                return []  # a link must never be an empty (zero-area) annotation
            if "download" in n.attrs or href.startswith("data:"):
                return []  # the HTML's CSV downloads: the PDF carries the data as attachments instead
            if href.startswith("#"):
                kind = "ref" if cls & {"claim", "cite"} else "plainref"
                return [{"t": kind, "to": href[1:], "c": body}]  # dropped later if the target is missing
            if re.match(r"https?://", href):
                return [{"t": "link", "url": href, "c": body}]
            return body
        if "figure-number" in cls or "table-number" in cls:
            return [{"t": "b", "c": self.inlines(n, mode)}]
        if tag in BLOCK_TAGS:  # a block inside inline content (e.g. a list in a list item): flatten
            return anchor + self.inlines(n, mode)
        return anchor + self.inlines(n, "ident" if cls & {"url", "ref-url", "ident"} else mode)

    # blocks
    def blocks(self, node: Node) -> list:
        out: list = []
        pending: list = []

        def flush():
            if visible(pending):
                out.append({"t": "p", "c": strip(merge(pending))})
            pending.clear()

        for c in node.children:
            if isinstance(c, str) or (c.tag not in BLOCK_TAGS and c.tag not in ("li", "img", "dt", "dd", "caption")):
                if isinstance(c, str):
                    pending.append(WS.sub(" ", c))
                else:
                    pending.extend(self.inline(c))
                continue
            flush()
            out += self.block(c)
        flush()
        return out

    def block(self, n: Node) -> list:
        tag, cls = n.tag, n.classes
        if tag == "header" and "title-page" in cls:
            return [self.title_page(n)]
        if tag == "nav" and "toc" in cls:
            title = n.find("h2")
            return [{"t": "toc", "title": title.text().strip() if title else "Contents"}]
        if tag == "section":
            self.level = 0
            blocks = self.blocks(n)
            sid = n.attrs.get("id")
            for b in blocks:  # the section's anchor goes on its title
                if b["t"] == "h":
                    b.setdefault("id", sid)
                    break
            return [{"t": "section"}] + blocks
        if re.fullmatch(r"h[1-6]", tag):
            level = 1 if "section-title" in cls else int(tag[1])
            level = max(1, min(level, self.level + 1))
            self.level = level
            no = n.find("span", "secno")
            body = Node(tag, {}, None)
            body.children = [c for c in n.children if c is not no]
            out = {"t": "h", "level": level, "c": strip(self.inlines(body))}
            if no is not None:
                out["no"] = no.text().strip()
            if n.attrs.get("id"):
                out["id"] = n.attrs["id"]
            return [out]
        if tag == "p":
            if "status-banner" in cls:
                return [{"t": "callout", "kind": "banner", "title": [], "c": [{"t": "p", "c": self.inlines(n)}]}]
            if "running-title" in cls:
                return []
            kind = ("stale" if "stale" in cls else "freshness") if "freshness" in cls else \
                   ("source" if cls & {"source", "table-note"} else ("list-title" if "list-title" in cls else ""))
            body = strip(self.inlines(n))
            return [{"t": "p", "c": body, "cls": kind}] if visible(body) else []
        if tag in ("ul", "ol"):
            items = []
            for li in (c for c in n.children if isinstance(c, Node) and c.tag == "li"):
                item = {"c": self.blocks(li)}
                if li.attrs.get("id"):
                    item["id"] = li.attrs["id"]
                items.append(item)
            return [{"t": "list", "ordered": tag == "ol", "items": items,
                     "cls": "references" if "references" in cls else ""}] if items else []
        if tag == "figure":
            return [self.figure(n)]
        if tag == "div" and "report-table" in cls:
            return [self.table(n)]
        if tag == "table":
            wrapper = Node("div", {"class": "report-table"}, None)
            wrapper.children = [n]
            return [self.table(wrapper)]
        if tag == "aside" and "callout" in cls:
            title = n.find("p", "callout-title")
            body = Node("div", {}, None)
            body.children = [c for c in n.children if c is not title]
            kind = next((c.removeprefix("callout-") for c in cls if c.startswith("callout-")), "note")
            return [{"t": "callout", "kind": kind, "title": self.inlines(title) if title else [], "c": self.blocks(body)}]
        if tag == "div" and "key-figures" in cls:
            return [self.key_figures(n)]
        if tag == "blockquote":
            return [{"t": "quote", "c": self.blocks(n)}]
        if tag == "pre":
            return [{"t": "pre", "s": n.text()}]
        if tag == "hr":
            return [{"t": "hr"}]
        if tag == "img":  # images reach the PDF only inside report figures (with their alt text)
            if not (n.attrs.get("src") or "").startswith("data:"):
                raise PdfError(f"an image is not embedded in the page ({n.attrs.get('src', '')[:40]!r}): "
                               "the report is self-contained")
            return []
        if tag == "dl":
            items = []
            for c in n.children:
                if isinstance(c, Node) and c.tag in ("dt", "dd"):
                    items.append({"t": "p", "c": ([{"t": "b", "c": self.inlines(c)}] if c.tag == "dt" else self.inlines(c))})
            return items
        if tag in ("li", "dt", "dd", "caption"):
            return [{"t": "p", "c": self.inlines(n)}]
        return self.blocks(n)

    def title_page(self, n: Node) -> dict:
        def text(tag, cls=None):
            found = n.find(tag, cls)
            return WS.sub(" ", found.text()).strip() if found else ""

        dl = n.find("dl")
        facts, key = [], None
        for c in dl.children if dl else []:
            if isinstance(c, Node) and c.tag == "dt":
                key = WS.sub(" ", c.text()).strip()
            elif isinstance(c, Node) and c.tag == "dd" and key is not None:
                facts.append([key, WS.sub(" ", c.text()).strip()])
        return {"t": "titlepage", "kicker": text("p", "kicker"), "title": text("h1"), "subtitle": text("p", "subtitle"),
                "banner": text("p", "status-banner"), "facts": facts, "abstract": text("p", "abstract")}

    def figure(self, n: Node) -> dict:
        img = n.find("img")
        src = img.attrs.get("src", "") if img else ""
        data, fmt = data_url(src)
        if data is None:
            raise PdfError(f"a figure's image is not embedded in the page ({src[:40]!r}): the report is self-contained")
        name = f"img/{len(self.files)}.{fmt}"
        self.files[name] = data
        title = n.find("p", "figure-title")
        cap = n.find("figcaption")
        label, caption, source = "", [], []
        if cap is not None:
            for c in cap.children:
                if isinstance(c, Node) and "figure-number" in c.classes:
                    label = WS.sub(" ", c.text()).strip()
                elif isinstance(c, Node) and "source" in c.classes:
                    source = strip(self.inlines(c))
                else:
                    caption += [WS.sub(" ", c)] if isinstance(c, str) else self.inline(c)
        alt = (img.attrs.get("alt") or "").strip() or (title.text().strip() if title else "") or label or "Figure"
        return {"t": "figure", "img": name, "fmt": fmt, "alt": alt, "title": strip(self.inlines(title)) if title else [],
                "label": label, "caption": strip(merge(caption)), "source": source}

    def table(self, n: Node) -> dict:
        self.tables += 1
        tbl = n.find("table")
        cap = tbl.find("caption") if tbl else None
        label, caption = "", []
        if cap is not None:
            for c in cap.children:
                if isinstance(c, Node) and "table-number" in c.classes:
                    label = WS.sub(" ", c.text()).strip()
                else:
                    caption += [WS.sub(" ", c)] if isinstance(c, str) else self.inline(c)
        widths = []
        for col in tbl.find_all("col") if tbl else []:
            m = re.search(r"width:\s*([0-9.]+)%", col.attrs.get("style", ""))
            widths.append(float(m.group(1)) if m else None)
        head_row = tbl.find("thead") if tbl else None
        head_cells = head_row.find_all("th") if head_row else []
        if not head_cells and tbl is not None:
            first = tbl.find("tr")
            head_cells = first.find_all("th") if first else []
        head = [strip(self.inlines(th)) for th in head_cells]
        aligns = ["right" if "num" in th.classes or "right" in (th.attrs.get("style") or "") else "left" for th in head_cells]
        rows = []
        body_rows = [tr for tr in (tbl.find_all("tr") if tbl else []) if tr.find("td") is not None]
        for tr in body_rows:
            cells = []
            for td in (c for c in tr.children if isinstance(c, Node) and c.tag in ("td", "th")):
                align = "right" if "num" in td.classes or "text-align: right" in (td.attrs.get("style") or "") else "left"
                cells.append({"c": strip(self.inlines(td)), "align": align})
            row = {"cells": cells}
            if tr.attrs.get("id"):
                row["id"] = tr.attrs["id"]
            rows.append(row)
        ncols = max([len(head)] + [len(r["cells"]) for r in rows] or [1])
        head += [[] for _ in range(ncols - len(head))]
        aligns += ["left"] * (ncols - len(aligns))
        for r in rows:
            r["cells"] += [{"c": [], "align": "left"} for _ in range(ncols - len(r["cells"]))]
        if len(widths) != ncols or any(w is None for w in widths):
            widths = [100 / ncols] * ncols
        total = sum(widths) or 100
        source = n.find("p", "source")
        note = n.find("p", "table-note")
        return {"t": "table", "key": str(self.tables), "label": label, "caption": strip(merge(caption)),
                "cols": [{"w": round(w * 100 / total, 3), "align": a} for w, a in zip(widths, aligns)],
                "head": head, "rows": rows, "source": strip(self.inlines(source)) if source else [],
                "note": strip(self.inlines(note)) if note else [], "id": n.attrs.get("id") or (tbl.attrs.get("id") if tbl else None),
                "compact": "compact" in n.classes, "keep": "keep-together" in n.classes}

    def key_figures(self, n: Node) -> dict:
        items = []
        for kf in n.find_all("div", "kf"):
            def runs(cls):  # inline runs: a value (or a claim in the label or note) stays a link to its ledger row
                found = kf.find("span", cls)
                return strip(self.inlines(found)) if found else []
            items.append({"value": runs("kf-value"), "label": runs("kf-label"), "note": runs("kf-note")})
        m = re.search(r"repeat\((\d+)", n.attrs.get("style", ""))
        cols = int(m.group(1)) if m else min(3, max(1, len(items)))
        return {"t": "kf", "items": items, "cols": cols}


def data_url(src: str):
    m = re.match(r"data:image/(png|svg\+xml|jpeg)(;base64)?,(.*)", src, re.S)
    if not m:
        return None, ""
    fmt = {"png": "png", "svg+xml": "svg", "jpeg": "jpg"}[m.group(1)]
    payload = m.group(3)
    data = base64.b64decode(payload) if m.group(2) else unquote_to_bytes(payload)
    return data, fmt
