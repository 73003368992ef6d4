"""What a run is asked to do, checked before any work: the cut-off, the currency, the reports folder, the
sections and their parameters.

Every command (build, preview, briefs) checks its arguments here, so an argument means the same and fails
with the same one line (exit code 2) everywhere. A section's parameters are read from its notebook's one
`parameters` cell with Papermill's `inspect_notebook`; the rules in brackets at the end of a parameter's
comment (`[min 0; max 50; ordered; len 2]`) are checked here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import paths, regular
from .errors import EXIT_BAD_INPUT, EXIT_FAILED, BuildError

MAX_CELL_TIMEOUT = 86400  # seconds: the longest cell time limit a notebook or --cell-timeout may set

# Summits the sections' prose is written around (sections 02, 03 and 11 require them by id): an edition
# needs the last of them to have ended. Their dates come from data/summits.csv.
PROSE_SUMMITS = ("bucharest-2008", "vilnius-2023", "washington-2024")
CURRENCIES = ("EUR", "USD")
COMMON_PARAMETERS = ("as_of", "currency")  # set by --as-of and --currency only, never by -p
SECTION_ID = re.compile(r"^(?:[0-9]{2}|A[0-9])$")
ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


# --- the arguments every command shares ----------------------------------------------------

def check_as_of(value: str) -> str:
    """A calendar date YYYY-MM-DD (not an ISO week or ordinal date) within the range the data support."""
    try:
        if not isinstance(value, str) or not ISO_DAY.match(value):
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BuildError(f"--as-of {value!r} is not a date YYYY-MM-DD", EXIT_BAD_INPUT) from None
    first, last = as_of_range()
    if not first <= parsed <= last:
        raise BuildError(f"--as-of {value} is outside the range the data support: {first} to {last} "
                         f"(see README, Parameters)", EXIT_BAD_INPUT)
    return value


def as_of_range() -> tuple[date, date]:
    """The cut-offs the data package supports, derived from it.

    First: the end of the last summit the prose is written around (PROSE_SUMMITS, dates from summits.csv),
    or the newest start of a dated dataset's coverage if later: before it, sections have nothing to say.
    Last: two years after the newest end of any dataset's coverage (datapackage.json `temporal`); beyond
    it every figure would be a stale repeat of the last release."""
    import csv

    from .data import DataError, package, resource, resource_path

    fallback = (date(2024, 7, 11), date(2028, 10, 30))  # what the package held when this was written
    try:
        resources = [r for r in package().get("resources", []) if isinstance(r, dict)]
        starts, ends = [], []
        for r in resources:
            temporal = r.get("temporal") if isinstance(r.get("temporal"), dict) else {}
            if r.get("as_of_filter") and temporal.get("start"):
                starts.append(date.fromisoformat(str(temporal["start"])))
            if temporal.get("end"):
                ends.append(date.fromisoformat(str(temporal["end"])))
        import io

        # Read before the lock: a FIFO or device here is refused (OSError), never waited on.
        text = regular.read_bytes(resource_path(resource("summits"))).decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            if row.get("summit_id") in PROSE_SUMMITS:
                starts.append(date.fromisoformat(row.get("end_date") or row["start_date"]))
        last = max(ends)
        two_years = date(last.year + 2, last.month, 28 if (last.month, last.day) == (2, 29) else last.day)
        return max(starts), two_years
    except (DataError, OSError, ValueError, KeyError, TypeError, RecursionError, csv.Error):
        return fallback  # a broken package: validation reports it next


def check_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise BuildError(f"--currency must be one of {', '.join(CURRENCIES)}", EXIT_BAD_INPUT)
    return value


def check_out(out) -> Path:
    """--out: a folder the build can write to (created if missing)."""
    import tempfile

    reports = Path(out)
    if reports.exists() and not reports.is_dir():
        raise BuildError(f"--out {out}: not a folder", EXIT_BAD_INPUT)
    try:
        reports.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=reports)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BuildError(f"--out {out}: not a writable folder ({exc.strerror or exc})", EXIT_BAD_INPUT) from None
    return reports.resolve()


# --- sections --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Section:
    """One notebook of the report (or the ally brief), as its file declares it."""

    section: str  # "07", "A1"
    notebook: Path
    title: str
    specs: dict = field(default_factory=dict)  # parameter name -> ParameterSpec (from the parameters cell)
    cell_timeout: int | None = None  # notebook metadata natoua.cell_timeout (seconds per cell)
    # The notebook's bytes, read once: the cache key is their digest and these bytes (not the file as it
    # may be by then) are what runs, so an edit saved during a build can never be cached under the old key.
    source: bytes = field(default=b"", repr=False)

    @property
    def name(self) -> str:
        return self.notebook.stem

    @property
    def declared(self) -> dict:
        """Parameter name -> default, as the parameters cell declares them."""
        return {name: spec.default for name, spec in self.specs.items()}


def parameters_memo(reports: Path) -> Path:
    """Where a reports folder remembers the notebooks' parameters (see parameter_specs)."""
    return Path(reports) / ".cache" / "parameters"


