"""Hypothesis strategies that draw valid commands' and events' field values."""

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from domain.events import (
    Cancelled,
    CarrierFailed,
    Erased,
    EvidenceAttached,
    FeeCharged,
    Requested,
)
from domain.personal import Sealed
from domain.types import Recipient, RecordedRecipient
from domain.vocabulary import Action, CancelReason, CarrierReport, ParcelStage

codes = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,20}\Z")
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x7f"),
    max_size=40,
)
zones = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-14 * 60, 14 * 60))
moments = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2199, 12, 30), timezones=zones
)
amounts = st.integers(min_value=0, max_value=10**12)
currencies = st.from_regex(r"\A[A-Z]{3}\Z")
digests = st.from_regex(r"\A[0-9a-f]{64}\Z")
subjects = st.from_regex(r"\A(buyer|recipient)-[0-9a-f]{32}\Z")
sealed = st.builds(
    Sealed,
    subject=subjects,
    key_id=st.from_regex(r"\Ak_[0-9a-f]{32}\Z"),
    ciphertext=st.from_regex(r"\A[A-Za-z0-9_-]{38,80}\Z"),
)
"""A personal field as recorded and published (docs/privacy.md)."""

_COMMON = dict(
    merchant_id=codes,
    actor=codes,
    occurred_at=moments,
    recorded_at=moments,
    idempotency_key=st.none() | codes,
    originator_version=st.integers(1, 10**6),
)


_lines = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x7f"),
    min_size=1,
    max_size=20,
).filter(lambda t: bool(t.strip()))
recipients = st.builds(
    Recipient,
    name=_lines,
    phone=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
    province=_lines,
    city=_lines,
    district=_lines,
    address=_lines,
)
sealed_recipients = st.builds(
    RecordedRecipient,
    name=sealed,
    phone=sealed,
    province=sealed,
    city=sealed,
    district=sealed,
    address=sealed,
)
"""A recipient as recorded and published: every part sealed (docs/privacy.md)."""
carrier_codes = st.from_regex(r"\A[A-Z][A-Z0-9]{1,15}\Z")


def _requested() -> st.SearchStrategy:
    redirect = st.builds(
        Requested, action=st.just(Action.REDIRECT), recipient=sealed_recipients, **_fields()
    )
    other = st.builds(
        Requested,
        action=st.sampled_from([a for a in Action if a is not Action.REDIRECT]),
        recipient=st.none(),
        **_fields(),
    )
    return redirect | other


def _fields() -> dict:
    return dict(
        _COMMON,
        order_id=codes,
        tracking_no=codes,
        carrier=carrier_codes,
        amount_minor=amounts,
        currency=currencies,
        request_reason=codes,
        note=st.none() | sealed,
        quoted_fee_minor=st.none() | amounts,
        parcel_stage=st.sampled_from(ParcelStage),
    )


def _cancelled() -> st.SearchStrategy:
    with_note = st.builds(
        Cancelled,
        reason=st.just(CancelReason.OTHER),
        note=sealed,
        **_COMMON,
    )
    plain = st.builds(
        Cancelled,
        reason=st.sampled_from([r for r in CancelReason if r is not CancelReason.OTHER]),
        note=st.none() | sealed,
        **_COMMON,
    )
    return with_note | plain


SPECIAL = {
    Requested: _requested,
    Cancelled: _cancelled,
    FeeCharged: lambda: st.builds(FeeCharged, amount_minor=amounts, currency=currencies, **_COMMON),
    EvidenceAttached: lambda: st.builds(
        EvidenceAttached, sha256=digests, uri=texts, note=st.none() | sealed, **_COMMON
    ),
    Erased: lambda: st.builds(Erased, subject=subjects, **_COMMON),
    CarrierFailed: lambda: st.builds(CarrierFailed, carrier_ref=st.none() | codes, **_COMMON),
}


def events_of(cls) -> st.SearchStrategy:
    """Valid instances of any event class."""
    if cls in SPECIAL:
        return SPECIAL[cls]()
    fields = {k: v for k, v in _COMMON.items() if k in cls.model_fields}
    for name, strategy in (
        ("carrier_ref", st.none() | codes),
        ("tracking_no", codes),
        ("currency", currencies),
        ("order_id", codes),
        ("after_sale_id", codes),
        ("amount_minor", amounts),
        ("rule", codes),
        ("min_amount_minor", st.just(0)),
        ("max_amount_minor", amounts),
        ("carrier", carrier_codes),
        ("carriers", st.lists(carrier_codes, max_size=3).map(tuple)),
        ("last_error", texts),
        ("message", st.none() | texts),
    ):
        if name in cls.model_fields:
            fields[name] = strategy
    if "message" in cls.model_fields and cls.model_fields["message"].is_required():
        fields["message"] = texts
    return st.builds(cls, **fields)


