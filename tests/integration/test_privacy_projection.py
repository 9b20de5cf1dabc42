"""The projections of personal data under Kafka's deliveries, with erasure at any point.

Whatever the order, the duplicates and the replays, and wherever during the delivery a
subject's key is destroyed, the rows and the timeline end as one in-order pass over the
same history gives after the erasure; and with no erasure, as the in-order pass before.
"""

from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.decode import decode
from domain import intercept as rules
from domain import policy as policies
from domain.commands import AttachEvidence, EraseSubject
from domain.envelope import Envelope
from domain.errors import DomainError
from domain.personal import buyer_subject, recipient_subject
from domain.types import Recipient
from domain.vocabulary import ERASED
from engine.privacy import DatabaseSubjectKeys, MasterKeys, Seals, new_master_key_text
from engine.relay import message
from projections.projector import Projector
from projections.schema import migrate
from storage.database import Database
from tests import builders as b
from tests.conftest import T0

_NOTES = st.sampled_from(["call 13800138000", "Zhang San, Room 301", "buyer asked twice"])
_RECIPIENT = Recipient(
    name="Li Si",
    phone="13900001111",
    province="Zhejiang",
    city="Hangzhou",
    district="Xihu",
    address="1 Wensan Road, Room 502",
)


def _seals() -> Seals:
    return Seals(
        DatabaseSubjectKeys(Database("sqlite:///:memory:"), MasterKeys.parse(new_master_key_text()))
    )


def _projector(seals: Seals) -> Projector:
    db = Database("sqlite:///:memory:")
    migrate(db)
    return Projector(db, seals)


def tables(projector: Projector) -> tuple:
    db = projector.db
    return (
        db.read("SELECT * FROM intercepts ORDER BY intercept_id"),
        db.read("SELECT * FROM intercept_events ORDER BY intercept_id, version"),
    )


@st.composite
def recorded(draw):
    """Histories with notes, sealed as the engine records them; and where the erasure of
    each erased order's buyer falls in the recording (None: never)."""
    seals = _seals()
    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    orders: dict[UUID, str] = {}
    log = []  # (event, erase-before-it) in recording order
    states = {}
    for n in range(draw(st.integers(1, 3))):
        iid = UUID(int=2000 + n)
        order = f"o{draw(st.integers(1, 2))}"  # two intercepts may share an order's buyer
        orders[iid] = order
        redirect = draw(st.booleans())
        request = b.request(
            key=f"k{n}",
            tracking_no=f"ZT{n}",
            order_id=order,
            action="redirect" if redirect else "return_to_sender",
            recipient=_RECIPIENT if redirect else None,
            note=draw(st.none() | _NOTES),
        )
        decision = rules.request(
            request, intercept_id=iid, existing=None, policy=policy, parcel_history=(), now=T0
        )
        states[iid] = decision.state
        log.append(decision.events[0])
    erase_at = draw(st.none() | st.integers(0, 8))
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(states)), st.sampled_from(["cancel", "evidence"]), _NOTES
            ),
            max_size=8,
        )
    )
    # Whom to erase: an order's buyer (all its intercepts), or one intercept's recipient.
    if draw(st.booleans()):
        erased_order = draw(st.sampled_from(sorted(set(orders.values()))))
        subject = buyer_subject("m1", erased_order)
        targets = sorted(i for i, o in orders.items() if o == erased_order)
    else:
        target = draw(st.sampled_from(sorted(orders)))
        subject, targets = recipient_subject(target), [target]
    plan: list = []
    for i, (iid, kind, note) in enumerate(steps):
        if i == erase_at:
            plan.append("erase")
        plan.append((iid, kind, note))
    if erase_at is not None and erase_at >= len(steps):
        plan.append("erase")
    for step in plan:
        if step == "erase":
            # As `intercept erase` does: the key first, then an Erased per intercept.
            log.append("destroy")
            for iid in targets:
                command = EraseSubject(
                    intercept_id=iid,
                    subject=subject,
                    actor="admin",
                    occurred_at=T0,
                )
                decision = rules.decide(states[iid], command, T0)
                states[iid] = decision.state
                log.extend(decision.events)
            continue
        iid, kind, note = step
        command = (
            b.cancel(iid, reason="other", note=note)
            if kind == "cancel"
            else AttachEvidence(
                intercept_id=iid,
                kind="screenshot",
                sha256="a" * 64,
                uri="x",
                note=note,
                actor="m1-staff",
                occurred_at=T0,
            )
        )
        try:
            decision = rules.decide(states[iid], command, T0)
        except DomainError:
            continue
        states[iid] = decision.state
        log.extend(decision.events)
    # Sealed in recording order: the erasure destroys the key at its point in the log,
    # and what is recorded for the subject after it is sealed under a new key.
    events, kept = [], {}
    for entry in log:
        if entry == "destroy":
            key_id, key = seals.keys.key_for(subject)
            kept[key_id] = (subject, key)
            seals.keys.destroy(subject)
            continue
        events.extend(seals.seal_events([entry], orders.get))
    return seals, events, kept, (subject, targets)


class _UntilErased:
    """The key store as a projection saw it while the erasure had not happened yet:
    the destroyed keys still open until `erase()`."""

    def __init__(self, seals: Seals, kept: dict) -> None:
        self.store = seals.keys
        self.kept = dict(kept)

    def erase(self) -> None:
        self.kept.clear()

    def key(self, key_id: str):
        return self.kept.get(key_id) or self.store.key(key_id)

    def has(self, key_id: str) -> bool:
        return key_id in self.kept or self.store.has(key_id)


def envelopes(events) -> list[Envelope]:
    return [decode(message(Envelope.of(e, position=n))["value"]) for n, e in enumerate(events, 1)]


_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60, deadline=None)


@_SETTINGS
@given(history=recorded(), data=st.data())
def test_any_delivery_with_erasure_anywhere_ends_as_the_in_order_pass(history, data):
    seals, events, kept, (subject, targets) = history
    messages = envelopes(events)
    reference = _projector(seals)  # after the erasure, if any, in order
    reference.apply(messages, {})
    extra = data.draw(st.lists(st.sampled_from(messages), max_size=len(messages)))
    noisy = data.draw(st.permutations(messages + extra))
    first_erased = next((i for i, m in enumerate(noisy) if m.event_type == "Erased"), len(noisy))
    # The key is destroyed before the Erased is recorded, so before it is delivered.
    erase_at = data.draw(st.integers(0, first_erased))
    keys = _UntilErased(seals, kept)
    projector = _projector(Seals(keys))  # type: ignore[arg-type]
    for i, envelope in enumerate(noisy):
        if i == erase_at:
            keys.erase()
        projector.apply([envelope], {})
    keys.erase()
    projector.apply(messages, {})  # a full replay on top changes nothing
    assert tables(projector) == tables(reference)
    # Nothing sealed by a destroyed key is left readable in the timeline.
    for line in tables(reference)[1]:
        for key_id in kept:
            assert key_id not in line["data"]
    # The recipient's columns are [erased] exactly where that recipient was erased.
    for row in tables(reference)[0]:
        erased_here = (
            bool(kept)
            and subject.startswith("recipient")
            and (UUID(row["intercept_id"]) in targets)
        )
        for part in ("name", "phone", "address"):
            value = row[f"recipient_{part}"]
            if value is not None:
                assert value == (ERASED if erased_here else getattr(_RECIPIENT, part))
