"""Imported by each kernel as it starts (IPKernelApp.exec_lines), before it is given a notebook.

Loading pandas, matplotlib and the natoua helpers here overlaps their import
time with the previous notebook's execution. Importing has no side effects a
notebook could observe beyond the modules being already loaded.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot  # noqa: E402,F401
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401

from natoua import blocks, charts, claims, data, fmt, tables  # noqa: E402,F401

from natoua import output_limit  # noqa: E402

output_limit.install()  # a cell that prints without end fails at the output limit, naming it
