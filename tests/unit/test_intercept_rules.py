"""The intercept rules, decided by the pure domain with no storage at all."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from domain import intercept as rules
from domain import policy as policies
from domain.decision import Outcome
from domain.errors import (
    AmountOutsidePolicy,
    CarrierMismatch,
    CarrierNotEnabled,
    CurrencyMismatch,
    IdempotencyKeyReused,
    NoPolicy,
    NotCancellable,
    ParcelAlreadyIntercepted,
    ParcelHasOpenIntercept,
)
from domain.events import Cancelled, CarrierConfirmed, CarrierReleased
from domain.vocabulary import CarrierReport, Conflict, Status
from tests import builders as b
from tests.conftest import T0

IID = uuid4()


def a_policy(**changes):
    return policies.set_policy(None, b.policy(**changes), policy_id=uuid4(), now=T0).state


def requested(command=None, history=()):
    command = command or b.request()
    return rules.request(
        command, intercept_id=IID, existing=None, policy=a_policy(), parcel_history=history, now=T0
    ).state


def after(state, *commands):
    for command in commands:
        state = rules.decide(state, command, T0).state
    return state


# Rule 1: policy


def test_no_policy_means_no_interception():
    with pytest.raises(NoPolicy, match="no intercept policy"):
        policies.require_policy(None, "m1")


@pytest.mark.parametrize("amount", [99, 500_001])
def test_amount_must_be_inside_the_policy_interval(amount):
    with pytest.raises(AmountOutsidePolicy, match="outside merchant m1's intercept interval"):
        a_policy().admits(b.request(amount_minor=amount))


@pytest.mark.parametrize("amount", [100, 500_000])
def test_interval_bounds_are_inclusive(amount):
    a_policy().admits(b.request(amount_minor=amount))


def test_carrier_must_be_enabled():
    with pytest.raises(CarrierNotEnabled, match="carrier YTO is not enabled"):
        a_policy().admits(b.request(carrier="YTO"))


def test_policy_interval_must_be_ordered():
    with pytest.raises(ValidationError, match="minimum amount must not exceed"):
        b.policy(min_amount_minor=10, max_amount_minor=5)


def test_setting_the_same_policy_again_records_nothing():
    first = policies.set_policy(None, b.policy(), policy_id=IID, now=T0)
    again = policies.set_policy(first.state, b.policy(), policy_id=IID, now=T0)
    assert again.outcome is Outcome.UNCHANGED and again.events == ()


# Rule 2: one open intercept per parcel, none after success


def test_a_parcel_with_an_open_intercept_cannot_get_another():
    with pytest.raises(ParcelHasOpenIntercept):
        requested(history=[requested()])


def test_a_parcel_intercepted_before_cannot_be_intercepted_again():
    done = after(requested(), b.carrier(IID, "confirmed"))
    with pytest.raises(ParcelAlreadyIntercepted):
        requested(history=[done])


def test_a_parcel_can_be_requested_again_after_a_cancel_or_failure():
    cancelled = after(requested(), b.cancel(IID))
    failed = after(requested(), b.carrier(IID, "failed"))
    assert requested(history=[cancelled, failed]).status is Status.REQUESTED


# Rule 3: states and the irreversible cancel


def test_states_move_requested_accepted_intercepted():
    state = requested()
    assert state.status is Status.REQUESTED
    state = after(state, b.carrier(IID, "accepted"))
    assert state.status is Status.ACCEPTED
    assert after(state, b.carrier(IID, "confirmed")).status is Status.INTERCEPTED
    assert after(state, b.carrier(IID, "failed")).status is Status.FAILED


@pytest.mark.parametrize("before", [(), ("accepted",)])
def test_cancel_is_allowed_from_requested_or_accepted(before):
    state = after(requested(), *[b.carrier(IID, r) for r in before])
    decision = rules.cancel(state, b.cancel(IID), T0)
    assert [type(e) for e in decision.events] == [Cancelled]
    assert decision.state.status is Status.CANCELLED


@pytest.mark.parametrize("outcome", ["confirmed", "failed"])
def test_cancel_is_refused_once_the_carrier_decided(outcome):
    state = after(requested(), b.carrier(IID, outcome))
    with pytest.raises(NotCancellable, match="can no longer be cancelled"):
        rules.cancel(state, b.cancel(IID), T0)


def test_a_repeated_cancel_records_nothing_and_says_already_cancelled():
    state = after(requested(), b.cancel(IID))
    decision = rules.cancel(state, b.cancel(IID, reason="buyer_changed_mind"), T0)
    assert decision.outcome is Outcome.ALREADY_CANCELLED
    assert decision.events == ()


def test_cancel_for_other_reason_needs_a_note():
    with pytest.raises(ValidationError, match="needs a note"):
        b.cancel(IID, reason="other")
    assert b.cancel(IID, reason="other", note="courier asked").note == "courier asked"


@pytest.mark.parametrize("report", list(CarrierReport))
def test_no_carrier_report_leaves_cancelled(report):
    state = after(requested(), b.cancel(IID), b.carrier(IID, report))
    assert state.status is Status.CANCELLED


# Rule 4: carrier reports are facts


def test_confirmed_after_cancel_is_recorded_and_flagged():
    state = after(requested(), b.cancel(IID))
    decision = rules.report(state, b.carrier(IID, "confirmed"), T0)
    assert [type(e) for e in decision.events] == [CarrierConfirmed]
    assert decision.events[0].conflict is Conflict.INTERCEPTED_AFTER_CANCEL
    assert decision.state.status is Status.CANCELLED
    assert decision.state.conflicts == (Conflict.INTERCEPTED_AFTER_CANCEL,)


def test_released_after_cancel_closes_the_cancel_cleanly():
    state = after(requested(), b.cancel(IID))
    decision = rules.report(state, b.carrier(IID, "released"), T0)
    assert [type(e) for e in decision.events] == [CarrierReleased]
    assert decision.events[0].conflict is None
    assert decision.state.status is Status.CANCELLED and decision.state.conflicts == ()


def test_a_report_moving_backwards_records_nothing():
    state = after(requested(), b.carrier(IID, "accepted"), b.carrier(IID, "confirmed"))
    decision = rules.report(state, b.carrier(IID, "accepted"), T0)
    assert decision.outcome is Outcome.STALE and decision.events == ()


def test_a_repeated_report_records_nothing():
    state = after(requested(), b.carrier(IID, "confirmed"))
    decision = rules.report(state, b.carrier(IID, "confirmed"), T0)
    assert decision.outcome is Outcome.DUPLICATE and decision.events == ()


def test_contradictory_outcomes_are_kept_and_flagged():
    state = after(requested(), b.carrier(IID, "failed"), b.carrier(IID, "confirmed"))
    assert state.status is Status.FAILED
    assert state.conflicts == (Conflict.CONTRADICTORY_CARRIER_REPORTS,)


def test_release_without_a_cancel_is_flagged():
    state = after(requested(), b.carrier(IID, "released"))
    assert state.conflicts == (Conflict.RELEASED_WITHOUT_CANCEL,)
    assert state.status is Status.REQUESTED


def test_a_carrier_reports_only_on_its_own_parcels():
    with pytest.raises(CarrierMismatch, match="with carrier ZTO, not SF"):
        rules.report(requested(), b.carrier(IID, "confirmed", carrier="SF"), T0)


def test_a_failure_needs_a_reason():
    with pytest.raises(ValidationError, match="failure report needs a reason"):
        b.carrier(IID, "confirmed", reason="other")


# Rule 5: idempotency keys


def test_same_key_same_request_returns_the_first_result():
    first = requested()
    decision = rules.request(
        b.request(), intercept_id=IID, existing=first, policy=None, parcel_history=(), now=T0
    )
    assert decision.outcome is Outcome.DUPLICATE and decision.events == ()
    assert decision.state is first


def test_same_key_different_request_is_an_error():
    with pytest.raises(IdempotencyKeyReused, match="already used for a different command"):
        rules.request(
            b.request(amount_minor=20_000),
            intercept_id=IID,
            existing=requested(),
            policy=None,
            parcel_history=(),
            now=T0,
        )


def test_a_retry_may_differ_in_time_and_actor_only():
    first = requested()
    retry = b.request(occurred_at=T0.replace(hour=9), actor="retry-bot")
    decision = rules.request(
        retry, intercept_id=IID, existing=first, policy=None, parcel_history=(), now=T0
    )
    assert decision.outcome is Outcome.DUPLICATE


def test_same_key_on_a_fee_is_recorded_once():
    state = after(requested(), b.fee(IID, key="fee-1"))
    decision = rules.charge_fee(state, b.fee(IID, key="fee-1"), T0)
    assert decision.outcome is Outcome.DUPLICATE and state.fees_minor == 1200
    with pytest.raises(IdempotencyKeyReused):
        rules.charge_fee(state, b.fee(IID, key="fee-1", amount_minor=99), T0)


def test_a_key_used_for_a_fee_cannot_cancel():
    state = after(requested(), b.fee(IID, key="k-x"))
    with pytest.raises(IdempotencyKeyReused):
        rules.cancel(state, b.cancel(IID, key="k-x"), T0)


# Rule 6: fees and evidence in any state


@pytest.mark.parametrize("path", [(), ("cancel",), ("confirmed",), ("failed",)])
def test_fees_can_be_added_in_any_state(path):
    steps = [b.cancel(IID) if p == "cancel" else b.carrier(IID, p) for p in path]
    state = after(requested(), *steps, b.fee(IID), b.fee(IID))
    assert state.fees_minor == 2400


def test_fee_currency_must_match_the_order():
    with pytest.raises(CurrencyMismatch):
        rules.charge_fee(requested(), b.fee(IID, currency="USD"), T0)


def test_evidence_is_append_only_and_deduplicated_by_content():
    from domain.commands import AttachEvidence

    def evidence(digest):
        return AttachEvidence(
            intercept_id=IID,
            kind="screenshot",
            sha256=digest,
            uri="a.png",
            actor="m",
            occurred_at=T0,
        )

    state = after(requested(), b.cancel(IID))
    state = rules.attach_evidence(state, evidence("a" * 64), T0).state
    state = rules.attach_evidence(state, evidence("b" * 64), T0).state
    again = rules.attach_evidence(state, evidence("a" * 64), T0)
    assert state.evidence == ("a" * 64, "b" * 64)
    assert again.outcome is Outcome.DUPLICATE


def test_a_redirect_needs_an_address():
    with pytest.raises(ValidationError, match="redirect needs a recipient"):
        b.request(action="redirect")
    assert b.request(action="redirect", recipient=b.RECIPIENT).recipient == b.RECIPIENT


# Rule 7: the after-sale status follows the merchant's shop, in any state


def _after_sale(status, **changes):
    from domain.commands import ChangeAfterSaleStatus

    return ChangeAfterSaleStatus(
        intercept_id=IID, after_sale_status=status, actor="m1-staff", occurred_at=T0, **changes
    )


@pytest.mark.parametrize("path", [(), ("cancel",), ("confirmed",)])
def test_the_after_sale_status_changes_in_any_state(path):
    steps = [b.cancel(IID) if p == "cancel" else b.carrier(IID, p) for p in path]
    state = after(requested(), *steps)
    decision = rules.change_after_sale_status(state, _after_sale("refunded"), T0)
    assert decision.outcome is Outcome.RECORDED
    assert decision.state.after_sale_status == "refunded"
    assert decision.state.status is state.status


def test_asking_for_the_after_sale_status_it_already_has_records_nothing():
    state = after(requested(), _after_sale("refunded"))
    decision = rules.change_after_sale_status(state, _after_sale("refunded"), T0)
    assert decision.outcome is Outcome.UNCHANGED and decision.events == ()
    assert decision.state is state


# What a decision says, and what the refusals tell the merchant


def test_a_request_records_what_was_asked_with_its_key():
    decision = rules.request(
        b.request(key="k-9", after_sale_status="refund_requested"),
        intercept_id=IID,
        existing=None,
        policy=a_policy(),
        parcel_history=(),
        now=T0,
    )
    (event,) = decision.events
    assert decision.outcome is Outcome.RECORDED
    assert (event.originator_id, event.originator_version, event.idempotency_key) == (IID, 1, "k-9")
    assert decision.state.after_sale_status == "refund_requested"
    assert dict(decision.state.keys) == {"k-9": event}


def test_a_new_request_needs_the_merchants_policy():
    with pytest.raises(TypeError, match="^a new request is decided against the merchant's policy$"):
        rules.request(
            b.request(), intercept_id=IID, existing=None, policy=None, parcel_history=(), now=T0
        )


def test_a_parcel_refusal_names_the_parcel_and_the_intercept_in_the_way():
    done = after(requested(), b.carrier(IID, "confirmed"))
    with pytest.raises(ParcelAlreadyIntercepted) as refused:
        requested(history=[done])
    assert refused.value.message == (
        f"parcel ZTO ZT1000 was already intercepted (intercept {IID}); "
        "it cannot be intercepted again"
    )
    with pytest.raises(ParcelHasOpenIntercept) as refused:
        requested(history=[requested()])
    assert refused.value.message == (
        f"parcel ZTO ZT1000 already has an open intercept {IID} (requested); "
        "cancel it or wait for the carrier"
    )


def test_a_refused_cancel_says_which_states_can_be_cancelled():
    state = after(requested(), b.carrier(IID, "failed"))
    with pytest.raises(NotCancellable) as refused:
        rules.cancel(state, b.cancel(IID), T0)
    assert refused.value.message == (
        f"intercept {IID} is failed and can no longer be cancelled; "
        "only a requested or accepted intercept can be"
    )


def test_a_fee_in_another_currency_names_both():
    with pytest.raises(CurrencyMismatch) as refused:
        rules.charge_fee(requested(), b.fee(IID, currency="USD"), T0)
    assert refused.value.message == (
        f"intercept {IID} is in CNY; a fee in USD cannot be added to it"
    )


def test_a_reused_key_names_the_key_and_says_what_to_do():
    state = after(requested(), b.fee(IID, key="fee-1"))
    with pytest.raises(IdempotencyKeyReused) as refused:
        rules.cancel(state, b.cancel(IID, key="fee-1"), T0)
    assert refused.value.message == (
        f"idempotency key 'fee-1' was already used for a different command on intercept {IID}; "
        "use a new key for a new command"
    )


def test_the_requests_key_cannot_be_reused_by_a_later_command():
    with pytest.raises(IdempotencyKeyReused):
        rules.charge_fee(requested(), b.fee(IID, key="k1"), T0)


def test_every_recorded_change_says_recorded_and_advances_the_version():
    state = requested()
    for command in (b.carrier(IID, "accepted"), b.fee(IID), b.cancel(IID), _after_sale("closed")):
        decision = rules.decide(state, command, T0)
        assert decision.outcome is Outcome.RECORDED
        assert [e.originator_version for e in decision.events] == [state.version + 1]
        assert decision.state.version == state.version + 1
        state = decision.state


def test_the_state_keeps_exactly_the_keyed_events_by_their_keys():
    state = after(requested(b.request(key="r")), b.fee(IID), b.fee(IID, key="f"), b.cancel(IID))
    assert set(state.keys) == {"r", "f"}
    assert state.keys["r"] is state.request
    unkeyed = requested(b.request(key=None))
    assert dict(unkeyed.keys) == {}


def test_only_a_history_that_starts_with_its_request_is_an_intercept():
    fee = rules.charge_fee(requested(), b.fee(IID), T0).events[0]
    with pytest.raises(
        ValueError, match="^FeeCharged before Requested: not an intercept's history$"
    ):
        rules.evolve(None, fee)


def test_a_redirect_without_an_address_says_so_exactly():
    with pytest.raises(
        ValidationError,
        match=r"Value error, a redirect needs a recipient, and only a redirect takes one \[",
    ):
        b.request(action="redirect")


def test_a_cancel_for_other_without_a_note_says_so_exactly():
    with pytest.raises(
        ValidationError,
        match=r"Value error, a cancel for reason 'other' needs a note saying why \[",
    ):
        b.cancel(IID, reason="other", note="  ")
