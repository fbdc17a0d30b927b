"""The PostgreSQL migrations are versioned files; placeholders leave PL/pgSQL's dollars alone."""

from __future__ import annotations

import pytest

from pipeline.common.templates import NamedTemplate
from pipeline.windows.schema import MIGRATIONS_DIR, SchemaError, migrations


def test_migrations_are_numbered_in_order():
    found = migrations()
    assert [m.version for m in found] == sorted(m.version for m in found)
    assert found[0].path.parent == MIGRATIONS_DIR
    assert all(len(m.checksum) == 64 for m in found)


def test_tables_declare_the_primary_keys_the_flink_sinks_use():
    text = migrations()[0].text
    assert text.count("PRIMARY KEY (service, window_start)") == 2
    assert "IF NOT EXISTS" in text


def test_placeholders_fill_only_braced_names():
    text = "DO $$ BEGIN PERFORM ${role}; END $$; SELECT $1"
    assert NamedTemplate(text).substitute({"role": "'r'"}) == "DO $$ BEGIN PERFORM 'r'; END $$; SELECT $1"


def test_a_badly_named_migration_is_refused(tmp_path):
    (tmp_path / "1_x.sql").write_text("SELECT 1", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"NNN_name\.sql"):
        migrations(tmp_path)
