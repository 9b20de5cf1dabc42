"""The committed JSON Schemas under schemas/ are the classes' contracts, and evolve safely."""

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, create_model

from domain.envelope import INTERCEPT_EVENT_TYPES
from domain.events import InterceptEvent, Requested
from domain.past_events import RequestedV1
from domain.types import Text
from domain.vocabulary import CancelReason
from engine.event_contracts import (
    ENVELOPE_FILE,
    PUBLISHED,
    contract_files,
    event_file,
    event_schema,
    event_versions,
)
from engine.schema_evolution import breaking_changes, remedy, review
from tests.strategies import events_of
from tests.support.schema_instances import instances

MADE = contract_files()
EVENT_FILES = sorted((event_file(c.event_type(), v), c, v) for c, v in event_versions())
IDS = [name for name, _, _ in EVENT_FILES]
IDENTITY = {
    "originator_id": "00000000-0000-0000-0000-000000000001",
    "originator_version": 1,
    "recorded_at": "2026-11-20T08:00:00Z",
}
# Schema-driven generation is slower than st.builds, and filters internally (a date-time
# with a pattern): half the profile's examples per file, and no health check on filtering.
GENERATED = settings(
    max_examples=max(10, settings.default.max_examples // 2),
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


def committed(name: str) -> dict:
    return orjson.loads((PUBLISHED / name).read_bytes())


def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _drift(name: str) -> str:
    if name == ENVELOPE_FILE:
        return (
            f"schemas/{name} differs from domain.envelope.Envelope: run `intercept schemas "
            "export` and commit the result"
        )
    return (
        f"schemas/{name} differs from what the classes make: run `intercept schemas export` "
        "and commit the result (it refuses a change that breaks a published version)"
    )


@pytest.mark.parametrize("name", sorted(MADE))
def test_the_committed_file_is_what_the_classes_make(name):
    path = PUBLISHED / name
    assert path.exists(), f"schemas/{name} is missing: run `intercept schemas export`, commit it"
    assert path.read_bytes() == MADE[name], _drift(name)


@pytest.mark.parametrize("name, cls, version", EVENT_FILES, ids=IDS)
def test_no_published_version_is_broken_by_its_class(name, cls, version):
    problems = breaking_changes(committed(name), event_schema(cls, version))
    assert not problems, (
        f"{cls.event_type()} no longer matches published schemas/{name}: "
        f"{'; '.join(problems)}. {remedy(cls.event_type(), version)}"
    )


def test_no_published_version_is_withdrawn():
    assert review(PUBLISHED, MADE).withdrawn == [], (
        "a published event version has no class any more: keep its payload in `past_payloads`"
    )


@pytest.mark.parametrize("name, cls, version", EVENT_FILES, ids=IDS)
def test_every_version_is_in_the_subscribers_guide(name, cls, version):
    guide = (PUBLISHED.parent / "docs" / "events.md").read_text()
    link = f"[{cls.event_type()}.v{version}](../schemas/{name})"
    assert link in guide, f"docs/events.md: add {link} to the table of versions"


@pytest.mark.parametrize("cls", INTERCEPT_EVENT_TYPES.values(), ids=list(INTERCEPT_EVENT_TYPES))
def test_every_past_version_has_its_payload_model_and_upcaster(cls):
    assert sorted(cls.past_payloads) == list(range(1, cls.class_version))
    for version in range(1, cls.class_version):
        assert callable(getattr(cls, f"upcast_v{version}_v{version + 1}", None)), (
            f"{cls.event_type()} needs a classmethod upcast_v{version}_v{version + 1}(state)"
        )


@pytest.mark.parametrize("name", sorted(n for n in MADE if n.endswith(".json")))
def test_every_schema_is_valid_draft_2020_12(name):
    schema = committed(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name, cls, version", EVENT_FILES, ids=IDS)
@GENERATED
@given(data=st.data())
def test_instances_of_each_schema_load_into_the_classes(name, cls, version, data):
    payload = data.draw(instances(committed(name)))
    state = cls.upcast_payload(payload, version)
    event = cls.model_validate({**state, **IDENTITY})
    assert event.payload()["merchant_id"] == payload["merchant_id"]


@pytest.mark.parametrize("cls", INTERCEPT_EVENT_TYPES.values(), ids=list(INTERCEPT_EVENT_TYPES))
@given(data=st.data())
def test_instances_of_the_classes_validate_against_their_schema(cls, data):
    event = data.draw(events_of(cls))
    schema = committed(event_file(cls.event_type(), cls.class_version))
    errors = [e.message for e in validator(schema).iter_errors(event.payload())]
    assert errors == []


@given(data=st.data())
def test_instances_of_requested_v1_validate_against_its_schema(data):
    payload = data.draw(events_of(Requested)).payload()
    kept = {k: v for k, v in payload.items() if k in RequestedV1.model_fields}
    address = payload["recipient"]["address"] if payload["recipient"] else None
    # Recorded today, the note and the recipient are sealed; version 1 held them as text.
    address = "1 Wensan Road" if isinstance(address, dict) else address
    if isinstance(kept.get("note"), dict):
        kept["note"] = "a note"
    # Version 1 knew the eight built-in carriers and an address as one text.
    old = RequestedV1.model_validate({**kept, "carrier": "ZTO", "new_address": address})
    schema = committed(event_file("Requested", 1))
    assert [e.message for e in validator(schema).iter_errors(old.model_dump(mode="json"))] == []


def test_a_payload_breaking_a_cross_field_rule_fails_its_schema():
    v1 = validator(committed(event_file("Requested", 1)))
    cancelled = validator(committed(event_file("Cancelled", 1)))
    base = {
        "merchant_id": "m1",
        "actor": "a",
        "occurred_at": "2026-11-20T08:00:00Z",
        "order_id": "o1",
        "tracking_no": "T1",
        "carrier": "ZTO",
        "amount_minor": 1,
        "currency": "CNY",
        "request_reason": "r",
    }
    assert v1.is_valid({**base, "action": "return_to_sender"})
    assert not v1.is_valid({**base, "action": "redirect"})
    assert not v1.is_valid({**base, "action": "return_to_sender", "new_address": "somewhere"})
    assert not v1.is_valid(
        {**base, "action": "return_to_sender", "occurred_at": "1999-12-31T23:00:00Z"}
    )
    common = {"merchant_id": "m1", "actor": "a", "occurred_at": "2026-11-20T08:00:00Z"}
    assert not cancelled.is_valid({**common, "reason": "other", "note": "  "})
    assert cancelled.is_valid({**common, "reason": "other", "note": "buyer asked twice"})


# ---- the evolution rule, on classes changed the way a developer might ------------------


def _cancelled(**fields) -> type[BaseModel]:
    """A `Cancelled` class as a developer might change it, with `fields` added or replaced."""
    own = {"reason": (CancelReason, ...), "note": (Text | None, None)}
    # abstract: a draft to compare schemas with, not an event type the registry should take
    return create_model(
        "Cancelled", __base__=InterceptEvent, __cls_kwargs__={"abstract": True}, **{**own, **fields}
    )


def _problems(**change) -> list[str]:
    return breaking_changes(event_schema(_cancelled(), 1), event_schema(_cancelled(**change), 1))


def test_adding_an_optional_field_keeps_the_version():
    assert _problems(refund_minor=(int | None, None)) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (dict(refund_minor=(int, ...)), "new field 'refund_minor' is required"),
        (dict(note=(str, ...)), "field 'note' changed"),
        (dict(reason=(str, ...)), "field 'reason' changed"),
    ],
    ids=["required field added", "optional made required", "enum widened to any text"],
)
def test_a_breaking_change_is_named(change, expected):
    problems = _problems(**change)
    assert any(expected in p for p in problems), problems


def test_removing_a_field_is_breaking():
    before = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
    }
    after = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert breaking_changes(before, after) == ["field 'b' was removed"]


