"""User-given values reach Trino as bound parameters: a quote in a value cannot change the query."""

from __future__ import annotations

import datetime as dt

import pytest
from trino.dbapi import Cursor

from pipeline.analysis import db
from pipeline.analysis.layout import raw_relation
from pipeline.settings import Settings

EVIL = "payment') OR 1=1 --"


def _compile(settings: Settings, name: str, params: dict, **fragments: str):
    sql = db.load_sql(name, **fragments)
    stmt = db.statement(sql)
    compiled = stmt.compile(dialect=db.engine(settings).dialect)
    return compiled, sql


@pytest.mark.parametrize("name", ["trends", "worst_windows"])
def test_values_are_placeholders_in_the_sql_text(settings, name):
    compiled, _ = _compile(settings, name, {}, pg_schema='"public"')
    text = compiled.string
    assert "?" in text and ":start_ts" not in text
    assert EVIL not in text


def test_a_quote_in_a_value_stays_inside_a_string_literal(settings):
    """What the Trino client sends: EXECUTE IMMEDIATE '<sql>' USING <escaped literals>."""
    params = db.services_params([EVIL])
    cursor = Cursor.__new__(Cursor)
    literal = cursor._format_prepared_param(params["services"][0])
    assert literal == "'payment'') OR 1=1 --'"  # the quote is doubled: still one string literal


def test_statement_expands_the_services_list_into_placeholders(settings):
    sql = "SELECT 1 FROM t WHERE (:all_services OR service IN :services) AND ts >= :start_ts"
    values = {**db.services_params(["auth", EVIL]), "start_ts": dt.datetime(2026, 11, 27)}
    compiled = db.statement(sql).bindparams(**values).compile(
        dialect=db.engine(settings).dialect, compile_kwargs={"render_postcompile": True})
    assert "service IN (?, ?)" in compiled.string
    assert EVIL not in compiled.string
    assert EVIL in compiled.params.values()


def test_services_params():
    assert db.services_params(None) == {"all_services": True, "services": [db.NO_SERVICE]}
    assert db.services_params(["a", "b"]) == {"all_services": False, "services": ["a", "b"]}
    assert db.services_params([]) == {"all_services": False, "services": [db.NO_SERVICE]}


def test_identifiers_are_quoted(settings):
    odd = settings.model_copy(update={"mongodb_database": 'lo"gs'})
    assert 'mongodb."lo""gs"."raw_logs_2026112710"' in raw_relation(odd, ["raw_logs_2026112710"])
    assert "WHERE false" in raw_relation(odd, [])


def test_sql_files_hold_no_python_formatting():
    for path in db.SQL_DIR.glob("*.sql"):
        text = path.read_text()
        assert "{" not in text.replace("${", ""), path.name  # only ${identifier} fragments
