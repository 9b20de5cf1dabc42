"""Commands and the events that record them are coupled by declaration, not by names.

Each command says which event field records each of its fields (`records`), and which
it leaves to what the intercept already says (`implied`). A retry under a used key is
the same command only if the command rebuilt from the first event equals it whole.
"""

from datetime import timedelta
from uuid import UUID

import pytest

from domain import intercept as rules
from domain import policy as policies
from domain.commands import (
    ENVELOPE_FIELDS,
    AttachEvidence,
    CancelIntercept,
    ChangeAfterSaleStatus,
    ChargeFee,
    RecordCarrierUnreachable,
    ReportCarrierOutcome,
    RequestIntercept,
)
from domain.decision import Outcome
from domain.errors import CarrierMismatch, IdempotencyKeyReused
from domain.events import (
    CARRIER_EVENTS,
    AfterSaleStatusChanged,
    Cancelled,
    CarrierUnreachable,
    EvidenceAttached,
    FeeCharged,
    Requested,
)
from tests import builders as b
from tests.conftest import T0

IID = UUID(int=9)

RECORDED_AS = {
    RequestIntercept: (Requested,),
    CancelIntercept: (Cancelled,),
    ReportCarrierOutcome: tuple(CARRIER_EVENTS.values()),
    ChargeFee: (FeeCharged,),
    AttachEvidence: (EvidenceAttached,),
    ChangeAfterSaleStatus: (AfterSaleStatusChanged,),
    RecordCarrierUnreachable: (CarrierUnreachable,),
}


def _evidence(**changes) -> AttachEvidence:
    fields = dict(
        intercept_id=IID, kind="screenshot", sha256="a" * 64, uri="a.png", actor="m", occurred_at=T0
    )
    return AttachEvidence(**{**fields, **changes})


def _after_sale(**changes) -> ChangeAfterSaleStatus:
    fields = dict(intercept_id=IID, after_sale_status="refunded", actor="m", occurred_at=T0)
    return ChangeAfterSaleStatus(**{**fields, **changes})


# A first command, then retries under its key that ask for something else, one field at a
# time (two where the command's own rules tie them); every field must be tried.
FIRST_AND_OTHERS = {
    RequestIntercept: (
        b.request(key="k", action="redirect", recipient=b.RECIPIENT, note="n"),
        [
            {"merchant_id": "m2"},
            {"order_id": "o2"},
            {"tracking_no": "ZT2"},
            {"carrier": "SF"},
            {"amount_minor": 20_000},
            {"currency": "USD"},
            {"action": "return_to_station", "recipient": None},
            {"recipient": b.RECIPIENT.model_copy(update={"address": "No. 2 Road"})},
            {"recipient": b.RECIPIENT.model_copy(update={"phone": "13900139000"})},
            {"request_reason": "other"},
            {"note": None},
            {"after_sale_status": "refund_requested"},
            {"quoted_fee_minor": 300},
            {"parcel_stage": "in_transit"},
            {"picked_up_at": T0 - timedelta(hours=30)},
        ],
    ),
    CancelIntercept: (
        b.cancel(IID, key="k", reason="other", note="why"),
        [{"reason": "misoperation"}, {"note": "why not"}],
    ),
    ReportCarrierOutcome: (
        b.carrier(IID, "failed", key="k", carrier_ref="ref-1"),
        [
            {"carrier_ref": None},
            {"reason": "already_signed"},
            {"report": "confirmed", "reason": None},
            {"carrier": "SF"},
            {"report": "rejected", "reason": None, "code": "not_picked_up"},
            {"report": "rejected", "reason": None, "code": "not_picked_up", "message": "no"},
        ],
    ),
    RecordCarrierUnreachable: (
        RecordCarrierUnreachable(
            intercept_id=IID,
            attempts=5,
            last_error="timeout",
            actor="gateway",
            occurred_at=T0,
            key="k",
        ),
        [{"attempts": 6}, {"last_error": "connection refused"}],
    ),
    ChargeFee: (
        b.fee(IID, key="k"),
        [{"kind": "storage"}, {"amount_minor": 1}, {"currency": "USD"}, {"payer": "carrier"}],
    ),
    AttachEvidence: (
        _evidence(key="k", note="n"),
        [{"kind": "chat_log"}, {"sha256": "b" * 64}, {"uri": "b.png"}, {"note": None}],
    ),
    ChangeAfterSaleStatus: (_after_sale(key="k"), [{"after_sale_status": "closed"}]),
}


