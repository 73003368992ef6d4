"""natoua: build the report "NATO–Ukraine Relations 2026" from sourced data.

Modules, one concern each:
  paths     where the repository's folders are (the only module that knows)
  safety    text from data is text: Markdown escaping, the URL schemes a link may use
  data      load a dataset by name from data/datapackage.json, recording what was read
  validate  check the data package and report problems as file:row:column: message
  claims    the claim ledger: named, computed figures for prose, with optional checks
  charts    house chart style and the figure helper (title, numbered caption, source, alt text)
  tables    the table helper (caption, source line, escaped cells)
  blocks    generated prose blocks: paragraphs, lists, call-outs, key-figure panels, references
  fmt       number, money and date formatting (dates at their known precision)
  analysis  shared computations: allies on a date, NATO spending editions, targets
  agreements, support, summits, accession
            shared computations for the security agreements, the Kiel tracker, summits, accession paths
  plan      what a run is asked to do, checked first: cut-off, currency, --out, sections, their parameters
  runner    the one place that decides what runs: cache lookups, validation, the worker pool (build,
            preview and briefs all run their notebooks through it)
  pool      worker processes; execute: run one notebook with Papermill on a warm kernel; zygote: fast forks
  datacheck the data validated are the data used (cached validation, file snapshot, checks after the run)
  cache     keys and storage for executed sections
  errors    one-line errors and the exit codes; files: atomic writes
  assemble  join executed sections into the report notebook; edition: write an edition's files
  changes   what changed since the previous edition; freshness of each section's data
  publish   atomic publishing of editions and briefs, and the build lock
  build     `natoua build`: run the sections, write the edition, publish it
  briefs    per-ally briefs from one parameterised notebook
  export    nbconvert exporters: self-contained HTML and PDF; pdf_form (with pdf_html, pdf_dom): the PDF's
            document form; typst_pdf: the PDF, typeset by Typst
  preview   the live preview's engine (rebuilds the page); preview_server: its web server and the command;
            labview: prose with its values in JupyterLab
  cli       the `natoua` command
"""

__version__ = "1.0.0"

TITLE = "NATO–Ukraine Relations 2026"
SUBTITLE = "Membership Path, Security Guarantees, and Alliance Support"
DEFAULT_AS_OF = "2026-03-31"

# In a kernel JupyterLab started for a notebook (only there), each code cell that runs shows the prose below it
# with its values (see labview); in the build's kernels and every other process this does nothing.
from . import labview as _labview  # noqa: E402

_labview.install()
