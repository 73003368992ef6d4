"""Facts the README states that the code computes: they must agree (a README is documentation only while true)."""

import re
from datetime import date

from natoua import paths
from natoua.plan import as_of_range


def test_readme_states_the_as_of_range_that_as_of_range_returns():
    text = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**The `as_of` range the data support**"):]
    section = section[: section.index("\n\n")]
    stated = [date.fromisoformat(d) for d in re.findall(r"currently\s+\*\*(\d{4}-\d{2}-\d{2})\*\*", section)]
    assert stated == list(as_of_range())
