"""Where things live. The only module that knows the repository layout.

The data folder can be redirected with NATOUA_DATA_DIR (tests apply malformed
fixtures to a copy of the real package this way); everything else is fixed.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# NATOUA_NOTEBOOKS_DIR lets the trust tests run scratch notebooks (a hung or crashing cell) without touching notebooks/.
NOTEBOOKS = Path(os.environ["NATOUA_NOTEBOOKS_DIR"]).resolve() if os.environ.get("NATOUA_NOTEBOOKS_DIR") else ROOT / "notebooks"
REPORTS = ROOT / "reports"
TEMPLATES = Path(__file__).resolve().parent / "templates"
PACKAGE_SOURCE = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The data package folder (data/ unless NATOUA_DATA_DIR says otherwise)."""
    override = os.environ.get("NATOUA_DATA_DIR")
    return Path(override).resolve() if override else ROOT / "data"


def datapackage() -> Path:
    return data_dir() / "datapackage.json"


def section_notebooks(folder: Path | None = None) -> list[Path]:
    """Report sections in report order: numbered sections NN_slug.ipynb, then appendices AN_slug.ipynb
    (in notebooks/, or in `folder`: the preview's tests run a copy)."""
    folder = Path(folder) if folder is not None else NOTEBOOKS
    numbered = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    appendices = sorted(folder.glob("A[0-9]_*.ipynb"))
    return numbered + appendices


def ally_brief_notebook() -> Path:
    return NOTEBOOKS / "ally_brief.ipynb"
