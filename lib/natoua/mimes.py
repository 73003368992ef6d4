"""MIME types that mark notebook outputs meant for the report (kept light: the exporter imports this
without pulling in matplotlib)."""

CLAIM = "application/vnd.natoua.claim+json"
FIGURE = "application/vnd.natoua.figure+json"
TABLE = "application/vnd.natoua.table+json"
BLOCK = "application/vnd.natoua.block+json"
