"""A small DOM of the project's own HTML, and the inline runs the PDF's document form is made of.

A run is a string or a dict with a type `t` ("b", "i", "code", "ident", "link", "ref", ...), its text `s` or its
children `c` (natoua.pdf_html reads them, templates/natoua/report.typ sets them).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK_TAGS = {"p", "ul", "ol", "div", "figure", "table", "section", "aside", "blockquote", "pre", "h1", "h2", "h3",
              "h4", "h5", "h6", "hr", "header", "nav", "main", "dl"}
WS = re.compile(r"[ \t\n\r\f]+")


class Node:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.children, self.parent = tag, attrs, [], parent

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, tag: str | None = None, cls: str | None = None):
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    return c
                found = c.find(tag, cls)
                if found is not None:
                    return found
        return None

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list:
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.classes):
                    out.append(c)
                out += c.find_all(tag, cls)
        return out


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(html: str) -> Node:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.root


# --- inline runs ------------------------------------------------------------------------------

def visible(runs) -> bool:
    for r in runs:
        if isinstance(r, str):
            if r.strip():
                return True
        elif r.get("t") in ("code", "ident"):
            if r["s"].strip():
                return True
        elif r.get("t") == "br" or visible(r.get("c", [])):
            return True
    return False


def merge(runs: list) -> list:
    out: list = []
    for r in runs:
        if isinstance(r, str) and out and isinstance(out[-1], str):
            out[-1] = WS.sub(" ", out[-1] + r)
        else:
            out.append(r)
    return out


def strip(runs: list) -> list:
    runs = list(runs)
    if runs and isinstance(runs[0], str):
        runs[0] = runs[0].lstrip()
    if runs and isinstance(runs[-1], str):
        runs[-1] = runs[-1].rstrip()
    return [r for r in runs if r != ""]
