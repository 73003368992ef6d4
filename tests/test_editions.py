"""Editions side by side: an edition is keyed by its cut-off and currency, so a US-dollar build never changes
what the euro edition's folder and `latest` name, and each currency is compared only with itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

from natoua import publish
from natoua.edition import file_stem


def _stage(reports: Path, run_id: str, as_of: str, currency: str) -> Path:
    staging = publish.new_staging(reports, run_id)
    (staging / "manifest.json").write_text(json.dumps({"as_of": as_of, "parameters": {"common": {
        "as_of": as_of, "currency": currency}}}), encoding="utf-8")
    return staging


def test_keys_links_and_file_names_name_the_currency():
    assert publish.edition_key("2026-03-31") == "2026-03-31"
    assert publish.edition_key("2026-03-31", "USD") == "2026-03-31-usd"
    assert publish.latest_name("USD") == "latest-usd" and publish.latest_name("EUR") == "latest"
    assert publish.parse_key("2026-03-31-usd") == ("2026-03-31", "USD")
    assert publish.parse_key("2026-03-31") == ("2026-03-31", "EUR")
    assert publish.parse_key("latest") is None and publish.parse_key("2026-03-31-x") is None
    assert file_stem("2026-03-31", "USD") == "nato-ukraine-relations-2026-03-31-usd"
    assert file_stem("2026-03-31") == "nato-ukraine-relations-2026-03-31"


def test_a_usd_build_never_moves_the_eur_edition_or_its_latest(tmp_path):
    reports = tmp_path
    eur = publish.publish(_stage(reports, "r1", "2026-03-31", "EUR"), reports, "2026-03-31", "r1")
    before = {name: os.readlink(reports / name) for name in ("2026-03-31", "latest")}
    usd = publish.publish(_stage(reports, "r2", "2026-03-31", "USD"), reports, "2026-03-31", "r2", currency="USD")
    assert {name: os.readlink(reports / name) for name in ("2026-03-31", "latest")} == before
    assert eur == reports / "2026-03-31" and usd == reports / "2026-03-31-usd"
    assert os.readlink(reports / "latest-usd") == "2026-03-31-usd"
    assert (reports / "latest-usd").resolve() != (reports / "latest").resolve()
    assert publish.editions(reports) == ["2026-03-31"] and publish.editions(reports, currency="USD") == ["2026-03-31-usd"]
    # an earlier euro edition is compared with the euro edition, never with the dollar one
    assert publish.previous_edition(reports, "2026-06-30") == (reports / "2026-03-31").resolve()
    assert publish.previous_edition(reports, "2026-06-30", currency="USD") == (reports / "2026-03-31-usd").resolve()


def test_repair_points_each_currency_latest_at_its_newest_edition(tmp_path):
    reports = tmp_path
    publish.publish(_stage(reports, "r1", "2026-03-31", "EUR"), reports, "2026-03-31", "r1")
    publish.publish(_stage(reports, "r2", "2026-03-31", "USD"), reports, "2026-03-31", "r2", currency="USD")
    (reports / "latest-usd").unlink()  # a crash between the two switches
    assert publish.repair_latest(reports)
    assert os.readlink(reports / "latest-usd") == "2026-03-31-usd" and os.readlink(reports / "latest") == "2026-03-31"


def test_a_build_in_another_currency_under_the_same_name_is_not_compared(tmp_path):
    reports = tmp_path
    publish.publish(_stage(reports, "r1", "2026-03-31", "USD"), reports, "2026-03-31", "r1")  # an old-style USD build
    assert publish.previous_edition(reports, "2026-03-31") is None
