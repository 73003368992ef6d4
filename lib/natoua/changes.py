"""What changed since the previous edition, and how fresh each section's data are.

Each edition stores `datasets.json` (per dataset: content digest, row keys,
cited sources) beside its claim ledger, so the next edition can say which
figures moved, which events and sources are new, and which datasets were
revised, without keeping copies of old data.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import data, fmt
from .safety import escape_markdown as md


def snapshot() -> dict:
    """Per dataset: digest, row count, primary-key values, cited source ids (and event titles)."""
    out = {}
    for name in data.resource_names():
        res = data.resource(name)
        frame = data.load(name)
        keys = res.get("schema", {}).get("primaryKey") or []
        keys = [keys] if isinstance(keys, str) else keys
        row_keys = ["|".join(str(v) for v in row) for row in frame[keys].astype(str).itertuples(index=False)] if keys else []
        sources = sorted({s for c in frame.columns if c.endswith("source_id") and name != "sources"
                          for s in frame[c].dropna()})
        entry = {"digest": data.dataset_digest(name), "rows": len(frame), "keys": sorted(row_keys), "sources": sources}
        if name == "events":
            entry["titles"] = {r.event_id: [str(r.date.date()), str(r.title)] for r in frame.itertuples()}
        out[name] = entry
    return out


@dataclass
class Changes:
    previous_as_of: str
    moved: list[dict] = field(default_factory=list)  # claims whose value changed
    added_claims: list[str] = field(default_factory=list)
    removed_claims: list[str] = field(default_factory=list)
    new_events: list[tuple[str, str]] = field(default_factory=list)
    revised: list[dict] = field(default_factory=list)  # datasets whose content changed
    new_sources: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.moved or self.added_claims or self.removed_claims or self.new_events or self.revised
                    or self.new_sources)


def compare(previous: Path, ledger: dict, current: dict, as_of: str) -> Changes:
    """Changes from the edition in `previous` (a published edition folder) to this one."""
    manifest = json.loads((previous / "manifest.json").read_text(encoding="utf-8"))
    old_ledger = json.loads((previous / "claims.json").read_text(encoding="utf-8"))
    old_data = _read(previous / "datasets.json")
    ch = Changes(previous_as_of=manifest.get("as_of", previous.name))

    for name, claim in sorted(ledger.items()):
        old = old_ledger.get(name)
        if old is None:
            ch.added_claims.append(name)
        elif old.get("text") != claim.get("text"):
            ch.moved.append({"name": name, "old": old.get("text"), "new": claim.get("text"), "unit": claim.get("unit", ""),
                             "datasets": claim.get("datasets", []),
                             "changed_datasets": [d for d in claim.get("datasets", [])
                                                  if old_data.get(d, {}).get("digest") != current.get(d, {}).get("digest")]})
    ch.removed_claims = sorted(set(old_ledger) - set(ledger))
    if not old_data:  # an edition built before data snapshots were kept: figures only
        return ch

    # New events: known now but not in the previous edition (newly recorded, or dated after its cut-off).
    old_titles = old_data.get("events", {}).get("titles", {})
    for event_id, (day, title) in sorted(current.get("events", {}).get("titles", {}).items(), key=lambda kv: kv[1][0]):
        if day <= as_of and (event_id not in old_titles or day > ch.previous_as_of):
            ch.new_events.append((day, title))

    for name, entry in sorted(current.items()):
        before = old_data.get(name)
        if before is None:
            ch.revised.append({"dataset": name, "what": "new dataset", "rows": entry["rows"]})
        elif before["digest"] != entry["digest"]:
            added = len(set(entry["keys"]) - set(before["keys"]))
            removed = len(set(before["keys"]) - set(entry["keys"]))
            ch.revised.append({"dataset": name, "what": "revised", "rows": entry["rows"], "added": added,
                               "removed": removed, "new_sources": sorted(set(entry["sources"]) - set(before["sources"]))})
    old_sources = set(old_data.get("sources", {}).get("keys", []))
    ch.new_sources = sorted(set(current.get("sources", {}).get("keys", [])) - old_sources) if old_data else []
    return ch


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _citation(source_id: str) -> str:
    try:
        return data.source(source_id).citation()
    except data.DataError:
        return source_id


def to_markdown(ch: Changes, as_of: str) -> str:
    lines = [f"# {title(ch, as_of)}", "", f"This edition: data as of {as_of}; previous: {ch.previous_as_of}.", ""]
    if ch.empty:
        return "\n".join(lines + ["Nothing changed: the same figures, events and sources.", ""])
    reason = "none (later cut-off)" if ch.previous_as_of != as_of else "none (method changed)"
    if ch.moved:
        lines += ["## Figures that moved", "", "| Figure | Before | Now | Unit | Dataset(s) revised |", "|---|---|---|---|---|"]
        # Values, units, titles and citations come from data: literal text, as in the HTML (no link, image
        # or markup can come from a cell); names are identifiers, shown as code.
        lines += [f"| `{m['name']}` | {md(m['old'])} | {md(m['new'])} | {md(m['unit'])} | "
                  f"{md(', '.join(m['changed_datasets']) or reason)} |" for m in ch.moved]
        lines.append("")
    if ch.new_events:
        lines += ["## New events", ""] + [f"- {md(d)}: {md(t)}" for d, t in ch.new_events] + [""]
    if ch.revised:
        lines += ["## New or revised datasets", ""]
        for r in ch.revised:
            extra = "" if r["what"] == "new dataset" else f" (+{r['added']} / -{r['removed']} rows)"
            lines.append(f"- `{r['dataset']}`: {r['what']}{extra}, {r['rows']} rows")
        lines.append("")
    if ch.new_sources:
        lines += ["## New sources and editions", ""] + [f"- {md(_citation(s))}" for s in ch.new_sources] + [""]
    if ch.added_claims or ch.removed_claims:
        lines += ["## Figures added or dropped", ""]
        lines += [f"- added: `{n}`" for n in ch.added_claims] + [f"- dropped: `{n}`" for n in ch.removed_claims] + [""]
    return "\n".join(lines)


def to_data(ch: Changes, as_of: str) -> dict:
    """The What changed page as data (natoua.generated renders its HTML, natoua.pdf_generated typesets it)."""
    reason = "none (later cut-off)" if ch.previous_as_of != as_of else "none (method changed)"
    return {
        "kind": "changes", "anchor": "sec-changes", "title": title(ch, as_of),
        "moved": [{"name": m["name"], "old": str(m["old"]), "new": str(m["new"]), "unit": m["unit"],
                   "datasets": ", ".join(m["changed_datasets"]) or reason} for m in ch.moved],
        "new_events": [[fmt.day(d), t] for d, t in ch.new_events],
        "revised": [{"dataset": r["dataset"], "what": r["what"], "counts": "" if r["what"] == "new dataset" else
                     f" ({r['added']} rows added, {r['removed']} removed)"} for r in ch.revised],
        "new_sources": [_citation(s) for s in ch.new_sources],
        "claims": [[label, names] for label, names in (("added", ch.added_claims), ("dropped", ch.removed_claims)) if names],
        "nothing_new": not (ch.moved or ch.new_events or ch.revised or ch.new_sources)}


def title(ch: Changes, as_of: str) -> str:
    if ch.previous_as_of == as_of:
        return f"What changed since the previous build of the {fmt.day(as_of)} edition"
    return f"What changed since the {fmt.day(ch.previous_as_of)} edition"


# --- freshness ------------------------------------------------------------------------------

def newest_observation(name: str, as_of: str):
    """The latest date a dataset's rows describe, on or before as_of (None if undated)."""
    import pandas as pd

    res = data.resource(name)
    rule = res.get("as_of_filter")
    if not rule:
        end = (res.get("temporal") or {}).get("end")
        return min(pd.Timestamp(end), pd.Timestamp(as_of)) if end else None
    frame = data.load(name, as_of)
    col = frame[rule["field"]].dropna()
    if col.empty:
        return None
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.max()
    end = (res.get("temporal") or {}).get("end")
    last = pd.Timestamp(year=int(col.max()), month=12, day=31)
    if end:
        last = min(last, pd.Timestamp(end))
    return min(last, pd.Timestamp(as_of))


def freshness(datasets: list[str], as_of: str, stale_months: int) -> tuple[str, bool]:
    """A note on how recent a section's data are, and whether they are older than the threshold."""
    import pandas as pd

    dated = {}
    for name in datasets:
        # Only periodic series can be out of date; an event log with no recent event is simply complete.
        if name not in data.resource_names() or not data.resource(name).get("periodic"):
            continue
        try:
            when = newest_observation(name, as_of)
        except data.DataError:
            continue
        if when is not None:
            dated[name] = when
    if not dated:
        return "", False
    newest = max(dated.values())
    stale = newest < pd.Timestamp(as_of) - pd.DateOffset(months=stale_months)
    note = f"Newest statistics in this section: {fmt.month_year(newest)}"
    if stale:
        note += f", more than {stale_months} months before the cut-off ({fmt.day(as_of)})"
    return note + ".", stale
