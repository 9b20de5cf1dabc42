"""History written before `Requested` v2 still loads, decides and projects: stored in the
event store, and published on Kafka."""

from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from consumers import dlq_tools
from domain.envelope import Envelope
from domain.events import Cancelled, Requested
from domain.past_events import RequestedV1
from engine import kafka_clients
from engine.composition import build_engine, build_projection_consumer, build_relay
from engine.relay import message
from tests import builders as b
from tests.conftest import T0
from tests.integration.test_consumer_kafka import drain

OLD = UUID(int=7001)
V1_FIELDS = dict(
    merchant_id="m1",
    actor="m1-staff",
    occurred_at=T0.isoformat(),
    order_id="o-old",
    tracking_no="ZTOLD1",
    carrier="ZTO",
    amount_minor=12_300,
    currency="CNY",
    action="return_to_sender",
    request_reason="buyer_refund",
)


def store_as_version_1(engine, iid: UUID) -> None:
    """A Requested exactly as the engine stored it before version 2: no class_version."""
    state = {**RequestedV1(**V1_FIELDS).model_dump(mode="json"), "recorded_at": T0.isoformat()}
    engine.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=iid,
                originator_version=1,
                topic="Requested",
                state=orjson.dumps(state),
            )
        ]
    )


def row(engine, iid: UUID) -> dict:
    return engine.db.read("SELECT * FROM intercepts WHERE intercept_id = ?", (str(iid),))[0]


def test_a_requested_stored_as_version_1_loads_decides_and_projects(engine):
    engine.execute(b.policy())
    store_as_version_1(engine, OLD)
    state = engine.app.intercept(OLD)
    assert state.request.parcel_stage == "unknown" and state.request.quoted_fee_minor is None
    assert state.request.order_id == "o-old"
    decision = engine.execute(b.cancel(OLD))
    assert decision.state.status == "cancelled" and decision.state.version == 2
    projected = row(engine, OLD)
    assert projected["status"] == "cancelled" and projected["amount_minor"] == 12_300
    [(_, first)] = [
        (p, e)
        for p, e in engine.read_log(0, 100)
        if e.originator_id == OLD and e.originator_version == 1
    ]
    assert Envelope.of(first, position=1).schema_version == 5  # republished up to date


def test_a_new_request_is_stored_at_the_current_version(engine):
    engine.execute(b.policy())
    decision = engine.execute(b.request(quoted_fee_minor=350, parcel_stage="in_transit"))
    [(_, stored)] = [(p, e) for p, e in engine.read_log(0, 100) if isinstance(e, Requested)]
    assert (stored.quoted_fee_minor, stored.parcel_stage) == (350, "in_transit")
    notification = engine.app.recorder.select_notifications(start=1, limit=10)
    raw = next(orjson.loads(n.state) for n in notification if n.topic == "Requested")
    assert raw["class_version"] == Requested.class_version == 5
    assert row(engine, decision.state.id)["status"] == "requested"


def _v1_record(iid: UUID, position: int) -> dict:
    """A Requested record as an engine before version 2 published it."""
    template = Requested(
        originator_id=iid,
        originator_version=1,
        recorded_at=T0,
        **{**V1_FIELDS, "order_id": f"o-{position}", "tracking_no": f"ZT{position}"},
    )
    envelope = Envelope.of(template, position=position).model_dump(mode="json")
    payload = RequestedV1(
        **{**V1_FIELDS, "order_id": f"o-{position}", "tracking_no": f"ZT{position}"}
    ).model_dump(mode="json")
    return {**envelope, "schema_version": 1, "payload": payload}


def _cancel_record(iid: UUID, position: int) -> dict:
    cancel = Cancelled(
        originator_id=iid,
        originator_version=2,
        recorded_at=T0,
        merchant_id="m1",
        actor="m1-staff",
        occurred_at=T0,
        reason="misoperation",
    )
    return Envelope.of(cancel, position=position).model_dump(mode="json")


@pytest.mark.kafka
def test_version_1_and_2_messages_project_and_bad_versions_are_dead_lettered(kafka_settings):
    engine = build_engine(kafka_settings)
    engine.execute(b.policy())
    store_as_version_1(engine, OLD)  # stored as v1, relayed as v2
    engine.execute(b.request(key="new", quoted_fee_minor=350, parcel_stage="out_for_delivery"))
    relay = build_relay(kafka_settings, engine)
    relay.check_topic()
    while relay.publish_once():
        pass

    # Records an engine before version 2 left on the topic, and two that no engine can read.
    old_on_topic, unknown, smuggler = UUID(int=7002), UUID(int=7003), UUID(int=7004)
    records = [
        _v1_record(old_on_topic, 101),
        _cancel_record(old_on_topic, 102),
        {**_v1_record(unknown, 103), "schema_version": 99},
        {
            **_v1_record(smuggler, 104),
            "payload": {**_v1_record(smuggler, 104)["payload"], "quoted_fee_minor": 1},
        },
    ]
    producer = kafka_clients.producer(kafka_settings)
    for record in records:
        producer.send(kafka_settings.topic, **message(Envelope.model_validate(record)))
    producer.flush()

    consumer = build_projection_consumer(kafka_settings, build_engine(kafka_settings))
    consumer.start()
    projections = build_engine(kafka_settings)
    drain(consumer, projections.db, relay.published + 2)
    consumer.consumer.close(autocommit=False)

    assert row(projections, OLD)["status"] == "requested"
    assert row(projections, old_on_topic)["status"] == "cancelled"
    assert row(projections, old_on_topic)["order_id"] == "o-101"
    newest = projections.db.read(
        "SELECT data FROM intercept_events WHERE event_type = "
        "'Requested' AND intercept_id NOT IN (?, ?)",
        (str(OLD), str(old_on_topic)),
    )
    assert [orjson.loads(r["data"])["parcel_stage"] for r in newest] == ["out_for_delivery"]

    letters = dlq_tools.read_all(
        kafka_clients.consumer(kafka_settings, group_id=None), kafka_settings.dlq_topic
    )
    by_key = {letter.key: letter for letter in letters}
    assert len(letters) == 2 and consumer.dead_lettered == 2
    assert by_key[str(unknown).encode()].reason == "unknown_schema_version"
    assert "no schema version 99" in by_key[str(unknown).encode()].detail
    assert by_key[str(smuggler).encode()].reason == "invalid"
    assert "quoted_fee_minor" in by_key[str(smuggler).encode()].detail
