"""What the build's process prepares while the workers run the sections (natoua.pool._preload_exporters)."""

from __future__ import annotations

from natoua import data, pool


def test_the_datasets_are_parsed_beside_the_sections_and_no_read_is_recorded(tmp_path, monkeypatch):
    log = tmp_path / "reads.jsonl"
    monkeypatch.setenv(data.RUN_LOG_ENV, str(log))
    data._read_typed.cache_clear()
    pool._preload_exporters()
    assert not log.exists()  # the preload records no read: only what a notebook reads is its dependency
    assert data._read_typed.cache_info().currsize == len(data.resource_names())
    hits = data._read_typed.cache_info().hits
    data.load("summits")  # what the edition's pages then read comes from that parse
    assert data._read_typed.cache_info().hits == hits + 1
