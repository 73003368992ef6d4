"""The PDF's form of the report's generated pages, from their data (the title page, the contents, the Key figures
ledger and What changed: natoua.assemble, natoua.ledger, natoua.changes), never from their HTML."""

from __future__ import annotations

from . import links


def generated_blocks(data: dict, table_key: str) -> list:
    """Blocks of the document form for one generated page; `table_key` names its table, if it has one."""
    kind = data["kind"]
    if kind == "title_page":
        return [{"t": "titlepage", "kicker": data["kicker"], "title": data["title"], "subtitle": data["subtitle"],
                 "banner": data["banner"], "facts": [[term, list(runs)] for term, runs in data["facts"]],
                 "abstract": data["abstract"]}]
    if kind == "contents":
        return [{"t": "toc", "title": data["title"]}]
    if kind == "ledger":
        return _ledger(data, table_key)
    if kind == "changes":
        return _changes(data, table_key)
    raise ValueError(f"a generated page the PDF does not know: {kind!r}")


def _ledger(d: dict, key: str) -> list:
    def name(r):
        code = {"t": "code", "s": r["name"]}
        return [r["label"], {"t": "br"}, code] if r["label"] else [code]

    def value(r):
        return [f"{r['number']} (“{r['text']}” in the text)" if r["number"] else r["text"]]

    def datasets(r):
        out: list = []
        for i, name_ in enumerate(r["datasets"]):
            out += ([", "] if i else []) + [{"t": "plainref", "to": links.dataset_anchor(name_),
                                             "c": [{"t": "ident", "s": name_}]}]
        return out

    def notes(r):
        out: list = []
        for i, note in enumerate(r["notes"]):
            out += ([{"t": "br"}] if i else []) + [note]
        return out

    def cell(runs, right=False):
        return {"c": [x for x in runs if x != ""], "align": "right" if right else "left"}

    total = sum(d["widths"]) or 100
    rows = [{"cells": [cell(name(r)), cell(value(r), r["numeric"]), cell([r["unit"]]), cell(datasets(r)),
                       cell([r["section"]]), cell(notes(r))], "id": r["anchor"]} for r in d["rows"]]
    table = {"t": "table", "key": key, "label": d["label"], "caption": [d["caption"]],
             "cols": [{"w": round(w * 100 / total, 3), "align": "right" if c == "Value" else "left"}
                      for w, c in zip(d["widths"], d["columns"])],
             "head": [[c] for c in d["columns"]], "rows": rows, "source": list(d["source"]), "note": [], "id": None,
             "compact": True, "keep": False}
    return [{"t": "section"}, {"t": "h", "level": 1, "c": [d["title"]], "id": d["anchor"]},
            {"t": "p", "c": [d["intro"]], "cls": ""}, table]


def _changes(d: dict, key: str) -> list:
    def code(name):
        return {"t": "code", "s": name}

    def bullets(items):
        return [{"t": "list", "ordered": False, "items": [{"c": [{"t": "p", "c": runs}]} for runs in items], "cls": ""}]

    out = [{"t": "section"}, {"t": "h", "level": 1, "c": [d["title"]], "id": d["anchor"]}]
    if d["moved"]:
        widths, right = [30, 17, 17, 14, 22], [False, True, True, False, False]
        out.append({"t": "table", "key": key, "label": "Table C.1", "caption": ["Figures that moved"],
                    "cols": [{"w": w, "align": "right" if r else "left"} for w, r in zip(widths, right)],
                    "head": [["Figure"], ["Before"], ["Now"], ["Unit"], ["Revised dataset(s)"]],
                    "rows": [{"cells": [{"c": c, "align": "right" if r else "left"} for c, r in zip(
                        [[code(m["name"])], [m["old"]], [m["new"]], [m["unit"]], [m["datasets"]]], right)]}
                        for m in d["moved"]],
                    "source": ["Source: the claim ledgers of the two editions."], "note": [], "id": None,
                    "compact": False, "keep": False})
    if d["new_events"]:
        out += [{"t": "h", "level": 2, "c": ["New events"]}]
        out += bullets([[{"t": "b", "c": [day]}, f" {title}"] for day, title in d["new_events"]])
    if d["revised"]:
        out += [{"t": "h", "level": 2, "c": ["New or revised datasets"]}]
        out += bullets([[code(r["dataset"]), f": {r['what']}{r['counts']}"] for r in d["revised"]])
    if d["new_sources"]:
        out += [{"t": "h", "level": 2, "c": ["New sources and editions"]}] + bullets([[s] for s in d["new_sources"]])
    for label, names in d["claims"]:
        runs: list = [f"Figure{'s' if len(names) > 1 else ''} {label}: "]
        for i, name in enumerate(names):
            runs += ([", "] if i else []) + [code(name)]
        out.append({"t": "p", "c": runs + ["."], "cls": ""})
    if d["nothing_new"]:
        out.append({"t": "p", "c": ["No figure in the prose changed value, and no event, dataset or source is new."],
                    "cls": ""})
    return out
