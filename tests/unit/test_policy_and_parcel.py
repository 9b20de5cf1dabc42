"""A merchant's policy and a parcel's registry of intercepts, as pure decisions and folds."""

from uuid import UUID

import pytest

from domain import parcel as parcels
from domain import policy as policies
from domain.decision import Outcome
from domain.errors import AmountOutsidePolicy, NoPolicy
from domain.parcel import InterceptOpened, Parcel
from domain.policy import PolicySet
from domain.vocabulary import Carrier
from tests import builders as b
from tests.conftest import T0

PID = UUID(int=3)


def test_a_first_policy_is_version_1_with_what_it_says():
    decision = policies.set_policy(None, b.policy(actor="ops-1"), policy_id=PID, now=T0)
    (event,) = decision.events
    assert isinstance(event, PolicySet) and decision.outcome is Outcome.RECORDED
    assert (event.originator_id, event.originator_version, event.recorded_at) == (PID, 1, T0)
    assert event.carriers == (Carrier.SF, Carrier.ZTO)  # sorted: one order in every event
    policy = decision.state
    assert (policy.id, policy.version, policy.merchant_id, policy.updated_by) == (
        PID,
        1,
        "m1",
        "ops-1",
    )
    assert (policy.min_amount_minor, policy.max_amount_minor) == (100, 500_000)
    assert policy.carriers == (Carrier.SF, Carrier.ZTO)


def test_a_changed_policy_is_the_next_version_and_replaces_the_old_terms():
    first = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    changed = policies.set_policy(
        first,
        b.policy(min_amount_minor=0, max_amount_minor=9, carriers={"YTO"}, actor="ops-2"),
        policy_id=PID,
        now=T0,
    )
    assert [e.originator_version for e in changed.events] == [2]
    assert changed.state == policies.InterceptPolicy(
        id=PID,
        version=2,
        merchant_id="m1",
        min_amount_minor=0,
        max_amount_minor=9,
        carriers=(Carrier.YTO,),
        updated_by="ops-2",
    )
    assert policies.project_policy(None, [*first_events(), *changed.events]) == changed.state


@pytest.mark.parametrize(
    "change",
    [{"min_amount_minor": 101}, {"max_amount_minor": 499_999}, {"carriers": frozenset({"ZTO"})}],
)
def test_a_policy_differing_in_any_term_is_recorded(change):
    first = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    decision = policies.set_policy(first, b.policy(**change), policy_id=PID, now=T0)
    assert decision.outcome is Outcome.RECORDED and len(decision.events) == 1


def first_events():
    return policies.set_policy(None, b.policy(), policy_id=PID, now=T0).events


def test_no_policy_events_is_no_policy():
    assert policies.project_policy(None, []) is None


def test_no_policy_tells_the_merchant_what_to_do():
    with pytest.raises(NoPolicy) as refused:
        policies.require_policy(None, "m9")
    assert refused.value.message == (
        "merchant m9 has no intercept policy, so no parcel may be "
        "intercepted; an operator must set one first"
    )
    policy = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    assert policies.require_policy(policy, "m1") is policy


@pytest.mark.parametrize(
    ("minor", "shown"), [(0, "0.00"), (5, "0.05"), (100, "1.00"), (19_999, "199.99")]
)
def test_amounts_are_shown_in_yuan_and_fen(minor, shown):
    assert policies.format_minor(minor) == shown


def test_an_amount_outside_the_interval_is_shown_with_the_interval():
    policy = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    with pytest.raises(AmountOutsidePolicy) as refused:
        policy.admits(b.request(amount_minor=99))
    assert refused.value.message == (
        "order amount 0.99 is outside merchant m1's intercept interval 1.00..5000.00"
    )


def test_a_disabled_carrier_is_refused_naming_the_enabled_ones():
    policy = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    with pytest.raises(Exception, match=r"carrier YTO .* merchant m1 \(enabled: SF, ZTO\)"):
        policy.admits(b.request(carrier="YTO"))


# ---- the parcel registry ------------------------------------------------------


def _opened(parcel: Parcel | None, iid: UUID) -> InterceptOpened:
    return parcels.open_intercept(
        parcel,
        parcel_id=PID,
        carrier=Carrier.ZTO,
        tracking_no="ZT1",
        intercept_id=iid,
        now=T0,
    )


def test_the_first_intercept_of_a_parcel_opens_its_registry():
    event = _opened(None, UUID(int=10))
    assert (event.originator_id, event.originator_version, event.recorded_at) == (PID, 1, T0)
    assert (event.carrier, event.tracking_no, event.intercept_id) == ("ZTO", "ZT1", UUID(int=10))
    assert parcels.evolve(None, event) == Parcel(
        id=PID, version=1, carrier=Carrier.ZTO, tracking_no="ZT1", intercept_ids=(UUID(int=10),)
    )


def test_each_later_intercept_is_the_registrys_next_version_in_order():
    first = _opened(None, UUID(int=10))
    parcel = parcels.evolve(None, first)
    second = _opened(parcel, UUID(int=11))
    assert second.originator_version == 2
    after = parcels.project_parcel(None, [first, second])
    assert after is not None
    assert (after.version, after.intercept_ids) == (2, (UUID(int=10), UUID(int=11)))
    assert parcels.project_parcel(None, []) is None


def test_setting_the_same_policy_again_keeps_the_policy_as_it_was():
    first = policies.set_policy(None, b.policy(), policy_id=PID, now=T0).state
    again = policies.set_policy(first, b.policy(actor="someone-else"), policy_id=PID, now=T0)
    assert again.state is first and again.outcome is Outcome.UNCHANGED
