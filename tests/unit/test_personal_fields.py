"""Which fields are personal is declared on the event classes, and nowhere else."""

from typing import Annotated

import pytest
from pydantic import BaseModel

from domain.envelope import INTERCEPT_EVENT_TYPES
from domain.events import Cancelled, EvidenceAttached
from domain.personal import (
    IDENTIFIER,
    SUBJECT_ID_PATTERN,
    Sealed,
    buyer_subject,
    classify,
    recipient_subject,
    subject_kind,
)
from domain.types import BuyerText, Code, RecipientText, Text
from domain.vocabulary import Subject
from engine.event_contracts import event_schema


@pytest.mark.parametrize("cls", INTERCEPT_EVENT_TYPES.values(), ids=list(INTERCEPT_EVENT_TYPES))
def test_every_text_field_of_a_buyer_facing_event_is_classified(cls):
    unclassified = sorted(".".join(p) for p in classify(cls).unclassified)
    assert unclassified == [], (
        f"{cls.event_type()}: mark {unclassified} as personal (BuyerText, RecipientText) or "
        "not (Annotated[..., NotPersonal(why)]) where the field is declared"
    )


def test_a_new_unmarked_text_field_is_caught_where_it_hides():
    class Inner(BaseModel):
        name: RecipientText
        remark: Text

    class Example(BaseModel):
        ref: Annotated[Code, IDENTIFIER]
        comment: Text | None = None
        who: Inner | None = None
        note: BuyerText | None = None

    found = classify(Example)
    assert found.unclassified == {("comment",), ("who", "remark")}
    assert found.personal == {("who", "name"): Subject.RECIPIENT, ("note",): Subject.BUYER}
    assert found.not_personal == {("ref",)}


@pytest.mark.parametrize("cls", [Cancelled, EvidenceAttached])
def test_the_published_schema_gives_personal_fields_only_in_their_sealed_form(cls):
    note = event_schema(cls, cls.class_version)["properties"]["note"]
    shapes = note["anyOf"]
    assert {"type": "null"} in shapes
    sealed = next(s for s in shapes if s != {"type": "null"})
    assert sealed["type"] == "object"
    assert sealed["required"] == ["subject", "key_id", "ciphertext"]
    assert sealed["additionalProperties"] is False
    assert all(s.get("type") != "string" for s in shapes)


def test_subject_ids_are_derived_one_way_and_say_their_kind():
    from uuid import uuid4

    iid = uuid4()
    buyer = buyer_subject("m1", "PDD1")
    assert buyer == buyer_subject("m1", "PDD1") != buyer_subject("m2", "PDD1")
    assert "PDD1" not in buyer and "m1" not in buyer
    assert subject_kind(buyer) is Subject.BUYER
    assert subject_kind(recipient_subject(iid)) is Subject.RECIPIENT
    assert str(iid.hex) not in recipient_subject(iid)
    import re

    assert re.fullmatch(SUBJECT_ID_PATTERN, buyer)
    Sealed(subject=buyer, key_id="k_" + "0" * 32, ciphertext="abc")


def test_the_published_recipient_has_every_part_sealed():
    from domain.events import Requested

    schema = event_schema(Requested, Requested.class_version)
    recipient = schema["$defs"]["RecordedRecipient"]["properties"]
    assert set(recipient) == {"name", "phone", "province", "city", "district", "address"}
    for part in recipient.values():
        assert part["type"] == "object" and part["required"] == ["subject", "key_id", "ciphertext"]