def _asked(command) -> set[str]:
    return set(type(command).model_fields) - ENVELOPE_FIELDS


@pytest.mark.parametrize("command_type", RECORDED_AS, ids=lambda c: c.__name__)
def test_every_field_is_recorded_implied_or_envelope(command_type):
    """A field added to a command and to neither list fails here, not in production."""
    asked = set(command_type.model_fields) - ENVELOPE_FIELDS
    assert asked == set(command_type.records) | command_type.implied
    assert not set(command_type.records) & command_type.implied


@pytest.mark.parametrize("command_type", RECORDED_AS, ids=lambda c: c.__name__)
def test_every_recorded_field_exists_on_the_event(command_type):
    for event_type in RECORDED_AS[command_type]:
        targets = set(command_type.records.values())
        # A carrier's failure reason is the one field only one kind of report has.
        optional = {"reason", "code", "message"} if command_type is ReportCarrierOutcome else set()
        assert targets - optional <= set(event_type.model_fields)


@pytest.mark.parametrize("command_type", RECORDED_AS, ids=lambda c: c.__name__)
def test_every_field_is_tried_by_a_retry_below(command_type):
    first, others = FIRST_AND_OTHERS[command_type]
    assert set().union(*others) == _asked(first)


def _state_after(first):
    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    if isinstance(first, RequestIntercept):
        return rules.request(
            first, intercept_id=IID, existing=None, policy=policy, parcel_history=(), now=T0
        ).state
    state = rules.request(
        b.request(key="req"),
        intercept_id=IID,
        existing=None,
        policy=policy,
        parcel_history=(),
        now=T0,
    ).state
    return rules.decide(state, first, T0).state


def _retry(state, command):
    if isinstance(command, RequestIntercept):
        return rules.request(
            command, intercept_id=IID, existing=state, policy=None, parcel_history=(), now=T0
        )
    return rules.decide(state, command, T0)


@pytest.mark.parametrize("command_type", RECORDED_AS, ids=lambda c: c.__name__)
def test_the_same_command_again_is_a_duplicate_even_from_another_actor_later(command_type):
    first, _ = FIRST_AND_OTHERS[command_type]
    state = _state_after(first)
    retry = first.model_copy(update={"actor": "retry-bot", "occurred_at": T0.replace(hour=9)})
    decision = _retry(state, retry)
    assert decision.outcome is Outcome.DUPLICATE and decision.events == ()
    assert decision.state is state


@pytest.mark.parametrize(
    ("command_type", "change"),
    [(c, change) for c, (_, others) in FIRST_AND_OTHERS.items() for change in others],
    ids=lambda v: v.__name__ if isinstance(v, type) else ",".join(v),
)
def test_a_used_key_asking_for_anything_else_is_refused(command_type, change):
    first, _ = FIRST_AND_OTHERS[command_type]
    state = _state_after(first)
    other = type(first).model_validate({**dict(first), **change})
    if isinstance(other, ReportCarrierOutcome) and other.carrier != state.carrier:
        # Refused before its key is looked at; the comparison would refuse it too.
        with pytest.raises(CarrierMismatch):
            _retry(state, other)
        implied = {"carrier": state.carrier, "report": other.report}
        assert not other.recorded_by(state.keys["k"], **implied)
        return
    with pytest.raises(IdempotencyKeyReused, match="'k' was already used for a different"):
        _retry(state, other)


def test_a_command_records_its_fields_under_the_events_names():
    command = b.fee(IID, payer="platform")
    assert command.recorded() == {
        "kind": command.kind,
        "amount_minor": 1200,
        "currency": "CNY",
        "payer": command.payer,
    }


def test_an_unset_optional_field_is_left_to_the_events_default():
    assert b.cancel(IID).recorded() == {"reason": "misoperation"}
    assert "reason" not in b.carrier(IID, "confirmed").recorded()


def test_an_event_of_another_command_does_not_record_this_one():
    state = _state_after(b.fee(IID, key="k"))
    assert not b.cancel(IID, key="k").recorded_by(state.keys["k"])
