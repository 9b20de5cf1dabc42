"""Hypothesis strategies for Kafka messages a consumer must park, never apply or crash on.

`poison()` draws (bytes, surely_poison): mutations of valid published events
that no valid message can look like (surely_poison=True), and some that may or
may not still be valid, such as a payload field removed (False).
"""

import json

import orjson
from hypothesis import strategies as st

from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope
from engine.relay import message
from tests.strategies import histories

REQUIRED = (
    "event_id",
    "event_type",
    "schema_version",
    "intercept_id",
    "merchant_id",
    "version",
    "position",
    "occurred_at",
    "recorded_at",
    "actor",
    "payload",
)
_WRONG_TYPES = st.sampled_from([[], {}, None, [1, 2], {"a": 1}])
_CONTROL = st.sampled_from(["\x00", "\x01", "\x1b[31m", "\x7f", "a\x08b"])
# Not `carrier`: carriers are configuration, so any code (ZZZ too) is a valid one.
_ENUM_FIELDS = {
    "action",
    "after_sale_status",
    "reason",
    "kind",
    "payer",
    "conflict",
    "parcel_stage",
}


def published(history) -> list[bytes]:
    return [message(Envelope.of(e, n))["value"] for n, e in enumerate(history, start=1)]


valid_messages = histories().map(published)


@st.composite
def _mutated(draw) -> tuple[bytes, bool]:
    raw = orjson.loads(draw(st.sampled_from(draw(valid_messages))))
    payload = raw["payload"]
    kind = draw(
        st.sampled_from(
            [
                "drop_field",
                "wrong_type",
                "bad_time",
                "unknown_type",
                "unknown_version",
                "extra_field",
                "payload_wrong_type",
                "payload_control",
                "payload_enormous",
                "payload_amount",
                "payload_enum",
                "payload_extra",
                "payload_drop",
                "bad_id",
            ]
        )
    )
    surely = True
    if kind == "drop_field":
        del raw[draw(st.sampled_from(REQUIRED))]
    elif kind == "wrong_type":
        raw[draw(st.sampled_from(REQUIRED))] = draw(_WRONG_TYPES)
    elif kind == "bad_time":
        raw[draw(st.sampled_from(["occurred_at", "recorded_at"]))] = draw(
            st.sampled_from(["yesterday", "2026-13-01T00:00:00Z", "", "2026-02-30T10:00:00Z"])
        )
    elif kind == "unknown_type":
        raw["event_type"] = draw(
            st.text(max_size=30).filter(lambda t: t not in INTERCEPT_EVENT_TYPES)
        )
    elif kind == "unknown_version":
        raw["schema_version"] = draw(st.sampled_from([0, -1, 99, 10**20]))
    elif kind == "extra_field":
        raw[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in raw))] = 1
    elif kind == "bad_id":
        raw[draw(st.sampled_from(["event_id", "intercept_id"]))] = draw(
            st.text(max_size=40).filter(lambda t: len(t) not in (32, 36))
        )
    elif kind == "payload_drop":
        if payload:
            del payload[draw(st.sampled_from(sorted(payload)))]
        surely = False  # an optional field may go
    elif kind == "payload_extra":
        payload[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in payload))] = "x"
    else:
        field = draw(st.sampled_from(sorted(payload)))
        if kind == "payload_wrong_type":
            payload[field] = draw(_WRONG_TYPES.filter(lambda v: v is not None))
        elif kind == "payload_control":
            payload[field] = draw(_CONTROL)
        elif kind == "payload_enormous":
            payload[field] = "x" * draw(st.integers(1001, 100_000))
        elif kind == "payload_amount":
            field = "amount_minor" if "amount_minor" in payload else field
            payload[field] = draw(st.sampled_from([-1, -(10**12), 10**12 + 1, 10**30, 1.5]))
            surely = field == "amount_minor"
        else:  # payload_enum: a word none of the payload's closed vocabularies has
            enums = sorted(set(payload) & _ENUM_FIELDS)
            if enums:
                payload[draw(st.sampled_from(enums))] = draw(
                    st.sampled_from(["teleport", "ZZZ", "Misoperation", "none ", "cancelled"])
                )
            else:
                raw["event_type"] = "Teleported"
    return json.dumps(raw).encode(), surely  # the stdlib writes integers of any size


def poison() -> st.SearchStrategy:
    not_json = st.one_of(
        st.binary(max_size=200).filter(_not_json),
        valid_messages.flatmap(lambda ms: st.sampled_from(ms)).flatmap(
            lambda m: st.integers(1, len(m) - 1).map(lambda cut: m[:cut])
        ),  # truncated
    ).map(lambda b: (b, True))
    not_an_object = st.sampled_from([b"[]", b"42", b'"Requested"', b"null", b"true"]).map(
        lambda b: (b, True)
    )
    return st.one_of(not_json, not_an_object, _mutated())


def _not_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return True
    return False
