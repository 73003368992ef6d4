"""How sources reach the reader: addresses readable but linked exactly; which NATO release each figure comes from."""

import pandas as pd

from natoua import analysis, data, links

ENCODED = ("https://www.state.gov/translations/%D1%80%D1%83%D1%81%D1%81%D0%BA%D0%B8%D0%B9/"
           "%D1%81%D0%BE%D0%B2%D0%B5%D1%82")


def test_percent_encoded_address_is_shown_decoded_and_linked_as_is():
    markup = links.url(ENCODED)
    assert f'href="{ENCODED}"' in markup
    shown = markup.split(">", 1)[1].replace("<wbr>", "")
    assert shown == "https://www.state.gov/translations/русский/совет</a>"


def test_escapes_that_are_not_plain_text_stay_escaped():
    assert links.readable("https://x.org/a%2Fb") == "https://x.org/a%2Fb"  # an encoded slash is not a path step
    assert links.readable("https://x.org/a%20b") == "https://x.org/a%20b"  # nor is a space a visible character
    assert links.readable("https://x.org/%E2%80%AEtxt") == "https://x.org/%E2%80%AEtxt"  # bidi override: kept
    assert links.readable("https://x.org/%FF") == "https://x.org/%FF"  # not UTF-8


def test_section_7_says_which_release_each_figure_comes_from_and_how_it_was_read():
    frame = data.load("defence_expenditure")
    jun24 = frame[frame["edition"] == "nato-2024-06"]
    text = analysis.release_readings(jun24[["iso3", "year", "source_id"]])
    assert text == "June 2024 edition: 31 figures (2024) read from NATO's own tables workbook"
    both = analysis.release_readings(pd.concat([jun24, frame[frame["edition"] == "nato-sg-annual-report-2025"]]))
    assert "Annual Report 2025: 29 figures (2025) taken from third-party transcriptions" in both


def test_one_edition_read_two_ways_is_named_once():
    frame = data.load("defence_expenditure")
    aug = frame[frame["edition"] == "nato-2025-08"]
    text = analysis.release_readings(aug)
    assert text.count("August 2025 edition") == 1
    n_news = int((aug["source_id"] == "nato-defexp-2014-2025-aug-2025-press").sum())
    assert text.endswith(f"and {n_news} figures (2025) taken from news reports of the release")


def test_a_reference_says_its_reading_as_a_short_tag_and_shows_the_address_decoded(monkeypatch):
    from natoua import blocks

    shown = []
    monkeypatch.setattr(blocks, "_show", lambda markup, kind: shown.append(markup))
    blocks.references([{"source_id": "x-2025", "publisher": "U.S. Department of State", "title": "Joint Statement",
                        "edition": "", "date": "11 March 2025", "url": ENCODED, "read": "official text in a reprint",
                        "via": "a republication by uisgda.com"}])
    markup = shown[0]
    assert '<span class="ref-read">Read: official text in a reprint.</span>' in markup
    assert "русский" in markup.replace("<wbr>", "") and f'href="{ENCODED}"' in markup
