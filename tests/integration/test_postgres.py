"""PostgreSQL answers the drivers the pipeline uses, with the role and database the stack creates."""

from __future__ import annotations

import psycopg2
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.stack


def test_psycopg2_connects_as_the_application_role(stack):
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database(), split_part(version(), ' ', 2)")
        user, database, version = cur.fetchone()
    assert (user, database) == (stack.postgres_user, stack.postgres_database)
    assert version.startswith("15.")


def test_sqlalchemy_round_trips_a_row(stack, unique_name):
    engine = sa.create_engine(stack.sqlalchemy_url)
    table = sa.Table(unique_name, sa.MetaData(), sa.Column("service", sa.Text, primary_key=True),
                     sa.Column("errors", sa.Integer))
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"service": "auth", "errors": 3}, {"service": "payment", "errors": 7}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.errors).where(table.c.service == sa.bindparam("s")),
                                {"s": "payment"}).all()
        assert rows == [(7,)]
    finally:
        with engine.begin() as conn:
            table.drop(conn, checkfirst=True)
        engine.dispose()


def test_wrong_password_is_refused(stack):
    kwargs = {**stack.psycopg2_kwargs(), "password": "not-the-password"}
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**kwargs)
