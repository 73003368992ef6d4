"""Incremental validation (a Frictionless result cached per resource) re-reads only what changed; that it
reports exactly what a full validation reports on every malformed-input case is in test_bad_input."""

from __future__ import annotations

import shutil

import pytest

from natoua import paths
from natoua.validate import validate_package



@pytest.fixture(scope="module")
def primed_cache(tmp_path_factory):
    """A per-resource cache filled by validating the real package, as after a good build."""
    cache_dir = tmp_path_factory.mktemp("validation-cache")
    assert validate_package(paths.ROOT / "data", cache_dir=cache_dir) == []
    return cache_dir


def test_cached_result_of_the_real_package_is_reused(primed_cache, tmp_path):
    before = sorted(p.name for p in primed_cache.iterdir())
    assert validate_package(paths.ROOT / "data", cache_dir=primed_cache) == []
    assert sorted(p.name for p in primed_cache.iterdir()) == before  # nothing re-validated, nothing new


def test_changing_one_file_revalidates_it_and_what_refers_to_it(primed_cache, tmp_path, monkeypatch):
    from natoua import validate_frictionless

    data_dir = tmp_path / "data"
    shutil.copytree(paths.ROOT / "data", data_dir)
    cache_dir = tmp_path / "cache"
    shutil.copytree(primed_cache, cache_dir)
    seen = []
    real = validate_frictionless.frictionless_problems

    def spy(descriptor, resources, base, only=None):
        seen.append(sorted(only) if only is not None else "all")
        return real(descriptor, resources, base, only)

    monkeypatch.setattr(validate_frictionless, "frictionless_problems", spy)
    path = data_dir / "nato_targets.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # same rows, new bytes (CRLF is accepted)
    assert validate_package(data_dir, cache_dir=cache_dir) == []
    assert seen == [["nato_targets"]]  # nothing refers to nato_targets

    seen.clear()
    path = data_dir / "sources.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert validate_package(data_dir, cache_dir=cache_dir) == []
    import json

    descriptor = json.loads((data_dir / "datapackage.json").read_text(encoding="utf-8"))
    citing = {r["name"] for r in descriptor["resources"]
              if any(fk["reference"]["resource"] == "sources" for fk in r["schema"].get("foreignKeys", []))}
    assert len(citing) > 5
    assert seen == [sorted(citing | {"sources"})]
