"""The claim ledger: every figure in the prose is a named, computed value.

In a code cell:

    claims.claim("allies_at_2pct_2024", n, unit="allies", datasets=["defence_expenditure"])

In a Markdown cell below it, the prose refers to it by name:

    By 2024, {{ allies_at_2pct_2024 }} allies spent at least 2% of GDP on defence.

The claim is displayed in the notebook (so JupyterLab shows the value next to
the code) and carried in the cell's output as JSON. At export the placeholders
are replaced by the formatted values; an unknown name fails the export. A claim
may carry a check; when the data contradict it, the section fails with a
message naming the claim and the rows that contradict it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field

import pandas as pd

from . import mimes

MIME = mimes.CLAIM
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: Claims made in this kernel, by name (later cells may reuse values).
LEDGER: dict[str, "Claim"] = {}


class ClaimError(Exception):
    """A claim is malformed, unknown, or contradicted by the data."""


@dataclass(frozen=True)
class Check:
    text: str
    holds: bool
    evidence: str = ""


@dataclass
class Claim:
    name: str
    value: object
    text: str
    unit: str
    datasets: list[str]
    check: str = ""
    section: str = ""
    note: str = ""
    label: str = ""  # what the figure is, in words a reader recognises (shown next to the name in the ledger)
    extra: dict = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The claim's placeholder, for generated prose: `blocks.paragraph(f"... {c.ref} ...")` prints the value
        linked to its ledger row, exactly like `{{ name }}` in a Markdown cell."""
        return f"{{{{ {self.name} }}}}"

    def to_json(self) -> dict:
        out = asdict(self)
        out["value"] = _jsonable(self.value)
        return out

    def __repr__(self) -> str:
        return f"{{{{ {self.name} }}}} → {self.text}"

    def _repr_mimebundle_(self, include=None, exclude=None):
        shown = f"{{{{ {self.name} }}}} → {self.text}"
        return {
            MIME: self.to_json(),
            "text/plain": shown,
            "text/markdown": f"`{{{{ {self.name} }}}}` → **{html.escape(self.text)}** "
            f"<small>({html.escape(self.unit)}; {html.escape(', '.join(self.datasets))})</small>",
        }


def expect(holds, text: str, evidence=None) -> Check:
    """A check on a claim: `holds` must be true; `evidence` shows the contradicting rows."""
    if isinstance(evidence, pd.DataFrame):
        evidence = evidence.to_string(index=False, max_rows=12) if not evidence.empty else ""
    elif isinstance(evidence, pd.Series):
        evidence = evidence.to_string(max_rows=12) if not evidence.empty else ""
    return Check(text=text, holds=bool(holds), evidence=str(evidence or ""))


def require(holds, text: str, evidence=None) -> None:
    """A check that stands on its own (not attached to one claim): fails the section when it does not hold."""
    check = expect(holds, text, evidence)
    if not check.holds:
        detail = f"\nContradicting data:\n{check.evidence}" if check.evidence else ""
        raise ClaimError(f"check failed: {check.text}.{detail}")


def claim(name: str, value, *, unit: str, datasets, fmt=None, check: Check | None = None,
          note: str = "", label: str = "", display: bool = True) -> Claim:
    """Record a named figure for the prose; returns the Claim (its `.text` is what prose shows)."""
    if not NAME.match(name):
        raise ClaimError(f"claim name {name!r} must be lower_snake_case")
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    if not datasets:
        raise ClaimError(f"claim {name!r} must name the dataset(s) it comes from")
    value = _plain(value)
    if value is None:
        raise ClaimError(f"claim {name!r} has no value (missing data must be stated in prose, not claimed)")
    text = _format(value, fmt)
    if check is not None and not check.holds:
        evidence = f"\nContradicting data:\n{check.evidence}" if check.evidence else ""
        raise ClaimError(f"claim {name!r} failed its check: {check.text} (value: {text}).{evidence}")
    made = Claim(name=name, value=value, text=text, unit=unit, datasets=datasets,
                 check=check.text if check else "", note=note, label=label)
    LEDGER[name] = made
    if display:
        from IPython.display import display as show

        show(made)
    return made


def value(name: str):
    """The value of a claim made earlier in this kernel."""
    try:
        return LEDGER[name].value
    except KeyError:
        raise ClaimError(f"no claim named {name!r} has been made yet") from None


# --- used at export ------------------------------------------------------------

def collect(nb) -> dict[str, dict]:
    """All claims carried in an executed notebook's outputs, by name."""
    found: dict[str, dict] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if MIME in data:
                payload = data[MIME]
                payload = json.loads(payload) if isinstance(payload, str) else dict(payload)
                found[payload["name"]] = payload
    return found


def substitute(markdown: str, ledger: dict[str, dict], where: str = "", plain: bool = False, link=None) -> str:
    """Replace {{ name }} by the claim's text (escaped for Markdown unless plain); an unknown name is an error.
    `link(name, escaped_text)` may wrap each value (the export links it to its row in the claim ledger)."""
    def repl(match):
        name = match.group(1)
        if name not in ledger:
            raise ClaimError(f"{where}: the prose refers to {{{{ {name} }}}} but no claim of that name was made")
        text = ledger[name]["text"]
        if plain:
            return text
        return link(name, _escape_markdown(text)) if link else _escape_markdown(text)

    return PLACEHOLDER.sub(repl, markdown)


_TAG = re.compile(r"(<[^>]*>)")


def substitute_html(markup: str, ledger: dict[str, dict], where: str = "", link=None) -> str:
    """Replace {{ name }} in generated HTML (blocks, figure and table titles): in text, the escaped value wrapped
    by `link(name, escaped_text)`; inside a tag (an alt or aria-label attribute) the escaped value alone."""
    if "{{" not in markup:
        return markup

    def value(name: str) -> str:
        if name not in ledger:
            raise ClaimError(f"{where}: the prose refers to {{{{ {name} }}}} but no claim of that name was made")
        return html.escape(ledger[name]["text"])  # quotes too: safe inside an attribute

    out = []
    for i, piece in enumerate(_TAG.split(markup)):
        if i % 2:  # a tag: plain value
            out.append(PLACEHOLDER.sub(lambda m: value(m.group(1)), piece))
        else:
            out.append(PLACEHOLDER.sub(lambda m: link(m.group(1), value(m.group(1))) if link else value(m.group(1)),
                                       piece))
    return "".join(out)


def _escape_markdown(text: str) -> str:
    """A claim's text as literal Markdown: a dataset string can never become a link, image or markup."""
    from .safety import escape_markdown

    return escape_markdown(text)


# --- formatting -------------------------------------------------------------------

def _plain(value):
    """numpy/pandas scalars to plain Python values."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _format(value, fmt) -> str:
    if callable(fmt):
        return str(fmt(value))
    if isinstance(fmt, str):
        return fmt.format(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if hasattr(value, "isoformat"):
        from .fmt import day

        return day(value)
    return str(value)


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)

