"""Database URLs in the settings: PostgreSQL parsed for the eventsourcing library, bad ones refused."""

import re

import pytest
from pydantic import ValidationError

from engine.postgres_env import postgres_env
from engine.settings import Settings


def test_a_postgres_url_becomes_the_librarys_settings_with_bounded_waits():
    env = postgres_env("postgresql://us%40er:p%2Fw@127.0.0.1:5433/events", lock_timeout=2.4)
    assert {
        k: env[k]
        for k in (
            "POSTGRES_DBNAME",
            "POSTGRES_HOST",
            "POSTGRES_PORT",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "POSTGRES_LOCK_TIMEOUT",
        )
    } == {
        "POSTGRES_DBNAME": "events",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": "5433",
        "POSTGRES_USER": "us@er",
        "POSTGRES_PASSWORD": "p/w",
        "POSTGRES_LOCK_TIMEOUT": "2",
    }
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["CREATE_TABLE"] == "n"  # made under a lock by the composition root instead


@pytest.mark.parametrize(
    "settings, complaint",
    [
        ({"event_store": "mysql://u@h/db"}, "expected postgresql://"),
        ({"event_store": "sqlite:///x.db"}, "expected postgresql://"),
        ({"event_store": "postgresql://u@h"}, "names no database"),
        ({"projections": "postgresql://u:secret@h/db?sslmode=require"}, "no ?options"),
        (
            {"event_store": "postgresql://u@h:5432/one", "projections": "postgres://v@h/one"},
            "two different PostgreSQL databases",
        ),
        ({"db_timeout": 0}, "greater than 0"),
    ],
)
def test_bad_database_settings_are_refused_naming_what_is_wrong(settings, complaint):
    with pytest.raises(ValidationError, match=re.escape(complaint)) as refused:
        Settings(**settings)
    assert "secret" not in str(refused.value.errors()[0]["msg"])


def test_good_database_settings_are_kept():
    settings = Settings.from_env(
        {
            "INTERCEPT_EVENT_STORE": "postgresql://u:p@h/events",
            "INTERCEPT_PROJECTIONS": "sqlite:///var/p.db",
            "INTERCEPT_DB_TIMEOUT": "2.5",
        }
    )
    assert (settings.event_store, settings.projections, settings.db_timeout) == (
        "postgresql://u:p@h/events",
        "sqlite:///var/p.db",
        2.5,
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "postgresql://u@/db?host=/run/postgresql",
            {"host": "/run/postgresql", "user": "u", "dbname": "db", "port": "5432"},
        ),
        ("postgres://u:p%40w@h:6543/db", {"host": "h", "port": "6543", "password": "p@w"}),
        (
            "host=h port=7 dbname=db user=u password=secret",
            {"host": "h", "port": "7", "dbname": "db", "user": "u", "password": "secret"},
        ),
        ("postgresql:///db", {"dbname": "db"}),
    ],
)
def test_every_libpq_form_is_accepted(url, expected, monkeypatch):
    from engine.postgres_env import parse_postgres_url

    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    parts = parse_postgres_url(url)
    assert {k: parts[k] for k in expected} == expected
    assert parts["host"] and parts["user"] and parts["port"]  # libpq's defaults filled in
    kept = Settings(event_store=url).event_store
    assert parse_postgres_url(kept) == parts  # a URI the projections can take as well


def test_masked_hides_every_password_form():
    from engine.settings import masked

    for text in (
        "swapped into postgresql://u:SECRET@h:5432/db",
        "postgres://u:SECRET@h/db?sslmode=x",
        "host=h password=SECRET dbname=d",
        "postgresql://u@/db?host=/x&password=SECRET",
    ):
        assert "SECRET" not in masked(text) and "***" in masked(text)
    assert masked("sqlite:///var/x.db") == "sqlite:///var/x.db"
