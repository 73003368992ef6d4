"""Figures, tables and blocks escape dataset text; CSV downloads neutralise formulas."""

from __future__ import annotations

import base64
import re

import pandas as pd

from natoua import blocks, charts, tables

HOSTILE = '<script>alert(1)</script><img src=http://evil.example/x.png>'


def test_table_cells_and_caption_are_escaped():
    t = tables.Table(pd.DataFrame({"name": [HOSTILE], "value": [1.5]}), caption=HOSTILE, source="Source: " + HOSTILE)
    markup = t.html()
    assert "<script>" not in markup and "<img src=http" not in markup
    assert "&lt;script&gt;" in markup


def test_csv_download_neutralises_formulas():
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)", "plain"], "num": [-1.5, 2, 3, 4, 5]})
    csv = tables.to_csv(frame)
    lines = csv.splitlines()[1:]
    assert lines[0].startswith("\"'=HYPERLINK") or lines[0].startswith("'=HYPERLINK")
    assert lines[1].startswith("'+1") and lines[2].startswith("'-cmd") and lines[3].startswith("'@SUM")
    assert lines[4].startswith("plain")
    assert lines[0].endswith(",-1.5"), "negative numbers stay numbers"


def test_table_embeds_its_csv_as_a_data_url():
    markup = tables.Table(pd.DataFrame({"a": ["=1+1"]}), caption="c", source="Source: s").html()
    payload = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', markup).group(1)
    assert base64.b64decode(payload).decode() == "a\n'=1+1\n"


def test_blocks_escape_text():
    captured = []
    import IPython.display as disp

    original = disp.display
    disp.display = lambda obj: captured.append(obj)
    try:
        blocks.paragraph(HOSTILE)
        blocks.bullets([HOSTILE, ("lead" + HOSTILE, HOSTILE)])
        blocks.callout(HOSTILE, kind="gap")
        blocks.key_figures([(HOSTILE, HOSTILE, HOSTILE)])
        blocks.references([{"publisher": HOSTILE, "title": HOSTILE, "url": HOSTILE, "via": HOSTILE}])
    finally:
        disp.display = original
    assert len(captured) == 5
    for block in captured:
        assert "<script>" not in block.markup and "<img src=http" not in block.markup


def test_figure_is_embedded_png_with_alt_text_and_escaped_caption():
    fig, ax = charts.new()
    ax.plot([1, 2], [3, 4])
    f = charts.Figure(charts.png_bytes(fig), title=HOSTILE, caption=HOSTILE, source="Source: x", alt='say "hi"')
    markup = f.html()
    assert 'src="data:image/png;base64,' in markup
    assert 'alt="say &quot;hi&quot;"' in markup
    assert "<script>" not in markup


def test_png_output_is_deterministic():
    def render():
        fig, ax = charts.new()
        ax.bar(["a", "b"], [1, 2])
        return charts.png_bytes(fig)

    assert render() == render()


def test_reference_line_draws_a_labelled_dashed_line():
    fig, ax = charts.new()
    ax.set_xlim(2010, 2025)  # years, as in the report (a label at x=2014 on a 0..1 axis made a giant PNG)
    charts.reference_line(ax, 2.0, "2% guideline", 2014)
    charts.reference_line(ax, 3.5, "3.5% core target", 2014, above=False)
    lines = [l for l in ax.get_lines() if l.get_linestyle() == "--"]
    assert [l.get_ydata()[0] for l in lines] == [2.0, 3.5]
    texts = {t.get_text(): t for t in ax.texts}
    assert texts["2% guideline"].get_position()[1] > 2.0 and texts["3.5% core target"].get_position()[1] < 3.5
    charts.png_bytes(fig)


def test_house_money_restyles_dataset_text_and_plural_counts():
    from natoua import fmt

    assert fmt.house_money("EU leaders agreed a EUR 90 billion loan; about USD 500 million each") == \
        "EU leaders agreed a €90 bn loan; about $500 m each"
    assert fmt.house_money("GBP 2.5 billion, $170B, CAD 3 billion, €3 bn") == "£2.5 bn, $170 bn, CAD 3 bn, €3 bn"
    assert fmt.plural(1, "publisher") == "1 publisher" and fmt.plural(13, "publication") == "13 publications"


def test_a_document_exported_alone_gets_its_own_ledger_each_row_a_link_target():
    from natoua import blocks, links
    from natoua.claims import Claim

    made = [Claim(name="brief_aid_total", value=5.864, text="€5.86 bn", unit="EUR bn", datasets=["support_tracker"],
                  label="Aid to Ukraine allocated"),
            Claim(name="brief_x", value=1, text="<1>", unit="rank", datasets=["a", "b"])]
    page = blocks.ledger_markup(made, "The figures in this brief on Poland")
    assert f'<tr id="{links.claim_anchor("brief_aid_total")}">' in page
    assert "Aid to Ukraine allocated" in page and "€5.86 bn" in page and "a, b" in page
    assert "&lt;1&gt;" in page and "<1>" not in page  # values are text
    assert page.count("<tr id=") == 2 and '<span class="table-number">Table</span>' in page