def section_notebooks(selected=None, notebooks: Path | None = None) -> dict[str, Path]:
    """Section id -> notebook, in report order; `selected` (ids) is checked and applied."""
    available = {p.name.split("_", 1)[0]: p for p in paths.section_notebooks(notebooks)}
    if selected:
        bad = [s for s in selected if not SECTION_ID.match(s)]
        if bad:
            raise BuildError(f"--sections: {', '.join(map(repr, bad))} is not a section number like 02 or A1", EXIT_BAD_INPUT)
        unknown = [s for s in selected if s not in available]
        if unknown:
            raise BuildError(f"--sections: no section {', '.join(unknown)} (have {', '.join(available)})", EXIT_BAD_INPUT)
    return {sid: p for sid, p in available.items() if not selected or sid in selected}


def load_section(sid: str, notebook: Path, memo: Path | None = None) -> Section:
    """The section as its notebook declares it (raises if the file is not a readable notebook). `memo`: a
    folder remembering each notebook's parameters by content (see parameter_specs)."""
    where = _shown(notebook)
    try:
        source = regular.read_bytes(notebook)
        nb = json.loads(source.decode("utf-8"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("not a notebook (no list of cells)")
    except OSError as exc:
        raise BuildError(f"{where}: {exc.strerror or exc}; nothing was built", EXIT_FAILED) from None
    except json.JSONDecodeError as exc:
        raise BuildError(f"{where}: not a valid notebook: invalid JSON at line {exc.lineno} ({exc.msg}); saved half-way? "
                         f"save it again; nothing was built", EXIT_FAILED) from None
    except (ValueError, RecursionError) as exc:
        raise BuildError(f"{where}: not a valid notebook ({exc}); nothing was built", EXIT_FAILED) from None
    return Section(sid, notebook, notebook_title(nb), parameter_specs(notebook, memo, nb),
                   notebook_cell_timeout(nb, where), source)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(paths.ROOT))
    except ValueError:
        return str(path)


def plan(selected=None, notebooks: Path | None = None, memo: Path | None = None) -> list[Section]:
    """The sections to build, in report order."""
    return [load_section(sid, p, memo) for sid, p in section_notebooks(selected, notebooks).items()]


def notebook_title(nb: dict) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled section"


def notebook_cell_timeout(nb: dict, where: str = "notebook") -> int | None:
    """A notebook's own cell time limit (metadata {"natoua": {"cell_timeout": seconds}}), if it sets one:
    a number of seconds from 1 to MAX_CELL_TIMEOUT, like --cell-timeout (anything else stops the build)."""
    import math

    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    natoua = meta.get("natoua") if isinstance(meta.get("natoua"), dict) else {}
    if "cell_timeout" not in natoua:
        return None
    value = natoua["cell_timeout"]
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value
            or not 1 <= value <= MAX_CELL_TIMEOUT):
        raise BuildError(f"{where}: metadata natoua.cell_timeout {value!r} is not a number of seconds from 1 to "
                         f"{MAX_CELL_TIMEOUT}", EXIT_BAD_INPUT)
    return math.ceil(value)


# --- parameters ------------------------------------------------------------------------------

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}
_RULES = re.compile(r"\[([^\[\]]*)\]\s*$")


@dataclass
class ParameterSpec:
    """One parameter as its notebook declares it: `name: type = default  # help [min 0; max 1; ordered; len 2]`."""

    name: str
    type: str  # int, float, str, bool, list[int], ...
    default: object
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    ordered: bool = False  # a list in strictly increasing order
    length: tuple[int, int | None] | None = None  # (at least, at most) items

    def check(self, value) -> str | None:
        """What is wrong with `value`, or None."""
        item_type = self.type[5:-1] if self.type.startswith("list[") else None
        if item_type:
            if not isinstance(value, list):
                return f"expected a list of {item_type}, e.g. {self.default!r}"
            items = value
            low, high = self.length or (0, None)
            if len(items) < low or (high is not None and len(items) > high):
                count = f"{low}" if high == low else f"at least {low}" if high is None else f"{low} to {high}"
                return f"expected {count} item(s), got {len(items)}"
        else:
            items = [value]
        kind = _TYPES.get(item_type or self.type)
        if kind is None:  # an annotation this checker does not know: the notebook checks the value itself
            return None
        for item in items:
            ok = isinstance(item, kind) and not (kind is not bool and isinstance(item, bool))
            if kind is float and isinstance(item, int) and not isinstance(item, bool):
                ok = True
            if not ok:
                return f"{item!r} is not {'an' if (item_type or self.type)[0] in 'aeiou' else 'a'} {item_type or self.type}"
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if item != item or item in (float("inf"), float("-inf")):
                    return f"{item!r} is not a finite number"
                if self.minimum is not None and item < self.minimum:
                    return f"{item!r} is below the minimum {_as_written(self.minimum)}"
                if self.maximum is not None and item > self.maximum:
                    return f"{item!r} is above the maximum {_as_written(self.maximum)}"
        if self.ordered and any(b <= a for a, b in zip(items, items[1:])):
            return f"{value!r} must be in increasing order"
        return None


