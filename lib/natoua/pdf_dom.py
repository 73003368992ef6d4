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


# Fields of the form that are not text a reader reads: targets, addresses, file names, kinds, alt text (an
# attribute, which the HTML leaves as written too).
_NOT_TEXT = {"t", "to", "url", "id", "img", "fmt", "alt", "kind", "cls", "key", "align", "halign", "w", "file", "mime",
             "name", "description", "date", "no", "level", "cols", "ordered", "compact", "keep", "width_cm"}


_BLOCK_TYPES = {"h", "p", "list", "figure", "table", "callout", "kf", "titlepage", "toc", "quote", "pre", "hr",
                "section", "div", None}


# A token in prose that is an identifier, not a word: a file name, an address, a snake_case name or a hash.
# The template never hyphenates an "ident" run (it may wrap only after / . _ - and the like).
IDENTIFIER = re.compile(
    r"(?<![\w/.])(?:https?://\S+[\w/]"                      # an address
    r"|\w[\w.-]*(?:/[\w.-]*\w)+"                            # a path: data/raw/ecb/eurofxref-hist.zip
    r"|[\w.-]*\w_\w(?:[\w.-]*\w)?"                           # a snake_case name: ov_support_alloc
    r"|[\w-]+\.(?:csv|json|ipynb|pdf|html|xlsx|zip|py)\b"     # a file name
    r"|(?:[\w-]+\.)+(?:com|org|int|eu|uk|gov|net|de|fr|ua|io|edu)\b"  # a domain
    r"|[0-9a-f]{12,})")                                    # a hash


_RUN_KEYS = {"c", "title", "caption", "source", "note", "head"}


def finish(blocks: list) -> list:
    """The form's last pass, one walk: an internal link whose target the form does not carry keeps only its text
    (Typst refuses a link to a missing label; a reader must never meet a link that leads nowhere); straight double
    quotes curled as the HTML page curls them (natoua.quotes: read across inline runs, each block, cell, caption and
    title starting afresh, code left as written); identifiers in prose strings made "ident" runs, which the template
    never hyphenates (IDENTIFIER)."""
    labels: set = set()
    stack: list = [blocks]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(y for y in x if isinstance(y, (list, dict)))
        elif isinstance(x, dict):
            if isinstance(x.get("id"), str):
                labels.add(x["id"])
            stack.extend(v for v in x.values() if isinstance(v, (list, dict)))
    return _Finisher(labels).walk(blocks, None)


class _Finisher:
    def __init__(self, labels: set):
        from .quotes import curl

        self.labels, self.curl, self.prev = labels, curl, " "

    def text(self, s: str) -> str:
        s = self.curl(s, self.prev)
        if s:
            self.prev = s[-1]
        return s

    def unlinked(self, xs: list) -> list:
        """`xs` with each dangling internal link replaced by its text, recursively."""
        if not any(isinstance(y, dict) and y.get("t") in ("ref", "plainref") for y in xs):
            return xs
        out: list = []
        for y in xs:
            if isinstance(y, dict) and y.get("t") in ("ref", "plainref") and y["to"] not in self.labels:
                out += self.unlinked(y["c"])
            else:
                out.append(y)
        return out

    def walk(self, x, key):
        if isinstance(x, str):
            self.prev = " "
            return self.text(x)
        if isinstance(x, list):
            self.prev = " "
            x = self.unlinked(x)
            if all(isinstance(y, str) or (isinstance(y, dict) and y.get("t") not in _BLOCK_TYPES) for y in x):
                return self.runs(x, key)
            return [self.walk(y, key) for y in x]
        if isinstance(x, dict):
            t = x.get("t")
            if t == "pre":
                return x
            if t in ("code", "ident"):  # outside a run list (rare): its text curled, never split
                return {k: (v if k in _NOT_TEXT else self.walk(v, key)) for k, v in x.items()}
            return {k: (v if k in _NOT_TEXT else self.walk(v, k if k in _RUN_KEYS else key)) for k, v in x.items()}
        return x

    def runs(self, xs: list, key) -> list:
        out: list = []
        for x in xs:
            if isinstance(x, str):
                s = self.text(x)
                out += _split_identifiers(s) if key in _RUN_KEYS else [s]
            elif x.get("t") == "code":
                out.append(x)
                if x.get("s"):
                    self.prev = x["s"][-1]
            elif x.get("t") == "ident":
                out.append(dict(x, s=self.text(x["s"])))
            elif x.get("t") == "br":
                out.append(x)
                self.prev = " "
            else:  # an inline run with children: they continue the text
                out.append({k: (self.runs(self.unlinked(v), k if k in _RUN_KEYS else key) if k == "c" and isinstance(v, list)
                                else v) for k, v in x.items()})
        return out


def _split_identifiers(s: str) -> list:
    out, pos = [], 0
    for m in IDENTIFIER.finditer(s):
        if m.start() > pos:
            out.append(s[pos:m.start()])
        out.append({"t": "ident", "s": m.group(0)})
        pos = m.end()
    if pos < len(s):
        out.append(s[pos:])
    return out
