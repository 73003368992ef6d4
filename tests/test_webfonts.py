"""The HTML's font subsets, kept on disk by font and character set (natoua.webfonts)."""

from __future__ import annotations

import shutil

import pytest

from natoua import webfonts

PAGE = "<html><head><title>t</title></head><body><p>Aid: €349.9 bn, Київ</p></body></html>"
# The cache keeps one entry per face, each made and read by the same code: two faces (one of them the face
# test_another_font_file_gets_its_own_entry edits) show what it does for eight at a quarter of the subsetting
# (the page with all eight faces is built in test_export and by every build).
TWO_FACES = [face for face in webfonts.FACES if face[3] in ("NotoSerif-Regular.ttf", "NotoSans-Regular.ttf")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder; the in-process memo cleared before and after, so each call asks the disk."""
    folder = tmp_path / "webfonts"
    monkeypatch.setattr(webfonts, "FACES", TWO_FACES)
    monkeypatch.setattr(webfonts, "_CACHE", None)
    webfonts.use_cache(folder)
    webfonts._subset.cache_clear()
    yield folder
    webfonts._subset.cache_clear()


def entries(folder):
    return sorted(p.name for p in folder.glob("*.woff2"))


def test_a_second_page_with_the_same_characters_reads_the_subsets_from_disk(cache, monkeypatch):
    first = webfonts.embed(PAGE)
    assert len(entries(cache)) == len(webfonts.faces())
    webfonts._subset.cache_clear()  # another process: nothing in memory

    def no_subsetting(*_):
        raise AssertionError("subset made again although it is on disk")

    monkeypatch.setattr(webfonts, "_make_subset", no_subsetting)
    # the same characters in another order and another page: the same entries, the same bytes
    assert webfonts.embed(PAGE.replace("Aid", "diA")).replace("diA", "Aid") == first


def test_the_cached_page_is_the_page_made_without_a_cache(cache, monkeypatch):
    cached = webfonts.embed(PAGE)
    webfonts._subset.cache_clear()
    monkeypatch.setattr(webfonts, "_CACHE", None)
    assert webfonts.embed(PAGE) == cached


def test_another_character_set_gets_its_own_entries(cache):
    webfonts.embed(PAGE)
    before = set(entries(cache))
    webfonts.embed(PAGE.replace("Київ", "Kyiv Ж"))  # Ж is new
    after = set(entries(cache))
    assert before < after and len(after - before) == len(webfonts.faces())


def test_another_font_file_gets_its_own_entry(cache, tmp_path, monkeypatch):
    webfonts.embed(PAGE)
    before = set(entries(cache))
    fonts = tmp_path / "fonts"
    shutil.copytree(webfonts.FONTS, fonts)
    # a new release of Noto Serif Regular (another revision number); every other face is unchanged
    from fontTools.ttLib import TTFont

    font = TTFont(fonts / "NotoSerif-Regular.ttf")
    font["head"].fontRevision += 1
    font.save(fonts / "NotoSerif-Regular.ttf")
    monkeypatch.setattr(webfonts, "FONTS", fonts)
    webfonts._subset.cache_clear()
    webfonts.embed(PAGE)
    assert len(set(entries(cache)) - before) == 1


def test_a_corrupted_entry_is_made_again_never_used(cache):
    good = webfonts.embed(PAGE)
    names = entries(cache)
    for i, name in enumerate(names):  # truncated, emptied and tampered entries
        path = cache / name
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2] if i % 3 == 0 else b"" if i % 3 == 1 else raw[:-1] + b"\x00")
    webfonts._subset.cache_clear()
    assert webfonts.embed(PAGE) == good
    webfonts._subset.cache_clear()
    assert all(webfonts._read_entry(cache / name) is not None for name in names)  # rewritten whole


def test_an_unwritable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(webfonts, "FACES", TWO_FACES)
    monkeypatch.setattr(webfonts, "_CACHE", blocked / "webfonts")
    webfonts._subset.cache_clear()
    try:
        assert "font/woff2" in webfonts.embed(PAGE)
    finally:
        webfonts._subset.cache_clear()


def test_a_character_written_as_a_reference_is_in_the_subsets(monkeypatch):
    """The page's text may hold "&#182;" where nbconvert's pass used to write "¶": the subset keeps the glyph
    either way, and both pages get the same subsets."""
    asked = []
    monkeypatch.setattr(webfonts, "_subset", lambda file_name, characters: asked.append(characters) or b"x")
    webfonts.font_face_css('<a href="#x">&#182;</a> It&#x27;s &ldquo;q&rdquo; &#x416;')
    webfonts.font_face_css('<a href="#x">¶</a> It\'s “q” Ж')
    assert {"¶", "“", "”", "Ж"} <= set(asked[0]) and asked[: len(webfonts.faces())] == asked[len(webfonts.faces()):]
