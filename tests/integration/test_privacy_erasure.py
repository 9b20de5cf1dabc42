"""Erasure leaves no personal data behind, in any file or message, and breaks nothing.

Distinct marker strings go in as notes, recipient details and evidence bytes. Before the
erasure a byte scan finds them only where plaintext is allowed (the projections' rows and
the evidence files), which proves the scan finds what is there; after it, nowhere: not in
any file under INTERCEPT_HOME (databases, their logs and journals, evidence, keys), not in
the PostgreSQL data directory after a checkpoint, not in any message on the topic. The
hash chain still verifies, a replay rebuilds the same erased rows, and the history export
shows the fields as erased.
"""

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.commands import AttachEvidence, CancelIntercept, RequestIntercept, SetPolicy
from domain.personal import buyer_subject
from domain.types import Recipient
from domain.vocabulary import ERASED
from engine import audit_cases, erasure, usecases
from engine.composition import build_engine, build_projection_consumer, build_relay
from engine.composition import evidence_store as open_evidence
from engine.evidence_store import EvidenceStore
from tests.integration.kafka_reading import read_topic
from tests.integration.projection_tables import tables

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _markers() -> dict[str, bytes]:
    run = secrets.token_hex(6)
    found = {
        name: f"MARK{name.upper()}{run}".encode()
        for name in (
            "requestnote",
            "cancelnote",
            "evidencenote",
            "evidencebytes",
            "othernote",
            "name",
            "province",
            "city",
            "district",
            "address",
        )
    }
    found["phone"] = f"139{secrets.randbelow(10**8):08d}".encode()
    return found


def _recipient(markers) -> Recipient:
    return Recipient(
        **{part: markers[part].decode() for part in ("name", "phone", "province", "city")},
        district=markers["district"].decode(),
        address=markers["address"].decode(),
    )


def _clock() -> datetime:
    return datetime.now(UTC)


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots if root is not None for p in root.rglob("*") if p.is_file()]


def _found(markers: dict[str, bytes], *roots: Path) -> dict[str, set[str]]:
    """Every marker to the files holding it, byte for byte."""
    found: dict[str, set[str]] = {}
    for path in _files(*roots):
        try:
            data = path.read_bytes()
        except (PermissionError, FileNotFoundError):
            continue  # a file the server removed while we looked
        for name, marker in markers.items():
            if marker in data:
                found.setdefault(name, set()).add(str(path))
    return found


def _on_topic(markers: dict[str, bytes], settings) -> set[str]:
    found = set()
    for topic in (settings.topic, settings.dlq_topic):
        for records in read_topic(settings.kafka_bootstrap, topic).values():
            for record in records:
                blob = (record.value or b"") + (record.key or b"")
                found |= {n for n, m in markers.items() if m in blob}
    return found


def _record(engine, evidence: EvidenceStore, markers, order: str, other_order: str):
    """Two orders of one merchant; the first's buyer will be erased, the second's kept."""
    engine.execute(
        SetPolicy(
            merchant_id="m1",
            min_amount_minor=0,
            max_amount_minor=10**9,
            carriers=frozenset({"ZTO"}),
            actor="ops",
            occurred_at=T0,
        )
    )
    ids = []
    for o in (order, other_order):
        redirect = o == order
        decision = engine.execute(
            RequestIntercept(
                merchant_id="m1",
                order_id=o,
                tracking_no=f"ZT{o}",
                carrier="ZTO",
                amount_minor=1000,
                action="redirect" if redirect else "return_to_sender",
                recipient=_recipient(markers) if redirect else None,
                note=markers["requestnote"].decode() if redirect else None,
                request_reason="wrong_address",
                key=f"req-{o}",
                actor="m1-staff",
                occurred_at=T0,
            )
        )
        ids.append(decision.state.id)
    erased, kept = ids
    engine.execute(
        CancelIntercept(
            intercept_id=erased,
            reason="other",
            note=markers["cancelnote"].decode(),
            actor="m1-staff",
            occurred_at=T0,
        )
    )
    staged = evidence.stage(_Bytes(b"chat log: " + markers["evidencebytes"]))
    with evidence.kept(staged):
        engine.execute(
            AttachEvidence(
                intercept_id=erased,
                kind="chat_log",
                sha256=staged.sha256,
                uri=evidence.uri(staged.sha256),
                note=markers["evidencenote"].decode(),
                actor="m1-staff",
                occurred_at=T0,
            )
        )
    engine.execute(
        CancelIntercept(
            intercept_id=kept,
            reason="other",
            note=markers["othernote"].decode(),
            actor="m1-staff",
            occurred_at=T0,
        )
    )
    return erased, kept


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int) -> bytes:
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


# Where plaintext may be before an erasure: the evidence files, and the projections' rows
# for the personal columns (their readers are allowed to see it).
def _allowed(path: str, home: Path) -> bool:
    relative = Path(path).relative_to(home).as_posix()
    return relative.startswith("evidence/") or relative.startswith("projections.db")


