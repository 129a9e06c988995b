"""MIGRATION.md is generated from the registry and must not go stale."""

from pathlib import Path

from ringlib_legacy import migration_doc, registry

ROOT = Path(__file__).resolve().parents[2]


def test_migration_md_is_current():
    committed = (ROOT / "MIGRATION.md").read_text(encoding="utf-8")
    assert committed == migration_doc.render(), "MIGRATION.md is stale: python -m ringlib_legacy.migration_doc > MIGRATION.md"


def test_every_counted_name_and_measured_divergence_is_documented():
    text = migration_doc.render()
    for entry in registry.counted():
        assert f"### `{entry.name}`" in text
        for divergence in entry.divergences:
            assert divergence.measured.replace("|", "\\|") in text
