"""The one place SQLite and PostgreSQL differ: placeholders, writers, locks."""

import pytest

from storage.dialect import POSTGRESQL, SQLITE, dialect_of


@pytest.mark.parametrize(
    "url, dialect",
    [
        ("sqlite:///var/projections.db", SQLITE),
        ("sqlite:///:memory:", SQLITE),
        ("postgresql://u@h/db", POSTGRESQL),
        ("postgres://u@h/db", POSTGRESQL),
    ],
)
def test_the_url_names_the_dialect(url, dialect):
    assert dialect_of(url) is dialect


def test_sql_is_written_once_with_question_marks():
    sql = "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
    assert SQLITE.sql(sql) == sql
    assert POSTGRESQL.sql(sql) == "SELECT a FROM t WHERE b = %s AND c IN (%s, %s)"


def test_only_postgresql_needs_a_lock_around_ddl_and_a_lock_timeout():
    assert SQLITE.ddl_lock(7) == [] and SQLITE.lock_timeout(10) == []
    assert POSTGRESQL.ddl_lock(7) == [("SELECT pg_advisory_xact_lock(%s)", (7,))]
    assert POSTGRESQL.lock_timeout(250) == ["SET LOCAL lock_timeout = 250"]
    assert SQLITE.begin == "BEGIN IMMEDIATE" and POSTGRESQL.begin == "BEGIN"
    assert POSTGRESQL.row_locks and not SQLITE.row_locks
