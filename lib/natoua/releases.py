"""Which release of each dataset an edition read, and when each was published.

The edition date is the data cut-off: rows describing events, dated figures and years after it are excluded.
It is not a publication date: a release published after the cut-off (the Kiel tracker's Release 28, published in
April 2026, for the 31 March 2026 edition) is used when it is the only one in the data. The title page and the
*About this edition* page say so, listing each dataset's releases with their publication dates; both renderers
read the same list (`Edition.releases`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from . import data, fmt

#: A dataset citing at most this many publications is listed release by release; above it, as a compilation.
MAX_LISTED = 3


@dataclass(frozen=True)
class Release:
    dataset: str
    title: str  # the dataset's title in the data package
    release: str  # "Kiel Institute for the World Economy, Release 28 (...)" or "compiled from 38 publications"
    published: str  # "1 April 2026", "newest 19 December 2025", "not stated"
    published_iso: str  # the newest known publication date (YYYY-MM-DD), "" if none is known
    after_cutoff: list[str]  # publications published after the cut-off: "NATO, Web page (1 June 2026)"

    def to_json(self) -> dict:
        return asdict(self)


def _published_text(row) -> str:
    if pd.isna(row["published"]):
        return "not stated"
    return fmt.day(row["published"], row.get("published_precision") or "day")


def _named_with_date(publisher: str, edition: str, published: str) -> str:
    """'Kiel Institute for the World Economy, Release 28 (data to end of February 2026), which appeared in April 2026';
    an edition that already names its date ('Web page (last reviewed 25 June 2026)') is not dated twice."""
    named = f"{publisher}, {edition}"
    if published in named or published == "not stated":
        return named
    return f"{named}, which appeared {'on' if published[:1].isdigit() else 'in'} {published}"


def edition_releases(as_of: str, datasets) -> list[Release]:
    """One entry per dataset the edition read (in the order given), from the sources its as_of-filtered rows cite."""
    sources = data.load("sources").set_index("source_id")
    cutoff = pd.Timestamp(as_of)
    out = []
    for name in datasets:
        if name == "sources":
            continue
        frame = data.load(name, as_of)
        ids = sorted({s for c in frame.columns if c.endswith("source_id") for s in frame[c].dropna()})
        cited = sources.loc[[i for i in ids if i in sources.index]]
        title = str(data.resource(name).get("title") or name)
        dated = cited.dropna(subset=["published"]).sort_values("published")
        late = dated[dated["published"] > cutoff]
        after = [_named_with_date(r.publisher, r.edition, _published_text(r._asdict())) for r in late.itertuples()]
        newest = dated.iloc[-1] if len(dated) else None
        newest_iso = newest["published"].date().isoformat() if newest is not None else ""
        if 0 < len(cited) <= MAX_LISTED:
            release = "; ".join(f"{r.publisher}, {r.edition}" for r in cited.itertuples())
            published = "; ".join(_published_text(r._asdict()) for r in cited.itertuples())
        else:
            release = (f"compiled for this report from {fmt.plural(len(cited), 'publication')} by "
                       f"{fmt.plural(cited['publisher'].nunique(), 'publisher')}") if len(cited) else "compiled for this report"
            published = f"newest {_published_text(newest)}" if newest is not None else "not stated"
        out.append(Release(dataset=name, title=title, release=release, published=published,
                           published_iso=newest_iso, after_cutoff=after))
    return out
