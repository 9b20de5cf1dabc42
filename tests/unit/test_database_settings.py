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
        ({"event_store": "postgresql://h/db"}, "expected postgresql://"),  # no user
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
