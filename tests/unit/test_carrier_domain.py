"""The carrier's answers in the domain: eligibility, rejections, the return journey, flags,
and carriers as configuration."""

from uuid import UUID

import pytest
from pydantic import ValidationError

from domain import intercept as rules
from domain import lifecycle
from domain import policy as policies
from domain.errors import AlreadySigned, NotPickedUp, ParcelAlreadyIntercepted
from domain.events import CarrierRejected, Requested
from domain.vocabulary import CarrierReport, Conflict, Flag, Status
from engine.carrier_catalog import CarrierRefused, CatalogError, built_in, load_catalog
from tests import builders as b
from tests.conftest import T0

IID = UUID(int=77)


def _policy(*carriers: str):
    command = b.policy(carriers=frozenset(carriers or {"ZTO", "SF"}))
    return policies.set_policy(None, command, policy_id=UUID(int=1), now=T0).state


def _requested(history=(), policy=None, **changes):
    return rules.request(
        b.request(**changes),
        intercept_id=IID,
        existing=None,
        policy=policy or _policy(),
        parcel_history=history,
        now=T0,
    ).state


def _after(state, *reports, **changes):
    for report in reports:
        state = rules.decide(state, b.carrier(state.id, report, **changes), T0).state
    return state


def test_before_pickup_a_request_is_refused_saying_cancel_the_shipment():
    with pytest.raises(NotPickedUp, match="cancel the shipment instead") as caught:
        _requested(parcel_stage="not_picked_up")
    assert caught.value.rule == "no_intercept_before_pickup"


def test_after_signing_a_request_is_refused():
    with pytest.raises(AlreadySigned, match="too late"):
        _requested(parcel_stage="signed")


def test_out_for_delivery_is_taken_but_flagged_likely_to_fail():
    assert _requested(parcel_stage="out_for_delivery").flags == {Flag.LIKELY_TO_FAIL}
    assert _requested(parcel_stage="in_transit").flags == frozenset()


def test_a_rejection_records_its_code_and_ends_the_intercept():
    state = _after(_requested(), "rejected", code="already_signed")
    assert state.status is Status.REJECTED and state.rejection_code.value == "already_signed"
    assert isinstance(state.keys.get("x"), type(None))
    assert lifecycle.status_after(Status.REJECTED, lifecycle.Move.CANCEL) is Status.REJECTED


def test_a_rejection_because_another_channel_stopped_it_counts_as_intercepted():
    earlier = _after(_requested(), "rejected", code="already_intercepted_other_channel")
    assert earlier.was_intercepted
    with pytest.raises(ParcelAlreadyIntercepted):
        _requested(history=(earlier,), key="k2")


def test_a_rejection_for_other_reasons_lets_the_parcel_be_requested_again():
    earlier = _after(_requested(), "rejected", code="conditions_not_met")
    assert not earlier.was_intercepted
    assert _requested(history=(earlier,), key="k2").status is Status.REQUESTED


def test_the_return_journey_follows_a_success():
    state = _after(_requested(), "confirmed", "returning", "returned")
    assert state.status is Status.RETURNED and state.conflicts == ()
    assert state.was_intercepted
    redirect = _after(
        _requested(action="redirect", recipient=b.RECIPIENT),
        "confirmed",
        "delivered_to_new_address",
    )
    assert redirect.status is Status.DELIVERED_TO_NEW_ADDRESS


@pytest.mark.parametrize("before", [(), ("accepted",)])
@pytest.mark.parametrize("step", ["returning", "returned"])
def test_a_journey_step_before_the_success_implies_it(before, step):
    """Carriers reorder callbacks: the step proves the parcel was stopped."""
    state = _after(_requested(), *before, step)
    assert state.status is Status(step) and state.conflicts == ()
    assert state.succeeded and state.was_intercepted
    late = rules.decide(state, b.carrier(state.id, "confirmed"), T0)
    assert late.outcome.value == "stale" and late.events == ()


def test_a_journey_step_after_a_failure_is_a_contradiction():
    failed = _after(_requested(), "failed", "returned")
    assert failed.conflicts == (Conflict.CONTRADICTORY_CARRIER_REPORTS,)
    assert failed.status is Status.FAILED
    refused = _after(_after(_requested(), "rejected", code="conditions_not_met"), "returning")
    assert refused.conflicts == (Conflict.CONTRADICTORY_CARRIER_REPORTS,)


def test_a_journey_step_before_the_success_on_a_cancelled_intercept_crossed_the_cancel():
    cancelled = rules.decide(_requested(), b.cancel(IID), T0).state
    state = _after(cancelled, "returning", "confirmed", "returned")
    assert state.status is Status.CANCELLED
    assert state.conflicts == (Conflict.INTERCEPTED_AFTER_CANCEL,)
    released = _after(cancelled, "released", "returning")
    assert released.conflicts == (Conflict.CONTRADICTORY_CARRIER_REPORTS,)


