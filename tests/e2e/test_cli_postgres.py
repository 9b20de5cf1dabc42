"""The CLI on PostgreSQL: every connection form, the server's own reasons, no password shown."""

import time
from urllib.parse import urlsplit

import pytest

from tests.e2e.cli import intercept

pytestmark = pytest.mark.postgres


@pytest.fixture
def databases(postgres_server):
    return postgres_server.create_database("events"), postgres_server.create_database("views")


def _env(events: str, projections: str) -> dict:
    return {"INTERCEPT_EVENT_STORE": events, "INTERCEPT_PROJECTIONS": projections}


def test_a_wrong_password_is_said_at_once_and_not_shown(databases, tmp_path):
    events, views = databases
    password = urlsplit(events).password
    wrong = events.replace(f":{password}@", ":WRONG-PASSWORD-42@")
    began = time.monotonic()
    run = intercept(tmp_path, "list", env=_env(wrong, views))
    assert time.monotonic() - began < 8  # not the pool's 10 s of retrying
    assert run.code == 1, run.err
    assert "authentication failed" in run.err and "try again" not in run.err.lower()
    assert "WRONG-PASSWORD-42" not in run.out + run.err
    assert "Traceback" not in run.err


def test_a_missing_database_says_to_create_it_first(databases, tmp_path):
    events, views = databases
    missing = events.rsplit("/", 1)[0] + "/not_made_yet"
    run = intercept(tmp_path, "migrate", env=_env(missing, views))
    assert run.code == 1
    assert "'not_made_yet' does not exist" in run.err and "create it first" in run.err
    as_json = intercept(tmp_path, "migrate", "--json", env=_env(missing, views)).json()
    assert as_json["error"]["type"] == "database_unavailable"


def test_a_refused_connection_is_named(databases, tmp_path):
    _, views = databases
    run = intercept(tmp_path, "list", env=_env("postgresql://u:SECRET-9@127.0.0.1:1/db", views))
    assert run.code == 1 and "connection refused" in run.err
    assert "SECRET-9" not in run.err


def test_keyword_strings_and_postgres_urls_are_accepted(databases, tmp_path):
    events, views = databases
    p = urlsplit(events)
    keywords = (
        f"host={p.hostname} port={p.port} dbname={p.path[1:]} user={p.username} "
        f"password={p.password}"
    )
    short = views.replace("postgresql://", "postgres://", 1)
    env = _env(keywords, short)
    assert intercept(tmp_path, "migrate", env=env).code == 0
    made = intercept(
        tmp_path, "policy", "set", "m1", "--max-amount", "10", "--carriers", "ZTO", env=env
    )
    assert made.code == 0, made.err
    shown = intercept(tmp_path, "policy", "show", "m1", "--json", env=env)
    assert shown.json()["merchant_id"] == "m1"


COMMANDS = [
    ["migrate"],
    ["migrate", "--json"],
    ["policy", "set", "m1", "--max-amount", "10", "--carriers", "ZTO"],
    ["policy", "show", "m1"],
    ["request", "--merchant", "m1", "--order", "o", "--tracking", "T1", "--carrier", "ZTO"]
    + ["--amount", "1.00", "--reason", "r"],
    ["list"],
    ["list", "--json"],
    ["show", "00000000-0000-0000-0000-000000000000"],
    ["cancel", "00000000-0000-0000-0000-000000000000", "--reason", "misoperation", "--yes"],
    ["audit", "head"],
    ["demo", "--orders", "3"],
    ["keys", "list"],
]


@pytest.mark.parametrize("reachable", [True, False])
def test_no_command_prints_the_password(databases, tmp_path, reachable):
    events, views = databases
    if not reachable:
        events = "postgresql://u:SECRET-PASSWORD-7@127.0.0.1:1/db"
    password = urlsplit(events).password
    env = _env(events, views)
    for args in COMMANDS:
        run = intercept(tmp_path, *args, env=env)
        shown = run.out + run.err
        assert password not in shown, (args, shown)
        assert "Traceback" not in shown, (args, shown)