def _erase_and_check(engine, settings, markers, order, erased, kept, pg_dir=None, pg_url=None):
    home = settings.home
    evidence = open_evidence(settings)
    subject = buyer_subject("m1", order)
    wrapped = engine.seals.keys.db.read(
        "SELECT wrapped FROM subject_keys WHERE subject = ?", (subject,)
    )[0]["wrapped"]
    before = _found(markers, home)
    assert "evidencebytes" in before, "the scan must find the evidence file's bytes"
    if not settings.projections:  # the rows' personal columns, in the SQLite file
        for part in ("name", "phone", "province", "city", "district", "address"):
            assert part in before, f"the scan must find the recipient's {part} in the rows"
    for name, paths in before.items():
        assert all(_allowed(p, home) for p in paths), f"{name} in plaintext at {paths}"
    assert wrapped.encode() in (home / "subject-keys.db").read_bytes() or any(
        wrapped.encode() in p.read_bytes() for p in home.glob("subject-keys.db*")
    )
    # The merchant (and an auditor) read the plaintext through the engine.
    shown = usecases.show_intercept(engine, str(erased))
    notes = [t["data"].get("note") for t in shown.as_dict()["timeline"]]
    assert markers["cancelnote"].decode() in notes

    report = erasure.erase(
        engine, evidence, actor="admin", clock=_clock, order_id=order, merchant_id="m1"
    )
    assert report.keys_destroyed == 2 and report.evidence_files_deleted == 1
    assert report.erased_recorded == 2  # the buyer's and the recipient's, on one intercept
    return home, evidence, subject, wrapped


def _after(engine, settings, markers, erased, kept, wrapped, pg_dir=None):
    home = settings.home
    left = _found({k: v for k, v in markers.items() if k != "othernote"}, home, pg_dir)
    assert left == {}, f"personal data left behind: {left}"
    for path in _files(home):
        assert wrapped.encode() not in path.read_bytes(), f"the destroyed key is in {path}"
    row = usecases.show_intercept(engine, str(erased)).as_dict()["intercept"]
    assert {row[f"recipient_{p}"] for p in ("name", "phone", "address")} == {ERASED}
    # Another buyer's data is untouched and still readable by the engine.
    other = usecases.show_intercept(engine, str(kept)).as_dict()["timeline"]
    assert markers["othernote"].decode() in [t["data"].get("note") for t in other]
    erased_timeline = usecases.show_intercept(engine, str(erased)).as_dict()["timeline"]
    assert [t["data"]["note"] for t in erased_timeline if t["event_type"] == "Cancelled"] == [
        ERASED
    ]
    # The chain covers the ciphertext, which stays: it still verifies.
    verdict = audit_cases.verify_store(engine, None, True)
    assert verdict.ok, verdict.as_dict()
    # The history export shows the fields as erased.
    lines = audit_cases.history(engine, [erased])
    notes = [d["note"] for d in (line["details"] for line in lines) if d.get("note")]
    assert notes and set(notes) == {ERASED}
    # And erasing again is a no-op.
    again = erasure.erase(
        engine,
        open_evidence(settings),
        actor="admin",
        clock=_clock,
        order_id="O-erase",
        merchant_id="m1",
    )
    assert again.keys_destroyed == 0 and again.erased_recorded == 0


def _replayed_same(settings, engine):
    from engine.replay import ReplayReport
    from engine.replay_cases import rebuild_live

    live = tables(engine.db)
    report = ReplayReport(source="store")
    rebuild_live(settings, "store", report, verify=True, progress=_NoProgress)
    assert report.verified and report.swapped
    assert tables(engine.db) == live


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


def test_erasure_on_sqlite_leaves_no_marker_in_any_file(tmp_path):
    from engine.settings import Settings

    settings = Settings(home=tmp_path / "var")
    markers = _markers()
    engine = build_engine(settings)
    try:
        erased, kept = _record(engine, open_evidence(settings), markers, "O-erase", "O-keep")
        _, _, _, wrapped = _erase_and_check(engine, settings, markers, "O-erase", erased, kept)
        _after(engine, settings, markers, erased, kept, wrapped)
        _replayed_same(settings, engine)
        assert _found({k: v for k, v in markers.items() if k != "othernote"}, settings.home) == {}
    finally:
        engine.close()


@pytest.mark.kafka
@pytest.mark.postgres
def test_erasure_on_postgresql_with_kafka_leaves_no_marker_anywhere(
    kafka_settings, postgres_server, tmp_path
):
    import psycopg

    if postgres_server.data_dir is None:
        pytest.skip("an external PostgreSQL server: its data directory is not ours to read")
    settings = kafka_settings.model_copy(
        update={
            "event_store": postgres_server.create_database("events"),
            "projections": postgres_server.create_database("projections"),
        }
    )
    # The server deletes WAL segments it no longer needs instead of recycling them with
    # their old contents (docs/privacy.md, "PostgreSQL").
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET wal_recycle = off")
        conn.execute("SELECT pg_reload_conf()")
    markers = _markers()
    engine = build_engine(settings)
    relay = build_relay(settings, engine)
    consumer = build_projection_consumer(settings, build_engine(settings), max_poll_records=50)
    consumer.start()
    try:
        erased, kept = _record(engine, open_evidence(settings), markers, "O-erase", "O-keep")
        _publish_and_project(relay, consumer, engine)
        assert _on_topic(markers, settings) == set()
        _, _, _, wrapped = _erase_and_check(engine, settings, markers, "O-erase", erased, kept)
        _publish_and_project(relay, consumer, engine)
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("CHECKPOINT")
        _after(engine, settings, markers, erased, kept, wrapped, pg_dir=postgres_server.data_dir)
        assert _on_topic(markers, settings) == set()
    finally:
        consumer.consumer.close(autocommit=False)
        engine.close()


def _publish_and_project(relay, consumer, engine) -> None:
    import time

    relay.check_topic()
    while relay.publish_once():
        pass
    total = len(engine.read_intercept_log(0, 10**6))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        consumer.poll_once(200)
        if engine.db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"] >= total:
            return
    raise AssertionError("the consumer did not catch up")
