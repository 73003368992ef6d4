"""The claim ledger: formatting, checks, substitution into prose."""

from __future__ import annotations

import datetime as dt

import nbformat
import pandas as pd
import pytest

from natoua import claims


def test_claim_formats_by_type_and_fmt():
    assert claims.claim("n_allies", 23, unit="allies", datasets=["x"], display=False).text == "23"
    assert claims.claim("share", 2.345, unit="%", datasets=["x"], display=False).text == "2.3"
    assert claims.claim("money", 349.93, unit="EUR bn", datasets=["x"], fmt="€{:,.1f} bn", display=False).text == "€349.9 bn"
    assert claims.claim("when", dt.date(2024, 6, 13), unit="date", datasets=["x"], display=False).text == "13 June 2024"
    assert claims.claim("big", 1234567, unit="people", datasets=["x"], display=False).text == "1,234,567"


def test_numpy_and_pandas_values_become_plain():
    import numpy as np

    c = claims.claim("np_value", np.int64(7), unit="allies", datasets=["x"], display=False)
    assert c.value == 7 and type(c.value) is int
    c = claims.claim("ts_value", pd.Timestamp("2023-04-04"), unit="date", datasets=["x"], display=False)
    assert c.value == dt.date(2023, 4, 4)


def test_claim_rejects_missing_value_and_bad_names():
    with pytest.raises(claims.ClaimError, match="no value"):
        claims.claim("missing_value", float("nan"), unit="x", datasets=["x"], display=False)
    with pytest.raises(claims.ClaimError, match="lower_snake_case"):
        claims.claim("Bad Name", 1, unit="x", datasets=["x"], display=False)
    with pytest.raises(claims.ClaimError, match="dataset"):
        claims.claim("no_dataset", 1, unit="x", datasets=[], display=False)


def test_failed_check_names_claim_and_contradicting_rows():
    rows = pd.DataFrame({"iso3": ["LVA"], "pct_gdp": [2.9]})
    with pytest.raises(claims.ClaimError) as err:
        claims.claim("baltic_min", 2.9, unit="% of GDP", datasets=["defence_expenditure"],
                     check=claims.expect(False, "all three Baltic states above 3%", rows), display=False)
    message = str(err.value)
    assert "baltic_min" in message and "all three Baltic states above 3%" in message
    assert "LVA" in message and "2.9" in message


def test_passing_check_is_recorded():
    c = claims.claim("checked", 4, unit="x", datasets=["x"], check=claims.expect(True, "four is positive"), display=False)
    assert c.check == "four is positive"


def test_collect_and_substitute_from_notebook_outputs():
    c = claims.claim("allies_at_2pct", 23, unit="allies", datasets=["defence_expenditure"], display=False)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [nbformat.v4.new_output("display_data", data=c._repr_mimebundle_())]
    nb.cells = [cell]
    ledger = claims.collect(nb)
    assert ledger["allies_at_2pct"]["text"] == "23"
    assert claims.substitute("By 2024, {{ allies_at_2pct }} allies.", ledger) == "By 2024, 23 allies."
    with pytest.raises(claims.ClaimError, match="no_such_claim"):
        claims.substitute("{{ no_such_claim }}", ledger, "section 7")


def test_substituted_text_is_escaped():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    ledger = {"name": {"text": "<b>x</b>_y*"}}
    out = markdown2html_mistune(claims.substitute("{{ name }}", ledger))
    assert "<b>" not in out and "&lt;b&gt;x&lt;/b&gt;_y*" in out


def test_require_fails_the_cell_with_the_contradicting_rows():
    claims.require(True, "holds")
    with pytest.raises(claims.ClaimError, match="Europe gave more than the United States") as err:
        claims.require(False, "Europe gave more than the United States", pd.DataFrame({"group": ["US"], "eur_bn": [115.4]}))
    assert "115.4" in str(err.value)


def test_generated_html_names_claims_by_placeholder_and_links_them():
    c = claims.claim("gen_total", 349.93, unit="EUR bn", datasets=["x"], fmt="€{:,.1f} bn", label="Aid allocated",
                     display=False)
    assert c.ref == "{{ gen_total }}" and c.label == "Aid allocated" and c.to_json()["label"] == "Aid allocated"
    ledger = {"gen_total": c.to_json(), "odd": {"text": '<b>"x"</b>'}}
    link = lambda name, text: f'<a href="#claim-{name}">{text}</a>'
    markup = f'<p title="{c.ref}">Aid: {c.ref}; {{{{ odd }}}}</p>'
    out = claims.substitute_html(markup, ledger, "section 1", link=link)
    # in text: linked; inside a tag: the value alone, escaped for an attribute; dataset text never becomes markup
    assert out == ('<p title="€349.9 bn">Aid: <a href="#claim-gen_total">€349.9 bn</a>; '
                   '<a href="#claim-odd">&lt;b&gt;&quot;x&quot;&lt;/b&gt;</a></p>')
    with pytest.raises(claims.ClaimError, match="section 1.*no_such"):
        claims.substitute_html("<p>{{ no_such }}</p>", ledger, "section 1", link=link)


def test_ledger_rows_carry_a_label_or_the_words_around_the_figure_and_say_when_unprinted():
    from natoua import assemble

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Spending\n\nBy **2024**, {{ n_at_2 }} allies spent at least "
                                              "{{ guide }} of GDP on defence, up from few.")]
    ledger = {"n_at_2": {"name": "n_at_2", "text": "23", "value": 23, "unit": "allies", "datasets": ["x"], "section": "07"},
              "guide": {"name": "guide", "text": "2%", "value": 2.0, "unit": "% of GDP", "datasets": ["x"], "section": "07",
                        "label": "NATO's spending guideline"},
              "spare": {"name": "spare", "text": "9", "value": 9, "unit": "allies", "datasets": ["x"], "section": "07"}}
    part = assemble.Part(section="07", title="Spending", nb=nb)
    assert assemble.claim_contexts(ledger, [part])["n_at_2"] == \
        "By 2024, … allies spent at least 2% of GDP"
    page = assemble.key_figures_appendix(ledger, [part])
    assert "NATO&#x27;s spending guideline" in page and "“By 2024, … allies spent" in page
    assert page.count("Not printed in this edition") == 1  # only `spare`


def test_ledger_sets_only_short_figures_as_numbers_and_lets_sentences_wrap():
    from natoua import assemble

    ledger = {"rate": {"name": "rate", "text": "ECB reference rate of 31 March 2026 (€1 = $1.1498)", "value": 1.1498,
                       "unit": "USD per EUR", "datasets": ["x"], "section": "01", "label": "EUR–USD rate"},
              "none": {"name": "none", "text": "None", "value": 0, "unit": "agreements", "datasets": ["x"],
                       "section": "01", "label": "Treaties"},
              "n": {"name": "n", "text": "€349.9 bn", "value": 349.9, "unit": "EUR bn", "datasets": ["x"],
                    "section": "01", "label": "Aid"}}
    page = assemble.key_figures_appendix(ledger, [])
    cells = {name: page.split(f'id="claim-{name}"')[1].split("</td>")[1] for name in ledger}
    assert cells["n"].startswith('<td class="num">')
    assert cells["rate"].startswith('<td class="txt">') and cells["none"].startswith('<td class="txt">')
