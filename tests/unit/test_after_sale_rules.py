"""After-sale records and the automatic rule's pure decisions; flags and stalled facts."""

from datetime import timedelta
from uuid import UUID

import pytest

from domain import after_sale as after_sales
from domain import intercept as rules
from domain import policy as policies
from domain.commands import FlagIntercept, MarkStalled, ReportAfterSale
from domain.decision import Outcome
from domain.vocabulary import Deadline, Flag, Status
from tests import builders as b
from tests.conftest import T0

AID = UUID(int=77)


def report(**changes) -> ReportAfterSale:
    fields = dict(
        merchant_id="m1",
        after_sale_id="A1",
        order_id="o1",
        tracking_no="ZT1000",
        carrier="ZTO",
        amount_minor=19_900,
        status="refund_requested",
        actor="platform",
        occurred_at=T0,
    )
    return ReportAfterSale(**{**fields, **changes})


def reported(**changes) -> after_sales.AfterSale:
    state = after_sales.report(None, report(**changes), after_sale_id=AID, now=T0).state
    assert state is not None
    return state


def policy(**changes) -> policies.InterceptPolicy:
    command = b.policy(auto_intercept=frozenset({"refund_requested", "return_requested"}))
    state = policies.set_policy(None, command, policy_id=UUID(int=1), now=T0).state
    assert state is not None
    from dataclasses import replace

    return replace(state, **changes)


def test_the_same_report_again_records_nothing_and_a_new_status_records_a_report():
    state = reported()
    again = after_sales.report(state, report(), after_sale_id=AID, now=T0)
    assert (again.events, again.outcome) == ((), Outcome.UNCHANGED)
    newer = after_sales.report(state, report(status="closed"), after_sale_id=AID, now=T0)
    assert newer.outcome is Outcome.RECORDED
    assert newer.state.reports == 2 and newer.state.undecided


def test_an_after_sale_is_about_one_parcel():
    with pytest.raises(after_sales.AfterSaleFactsFixed) as refused:
        after_sales.report(reported(), report(tracking_no="ZT9"), after_sale_id=AID, now=T0)
    assert refused.value.rule == "after_sale_same_shipment"


@pytest.mark.parametrize(
    "state_changes, policy_changes, rule",
    [
        ({}, {"auto_intercept": ()}, "auto_intercept_off"),
        ({"status": "refunded"}, {}, "auto_intercept_status"),
        ({"parcel_stage": "out_for_delivery"}, {}, "auto_intercept_in_transit"),
    ],
)
def test_the_rule_says_what_stopped_it(state_changes, policy_changes, rule):
    with pytest.raises(after_sales.Stopped) as stopped:
        after_sales.auto_request(reported(**state_changes), policy(**policy_changes), T0)
    assert stopped.value.rule == rule


def test_no_policy_is_no_rule():
    with pytest.raises(after_sales.Stopped) as stopped:
        after_sales.auto_request(reported(), None, T0)
    assert stopped.value.rule == "auto_intercept_off"


def test_the_automatic_request_is_keyed_by_the_after_sale():
    made = after_sales.auto_request(reported(), policy(), T0)
    assert made.key == "after-sale:A1" and made.actor == "auto-rule"
    assert (made.amount_minor, made.after_sale_status) == (19_900, "refund_requested")


def test_a_decision_covers_the_report_and_a_later_report_needs_its_own():
    state = reported()
    decided = after_sales.evolve(state, after_sales.requested(state, UUID(int=5), T0, T0))
    assert not decided.undecided and decided.intercept_id == UUID(int=5)
    later = after_sales.report(decided, report(status="closed"), after_sale_id=AID, now=T0)
    assert later.state.undecided and later.state.intercept_id == UUID(int=5)


def _open():
    return rules.request(
        b.request(),
        intercept_id=UUID(int=9),
        existing=None,
        policy=policy(),
        parcel_history=(),
        now=T0,
    ).state


def test_a_flag_is_raised_once():
    state = _open()
    flag = FlagIntercept(
        intercept_id=state.id, flag=Flag.AFTER_SALE_WITHDRAWN, actor="auto-rule", occurred_at=T0
    )
    first = rules.decide(state, flag, T0)
    assert first.state.flags == {Flag.AFTER_SALE_WITHDRAWN}
    assert first.state.status is Status.REQUESTED  # never a cancel
    assert rules.decide(first.state, flag, T0).outcome is Outcome.UNCHANGED


def _stall(state, deadline, minutes, after):
    command = MarkStalled(
        intercept_id=state.id,
        deadline=deadline,
        limit_minutes=minutes,
        actor="deadline",
        occurred_at=T0 + after,
    )
    return rules.decide(state, command, T0)


def test_a_deadline_is_recorded_once_and_only_once_passed():
    state = _open()
    early = _stall(state, Deadline.ACCEPTANCE, 120, timedelta(minutes=119))
    assert early.outcome is Outcome.UNCHANGED
    stalled = _stall(state, Deadline.ACCEPTANCE, 120, timedelta(minutes=120))
    assert stalled.outcome is Outcome.RECORDED and Flag.STALLED in stalled.state.flags
    again = _stall(stalled.state, Deadline.ACCEPTANCE, 120, timedelta(hours=5))
    assert again.outcome is Outcome.UNCHANGED


def test_an_accepted_intercept_is_not_late_to_be_accepted_but_may_be_late_for_its_outcome():
    accepted = rules.decide(_open(), b.carrier(UUID(int=9), "accepted"), T0).state
    assert _stall(accepted, Deadline.ACCEPTANCE, 60, timedelta(days=3)).outcome is Outcome.UNCHANGED
    assert _stall(accepted, Deadline.OUTCOME, 60, timedelta(days=3)).outcome is Outcome.RECORDED


def test_a_closed_intercept_never_stalls():
    done = rules.decide(_open(), b.carrier(UUID(int=9), "confirmed"), T0).state
    assert _stall(done, Deadline.OUTCOME, 60, timedelta(days=3)).outcome is Outcome.UNCHANGED