def test_a_changed_rule_or_closed_object_is_breaking_but_words_are_not():
    before = {
        "type": "object",
        "additionalProperties": False,
        "description": "old words",
        "properties": {"a": {"type": "string", "title": "A"}},
    }
    reworded = {
        **before,
        "description": "new words",
        "properties": {"a": {"type": "string", "title": "The A"}},
    }
    opened = {**before, "additionalProperties": True}
    assert breaking_changes(before, reworded) == []
    assert breaking_changes(before, opened) == ["'additionalProperties' changed from false to true"]


def test_a_new_enum_value_in_a_shared_definition_is_breaking():
    before = {"$defs": {"Kind": {"enum": ["a"]}}, "properties": {"k": {"$ref": "#/$defs/Kind"}}}
    after = {"$defs": {"Kind": {"enum": ["a", "b"]}}, "properties": {"k": {"$ref": "#/$defs/Kind"}}}
    assert breaking_changes(before, after) == [
        'field \'k\' changed from {"enum":["a"]} to {"enum":["a","b"]}'
    ]


def test_the_remedy_says_what_to_do():
    text = remedy("Cancelled", 1)
    for step in (
        "class_version = 2",
        "past_payloads",
        "upcast_v1_v2(state)",
        "intercept schemas export",
        "docs/events.md",
    ):
        assert step in text
