"""Decoding checks every message against its event type and its own schema version."""

from uuid import UUID

import orjson
import pytest

from consumers.decode import Poison, decode
from domain.envelope import Envelope
from domain.events import Cancelled, Requested
from domain.past_events import RequestedV1, RequestedV2
from domain.vocabulary import ParcelStage
from tests import builders as b
from tests.conftest import T0

IID = UUID(int=42)
FIELDS = dict(
    merchant_id="m1",
    actor="m1-staff",
    occurred_at=T0,
    order_id="o1",
    tracking_no="ZT1",
    carrier="ZTO",
    amount_minor=19_900,
    currency="CNY",
    action="return_to_sender",
    request_reason="buyer_refund",
)


def requested_v2(**changes) -> Requested:
    return Requested(
        originator_id=IID, originator_version=1, recorded_at=T0, **{**FIELDS, **changes}
    )


def message_v1(**payload_changes) -> dict:
    """A Requested record exactly as an engine before version 2 published it."""
    record = Envelope.of(requested_v2(), position=1).model_dump(mode="json")
    payload = RequestedV1(**FIELDS).model_dump(mode="json")
    return {**record, "schema_version": 1, "payload": {**payload, **payload_changes}}


def test_a_version_1_message_decodes_upcast():
    event = decode(orjson.dumps(message_v1())).event()
    assert event.parcel_stage is ParcelStage.UNKNOWN and event.quoted_fee_minor is None
    assert event == requested_v2()


def test_a_version_2_message_decodes_with_its_new_fields():
    sent = requested_v2(quoted_fee_minor=350, parcel_stage="out_for_delivery")
    record = Envelope.of(sent, position=1).model_dump(mode="json")
    payload = RequestedV2(**FIELDS, quoted_fee_minor=350, parcel_stage="out_for_delivery")
    v2 = {**record, "schema_version": 2, "payload": payload.model_dump(mode="json")}
    assert decode(orjson.dumps(v2)).event() == sent


def test_a_version_2_redirect_decodes_with_its_address_as_the_recipients_line():
    payload = RequestedV2(**{**FIELDS, "action": "redirect"}, new_address="No. 1 Road")
    record = Envelope.of(requested_v2(), position=1).model_dump(mode="json")
    v2 = {**record, "schema_version": 2, "payload": payload.model_dump(mode="json")}
    event = decode(orjson.dumps(v2)).event()
    assert event.recipient is not None and event.recipient.address == "No. 1 Road"
    assert event.recipient.name == "unknown"


def test_a_version_3_or_later_message_names_any_carrier_of_the_catalog():
    sent = requested_v2(carrier="DBL", action="redirect", recipient=b.RECIPIENT)
    record = orjson.dumps(Envelope.of(sent, position=1).model_dump(mode="json"))
    assert orjson.loads(record)["schema_version"] == Requested.class_version >= 3
    assert decode(record).event() == sent


def test_a_version_2_message_with_a_version_3_field_is_poison():
    record = Envelope.of(requested_v2(), position=1).model_dump(mode="json")
    v2 = {**record, "schema_version": 2, "payload": {**record["payload"], "recipient": None}}
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps(v2))
    assert caught.value.kind == "invalid"


@pytest.mark.parametrize("version", [Requested.class_version + 1, 99])
def test_an_unknown_schema_version_is_poison_that_names_it(version):
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps({**message_v1(), "schema_version": version}))
    assert caught.value.kind == "unknown_schema_version"
    assert f"Requested has no schema version {version}" in caught.value.detail


def test_a_version_unknown_for_its_type_is_poison():
    cancel = Cancelled(
        originator_id=IID,
        originator_version=2,
        recorded_at=T0,
        merchant_id="m1",
        actor="a",
        occurred_at=T0,
        reason="misoperation",
    )
    record = {
        **Envelope.of(cancel, position=2).model_dump(mode="json"),
        "schema_version": Cancelled.class_version + 1,
    }
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps(record))
    assert caught.value.kind == "unknown_schema_version"


def test_a_version_1_message_carrying_a_version_2_field_is_invalid():
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps(message_v1(parcel_stage="in_transit")))
    assert caught.value.kind == "invalid"
    assert "parcel_stage" in caught.value.detail and "Extra inputs" in caught.value.detail


@pytest.mark.parametrize(
    "change, field",
    [
        ({"parcel_stage": "on_the_moon"}, "parcel_stage"),
        ({"quoted_fee_minor": -1}, "quoted_fee_minor"),
    ],
)
def test_a_version_2_message_failing_its_schema_is_invalid(change, field):
    record = Envelope.of(requested_v2(), position=1).model_dump(mode="json")
    record["payload"].update(change)
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps(record))
    assert caught.value.kind == "invalid" and field in caught.value.detail


def test_a_version_1_message_failing_its_own_schema_is_invalid():
    record = message_v1()
    del record["payload"]["carrier"]
    with pytest.raises(Poison) as caught:
        decode(orjson.dumps(record))
    assert caught.value.kind == "invalid" and "carrier" in caught.value.detail
