"""natoua: build the report "NATO–Ukraine Relations 2026" from sourced data.

Modules, one concern each:
  paths     where the repository's folders are (the only module that knows)
  data      load a dataset by name from data/datapackage.json, recording what was read
  validate  check the data package and report problems as file:row:column: message
  claims    the claim ledger: named, computed figures for prose, with optional checks
  charts    house chart style and the figure helper (title, numbered caption, source, alt text)
  tables    the table helper (caption, source line, escaped cells)
  build     plan and run the section notebooks with Papermill, assemble, publish
  cache     keys and storage for executed sections
  export    nbconvert exporters: self-contained HTML and WeasyPrint PDF
  cli       the `natoua` command
"""

__version__ = "1.0.0"

TITLE = "NATO–Ukraine Relations 2026"
SUBTITLE = "Membership Path, Security Guarantees, and Alliance Support"
DEFAULT_AS_OF = "2026-03-31"
