"""Storage faults as the API meets them: named, and never an error for what was recorded."""

import sqlite3
from datetime import timedelta

import pytest

from api.composition import open_key_store
from api.faults import fault_of
from api.gateway import Gateway
from domain.commands import ChargeFee
from domain.decision import Outcome
from engine.composition import build_engine
from engine.grant import KeyGrant
from engine.settings import Settings
from storage.database import DatabaseBusy
from tests.builders import policy, request
from tests.conftest import T0


def _disk_full(tmp_path) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "full.db")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 3")  # what a full disk looks like to SQLite
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    return raised.value


def _read_only(tmp_path) -> sqlite3.Error:
    sqlite3.connect(tmp_path / "ro.db").execute("CREATE TABLE t (x)")
    conn = sqlite3.connect(f"file:{tmp_path / 'ro.db'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute("INSERT INTO t VALUES (1)")
    return raised.value


def _locked(tmp_path) -> sqlite3.Error:
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(tmp_path / "locked.db", timeout=0)
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute("INSERT INTO t VALUES (1)")
    return raised.value


@pytest.mark.parametrize(
    "make, rule, retry_after",
    [
        (_disk_full, "storage_full", 60),
        (_read_only, "storage_read_only", None),
        (_locked, "storage_busy", 2),
    ],
)
def test_each_real_sqlite_fault_is_named(tmp_path, make, rule, retry_after):
    error = make(tmp_path)
    wrapped = RuntimeError("the store failed")  # as eventsourcing wraps the driver's error
    wrapped.__cause__ = error
    for seen in (error, wrapped):
        fault = fault_of(seen)
        assert fault is not None, seen
        assert (fault.rule, fault.retry_after) == (rule, retry_after)


def test_full_disk_and_read_only_os_errors_are_named():
    assert fault_of(OSError(28, "No space left on device")).rule == "storage_full"
    assert fault_of(OSError(30, "Read-only file system")).rule == "storage_read_only"
    assert fault_of(DatabaseBusy("locked")).rule == "storage_busy"
    assert fault_of(ValueError("a bug")) is None


@pytest.fixture
def gateway(tmp_path, clock):
    engine = build_engine(Settings(home=tmp_path / "var"), clock=clock)
    gateway = Gateway(engine)
    gateway.execute(policy())
    made = gateway.execute(request())
    yield gateway, engine, made.state.id
    gateway.close()


def _fee(iid, key="fee-1"):
    return ChargeFee(
        intercept_id=iid,
        kind="storage",
        amount_minor=5,
        key=key,
        actor="m1-staff",
        occurred_at=T0 + timedelta(minutes=1),
    )


def test_a_command_recorded_before_its_catch_up_failed_is_answered_not_refused(
    gateway, monkeypatch, tmp_path
):
    gateway, engine, iid = gateway
    full = _disk_full(tmp_path)

    def fails_like_a_full_disk(*args, **kwargs):
        raise full

    with monkeypatch.context() as patched:
        patched.setattr(engine, "catch_up", fails_like_a_full_disk)
        answer = gateway.execute(_fee(iid))
    assert answer.state.fees_minor == 5
    assert answer.outcome in (Outcome.RECORDED, Outcome.DUPLICATE)
    again = gateway.execute(_fee(iid))
    assert (again.outcome, again.state.fees_minor) == (Outcome.DUPLICATE, 5)


def test_a_command_that_recorded_nothing_answers_its_fault(gateway, monkeypatch, tmp_path):
    gateway, engine, iid = gateway
    full = _disk_full(tmp_path)

    def fails_like_a_full_disk(*args, **kwargs):
        raise full

    monkeypatch.setattr(engine.app, "execute_many", fails_like_a_full_disk)
    with pytest.raises(sqlite3.Error):
        gateway.execute(_fee(iid))


def test_keys_db_is_opened_once_not_on_every_request(tmp_path, clock):
    store = open_key_store(Settings(home=tmp_path / "var"), clock)
    issued = store.create(KeyGrant(role="auditor"))
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    for _ in range(3):
        assert store.authenticate(issued.key) is not None
    # No connection opened per request (that would show as its PRAGMAs); the key is
    # read once, then each request asks only whether keys.db changed.
    assert [s for s in statements if "data_version" not in s][0].startswith("SELECT")
    assert len([s for s in statements if "data_version" not in s]) == 1
    assert len([s for s in statements if "data_version" in s]) == 3


def test_a_key_revoked_elsewhere_is_refused_on_the_very_next_request(tmp_path, clock):
    settings = Settings(home=tmp_path / "var")
    server, cli = open_key_store(settings, clock), open_key_store(settings, clock)
    issued = server.create(KeyGrant(role="merchant", merchant_id="m1"))
    other = server.create(KeyGrant(role="auditor"))
    assert server.authenticate(issued.key) is not None
    assert server.authenticate(issued.key) is not None  # remembered
    cli.revoke(issued.record.key_id)  # `intercept keys revoke`, another connection
    assert server.authenticate(issued.key) is None
    assert server.authenticate(other.key) is not None


def test_a_key_made_elsewhere_after_a_miss_is_let_in(tmp_path, clock):
    settings = Settings(home=tmp_path / "var")
    server, cli = open_key_store(settings, clock), open_key_store(settings, clock)
    assert server.authenticate("ik_not-yet") is None
    issued = cli.create(KeyGrant(role="auditor"))
    assert server.authenticate(issued.key) is not None


def test_a_key_revoked_through_the_same_store_is_refused_next(tmp_path, clock):
    store = open_key_store(Settings(home=tmp_path / "var"), clock)
    issued = store.create(KeyGrant(role="auditor"))
    assert store.authenticate(issued.key) is not None
    store.revoke(issued.record.key_id)
    assert store.authenticate(issued.key) is None