def _as_written(x: float):
    """A limit as the notebook wrote it: 50, not 50.0."""
    return int(x) if float(x).is_integer() else x


def parameter_specs(notebook: Path, memo: Path | None = None, nb: dict | None = None) -> dict[str, ParameterSpec]:
    """The typed parameters of the cell tagged `parameters` (Papermill's reading of it), with the rules in
    their comments. A default must be a Python literal. `nb`: the notebook already parsed, if it is."""
    import ast

    found = {}
    for name, p in _inspect(Path(notebook), memo, nb).items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise BuildError(f"{_shown(notebook)}: parameter {name!r}: the default {p['default']!r} is not a Python "
                             f"literal (a parameters cell holds literals only); nothing was built", EXIT_FAILED) from None
        kind = p["inferred_type_name"]
        found[name] = _spec(name, type(default).__name__ if kind in (None, "None") else kind, default,
                            (p["help"] or "").strip())
    return found


def _inspect(notebook: Path, memo: Path | None, nb: dict | None = None) -> dict:
    """papermill.inspect_notebook, remembered in `memo` by what it reads (`_inspected_part`): importing
    Papermill costs more CPU than a build with nothing to do (about 0.6 s against 0.3 s), so that build does
    not, nor one after an edit outside the parameters cell."""
    from importlib.metadata import version

    from .files import read_json, write_atomic

    if memo is None:
        from papermill import inspect_notebook

        return inspect_notebook(notebook)
    digest = hashlib.sha256(_inspected_part(notebook, nb) + version("papermill").encode()).hexdigest()
    path = Path(memo) / f"{digest}.json"
    found = read_json(path)
    if not found:
        from papermill import inspect_notebook

        found = inspect_notebook(notebook)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(found, sort_keys=True).encode())
        except OSError:
            pass  # a read-only reports folder: --out says so next
    return found


def _inspected_part(notebook: Path, nb: dict | None) -> bytes:
    """What Papermill's inspection reads of a notebook: the cells tagged `parameters` and the kernel's name and
    language (which choose its translator). Prose and code elsewhere do not change it. The whole file's bytes
    when the notebook is not at hand or not shaped as expected (its inspection then says what is wrong)."""
    try:
        meta = nb.get("metadata") or {}
        tagged = [c.get("source") for c in nb["cells"] if "parameters" in ((c.get("metadata") or {}).get("tags") or [])]
        return b"parameters:" + json.dumps([tagged, meta.get("kernelspec"), meta.get("language_info")],
                                          sort_keys=True).encode()
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
        return notebook.read_bytes()


def _spec(name: str, kind: str, default, comment: str) -> ParameterSpec:
    spec = ParameterSpec(name, kind, default, comment)
    match = _RULES.search(comment)
    for rule in (match.group(1).split(";") if match else []):
        word, _, arg = rule.strip().partition(" ")
        if word == "min":
            spec.minimum = float(arg)
        elif word == "max":
            spec.maximum = float(arg)
        elif word == "ordered":
            spec.ordered = True
        elif word == "len":
            spec.length = (int(arg[:-1]), None) if arg.endswith("+") else (int(arg), int(arg))
    return spec


def section_parameters(section: Section, common: dict, given: dict | None = None) -> dict:
    """The parameters a section runs with: the common ones it declares (as_of, currency), then those given
    for it (-p), each checked against the notebook's declaration."""
    params = {k: v for k, v in common.items() if k in section.declared}
    for key, value in (given or {}).items():
        if key in COMMON_PARAMETERS:
            raise BuildError(f"-p {section.section}.{key}: {key} is common to every section; "
                             f"use --{key.replace('_', '-')}", EXIT_BAD_INPUT)
        if key not in section.declared:
            raise BuildError(f"section {section.section} has no parameter {key!r} "
                             f"(it declares {', '.join(section.declared) or 'none'})", EXIT_BAD_INPUT)
        problem = section.specs[key].check(value)
        if problem:
            raise BuildError(f"-p {section.section}.{key}={value!r}: {problem}", EXIT_BAD_INPUT)
        params[key] = value
    return params