@st.composite
def histories(draw, max_intercepts: int = 4, max_steps: int = 8) -> list:
    """Valid event histories of several intercepts, made by the domain's own decisions."""
    from uuid import UUID

    from domain import intercept as rules
    from domain import policy as policies
    from domain.errors import DomainError
    from tests import builders as b
    from tests.conftest import T0

    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    events = []
    for n in range(draw(st.integers(1, max_intercepts))):
        iid = UUID(int=1000 + n)
        request = b.request(
            key=f"k{n}",
            tracking_no=f"ZT{n}",
            after_sale_status=draw(st.sampled_from(["none", "refund_requested"])),
        )
        state = rules.request(
            request, intercept_id=iid, existing=None, policy=policy, parcel_history=(), now=T0
        ).state
        mine = [state.request]
        for step in draw(
            st.lists(
                st.sampled_from(["cancel", "fee", *CarrierReport]),
                max_size=max_steps,
            )
        ):
            command = (
                b.cancel(iid)
                if step == "cancel"
                else b.fee(iid)
                if step == "fee"
                else b.carrier(iid, step)
            )
            try:
                decision = rules.decide(state, command, T0)
            except DomainError:
                continue
            mine.extend(decision.events)
            state = decision.state
        events.append(mine)
    # Interleave the intercepts' histories the way a shared log would.
    merged = []
    while any(events):
        i = draw(st.sampled_from([k for k, e in enumerate(events) if e]))
        merged.append(events[i].pop(0))
    return merged


_STEPS = ["cancel", "fee", "evidence", "after_sale", "unreachable", *CarrierReport]


def _step_command(draw, iid, step: str, occurred_at, key):
    from domain.commands import AttachEvidence, ChangeAfterSaleStatus
    from domain.vocabulary import AfterSaleStatus
    from tests import builders as b

    if step == "cancel":
        return b.cancel(iid, occurred_at=occurred_at, key=key)
    if step == "fee":
        from domain.vocabulary import FeeKind, Payer

        return b.fee(
            iid,
            kind=draw(st.sampled_from(FeeKind)),
            payer=draw(st.sampled_from(Payer)),
            occurred_at=occurred_at,
            key=key,
        )
    if step == "unreachable":
        from domain.commands import RecordCarrierUnreachable

        return RecordCarrierUnreachable(
            intercept_id=iid,
            attempts=draw(st.integers(1, 9)),
            last_error="timeout",
            actor="gateway",
            occurred_at=occurred_at,
            key=key,
        )
    if step == "evidence":
        return AttachEvidence(
            intercept_id=iid,
            kind="screenshot",
            sha256=draw(st.sampled_from("ab")) * 64,
            uri="shot.png",
            actor="m1-staff",
            occurred_at=occurred_at,
            key=key,
        )
    if step == "after_sale":
        return ChangeAfterSaleStatus(
            intercept_id=iid,
            after_sale_status=draw(st.sampled_from(AfterSaleStatus)),
            actor="m1-staff",
            occurred_at=occurred_at,
            key=key,
        )
    if step == "rejected":
        from domain.vocabulary import RejectionCode

        code = draw(st.sampled_from(RejectionCode))
        return b.carrier(iid, step, code=code, occurred_at=occurred_at, key=key)
    return b.carrier(iid, step, occurred_at=occurred_at, key=key)


@st.composite
def timed_history(draw, iid=None, max_steps: int = 10) -> list:
    """One intercept's history as the domain decides it, with the parties' clocks anywhere.

    `occurred_at` is drawn within days either side of the request, so a carrier may date
    a report before the merchant's request; `recorded_at` only moves forward. Keys repeat
    now and then, so retries are part of the history too.
    """
    from uuid import UUID

    from domain import intercept as rules
    from domain import policy as policies
    from domain.errors import DomainError
    from tests import builders as b
    from tests.conftest import T0

    iid = iid or UUID(int=7)
    around = st.integers(-3 * 86_400, 3 * 86_400).map(lambda s: T0 + timedelta(seconds=s))
    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    recorded = T0
    requested = draw(around)
    # Before the request by up to a week, on the buckets' edges now and then, or not known.
    before = st.sampled_from([0, 86_399, 86_400, 259_199, 259_200]) | st.integers(0, 7 * 86_400)
    picked_up = draw(st.none() | before.map(lambda s: requested - timedelta(seconds=s)))
    state = rules.request(
        b.request(
            occurred_at=requested,
            parcel_stage=draw(st.sampled_from(["in_transit", "out_for_delivery", "unknown"])),
            picked_up_at=picked_up,
        ),
        intercept_id=iid,
        existing=None,
        policy=policy,
        parcel_history=(),
        now=recorded,
    ).state
    events = [state.request]
    for step in draw(st.lists(st.sampled_from(_STEPS), max_size=max_steps)):
        recorded += timedelta(seconds=draw(st.integers(1, 3_600)))
        key = draw(st.none() | st.sampled_from(["r1", "r2"]))
        command = _step_command(draw, iid, step, draw(around), key)
        try:
            decision = rules.decide(state, command, recorded)
        except DomainError:
            continue
        events.extend(decision.events)
        state = decision.state
    return events