def test_a_step_back_on_the_journey_is_stale():
    state = _after(_requested(), "confirmed", "returned")
    for report in ("returning", "confirmed"):
        decision = rules.decide(state, b.carrier(state.id, report), T0)
        assert decision.outcome.value == "stale" and decision.events == ()


def test_a_cancelled_intercept_stopped_anyway_keeps_its_status_on_the_journey():
    state = rules.decide(_requested(), b.cancel(IID), T0).state
    state = _after(state, "confirmed", "returning", "returned")
    assert state.status is Status.CANCELLED
    assert state.conflicts == (Conflict.INTERCEPTED_AFTER_CANCEL,)


def test_an_intercept_fee_before_any_success_is_flagged_until_one_comes():
    state = rules.decide(_requested(), b.fee(IID, kind="intercept"), T0).state
    assert Flag.FEE_WITHOUT_SUCCESS in state.flags
    assert Flag.FEE_WITHOUT_SUCCESS not in _after(state, "confirmed").flags
    other = rules.decide(_requested(), b.fee(IID, kind="storage"), T0).state
    assert other.flags == frozenset()
    succeeded = _after(_requested(), "confirmed")
    paid = rules.decide(succeeded, b.fee(IID, kind="intercept", payer="buyer"), T0).state
    assert paid.flags == frozenset()


def test_an_unreachable_carrier_is_flagged_until_it_answers():
    from domain.commands import RecordCarrierUnreachable

    command = RecordCarrierUnreachable(
        intercept_id=IID, attempts=8, last_error="timeout", actor="gateway", occurred_at=T0, key="u"
    )
    decision = rules.decide(_requested(), command, T0)
    assert decision.events[0].attempts == 8
    assert decision.state.flags == {Flag.CARRIER_UNREACHABLE}
    assert rules.decide(decision.state, command, T0).outcome.value == "duplicate"
    assert _after(decision.state, "accepted").flags == frozenset()


def test_a_rejection_needs_a_code_and_only_a_rejection_takes_one():
    with pytest.raises(ValidationError, match="rejection needs a code"):
        b.carrier(IID, "rejected", code=None)
    with pytest.raises(ValidationError, match="rejection needs a code"):
        b.carrier(IID, "confirmed", code="already_signed")
    assert CarrierRejected.report is CarrierReport.REJECTED


@pytest.mark.parametrize(
    ("part", "value"),
    [("phone", "not a phone"), ("phone", "12"), ("name", " "), ("city", ""), ("name", "a\nb")],
)
def test_a_recipient_is_strict(part, value):
    with pytest.raises(ValidationError, match=f"recipient.{part}"):
        b.request(action="redirect", recipient={**b.RECIPIENT.model_dump(), part: value})


def test_only_a_redirect_takes_a_recipient():
    with pytest.raises(ValidationError, match="only a redirect takes one"):
        b.request(recipient=b.RECIPIENT)


def test_the_built_in_catalog_has_the_eight_carriers_without_connections():
    catalog = built_in()
    assert catalog.codes == ("ZTO", "YTO", "STO", "YD", "JT", "SF", "JD", "EMS")
    assert all(e.connection is None for e in catalog.entries.values())
    assert load_catalog(None) == catalog


def test_a_carrier_added_by_a_settings_file_is_requested_with_no_new_version(tmp_path):
    path = tmp_path / "carriers.toml"
    path.write_text(
        '[[carrier]]\ncode = "DBL"\nname = "Deppon"\nadapter = "generic"\n'
        '[carrier.capabilities]\nactions = ["return_to_sender"]\nquotes_fees = true\n'
        '[carrier.connection]\nbase_url = "http://127.0.0.1:9"\nsecret_env = "DBL_SECRET"\n'
    )
    catalog = load_catalog(path)
    assert catalog.codes == ("DBL",)
    entry = catalog.admit("DBL", b.request().action)
    assert entry.capabilities.quotes_fees and entry.connection.secret({"DBL_SECRET": "s"}) == "s"
    with pytest.raises(CarrierRefused) as refused:
        catalog.admit("DBL", b.request(action="redirect", recipient=b.RECIPIENT).action)
    assert refused.value.field == "action"
    with pytest.raises(CarrierRefused) as unknown:
        catalog.admit("ZTO", b.request().action)
    assert unknown.value.field == "carrier"
    version = Requested.class_version
    state = _requested(
        policy=_policy("DBL"), carrier="DBL", tracking_no="DB1", quoted_fee_minor=300
    )
    assert state.carrier == "DBL" and state.request.quoted_fee_minor == 300
    assert Requested.class_version == version == 5


def test_a_bad_carriers_file_says_what_is_wrong(tmp_path):
    path = tmp_path / "carriers.toml"
    path.write_text('[[carrier]]\ncode = "dbl"\nname = "x"\n')
    with pytest.raises(CatalogError, match=r"carrier\[0\]\.code"):
        load_catalog(path)
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.toml")
