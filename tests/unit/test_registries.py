"""One registry of events and one of commands: declaring a type is registering it.

A type left out of a hand-kept list used to be written without error and then brick
its intercept on the next read; now there is no such list, and what the store or
Kafka brings that no class declares is refused with a typed error.
"""

import orjson
import pytest
from pydantic import BaseModel

from domain import catalog
from domain import event as event_module
from domain import intercept as rules
from domain.after_sale import AfterSaleEvent
from domain.commands import Command, InterceptCommand
from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope, UnknownEventType
from domain.errors import DomainError
from domain.event import Event, event_class, event_classes
from domain.events import CARRIER_EVENTS, INTERCEPT_EVENTS, InterceptEvent, Requested
from domain.parcel import InterceptOpened
from domain.past_events import RequestedV1
from domain.policy import PolicySet
from domain.vocabulary import CarrierReport
from engine.handlers import COMMAND_HANDLERS, handler_for
from engine.store.mapper import EventMapper
from projections import intercepts as rows
from tests import builders as b
from tests.conftest import T0


def _leaves(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= _leaves(sub) or {sub}
    return found


@pytest.fixture
def declared():
    """Declare a new event type for one test, then forget it again."""
    made: list[str] = []

    def declare(name: str, base: type[Event] = InterceptEvent) -> type[Event]:
        cls = type(name, (base,), {"__module__": __name__, "__annotations__": {}})
        made.append(name)
        return cls

    yield declare
    for name in made:
        event_module._REGISTRY.pop(name, None)


def test_declaring_an_event_class_registers_it_under_its_type_name(declared):
    cls = declared("CarrierDelayedForTest")
    assert catalog.EVENT_TYPES["CarrierDelayedForTest"] is cls
    assert catalog.stored_event_class("CarrierDelayedForTest") is cls
    assert event_class("CarrierDelayedForTest", InterceptEvent) is cls


def test_two_classes_cannot_claim_one_type_name(declared):
    declared("TwiceForTest")
    with pytest.raises(TypeError, match="declared twice"):
        declared("TwiceForTest")


def test_a_base_declared_abstract_is_no_event_type():
    assert "InterceptEvent" not in catalog.EVENT_TYPES
    assert "CarrierEvent" not in catalog.EVENT_TYPES
    assert "Event" not in catalog.EVENT_TYPES


def test_the_public_lists_are_read_from_the_registry():
    intercept_types = {
        n: c for n, c in catalog.EVENT_TYPES.items() if issubclass(c, InterceptEvent)
    }
    assert INTERCEPT_EVENT_TYPES == intercept_types
    assert list(INTERCEPT_EVENTS) == list(intercept_types.values())
    after_sales = set(event_classes(AfterSaleEvent))
    assert set(catalog.EVENT_TYPES.values()) == {
        *INTERCEPT_EVENTS,
        *after_sales,
        PolicySet,
        InterceptOpened,
    }
    assert {cls.report for cls in CARRIER_EVENTS.values()} == set(CarrierReport)


def test_past_payload_models_are_not_event_types():
    assert not issubclass(RequestedV1, Event)
    assert RequestedV1 not in catalog.EVENT_TYPES.values()
    assert all(issubclass(m, BaseModel) for m in Requested.past_payloads.values())


def test_every_declared_event_class_is_registered():
    """Every concrete Event subclass, however deep, is in the registry."""
    concrete = {c for c in _leaves(Event) if c.__module__.startswith("domain.")}
    assert concrete == set(catalog.EVENT_TYPES.values())


def test_a_stored_event_of_an_unknown_type_is_a_typed_refusal():
    with pytest.raises(UnknownEventType, match="unknown event type 'CarrierTeleported'"):
        EventMapper().event_of("CarrierTeleported", "0" * 32, 1, orjson.dumps({}))
    assert issubclass(UnknownEventType, DomainError)
    assert UnknownEventType.rule == "known_event_type"


def test_a_published_event_of_an_unknown_or_foreign_type_is_a_typed_refusal():
    envelope = Envelope.of(rules.evolve(None, _requested()).request, 1)
    for name in ("CarrierTeleported", "PolicySet"):  # a policy is no intercept event
        with pytest.raises(UnknownEventType, match=repr(name)):
            envelope.model_copy(update={"event_type": name}).event()


def test_every_event_after_the_request_changes_the_aggregate_and_the_row():
    later = set(INTERCEPT_EVENTS) - {Requested}
    assert set(rules._APPLY) == later
    assert set(rows._APPLY) == later


def test_every_command_type_has_one_handler():
    assert set(COMMAND_HANDLERS) == _leaves(Command)
    assert set(rules.DECIDERS) == _leaves(InterceptCommand)


def test_a_handler_reads_what_deciding_needs():
    request = b.request()
    reads = handler_for(request).reads(request)
    from domain.ids import intercept_id, parcel_id, policy_id

    assert reads == (intercept_id("m1", "k1"), policy_id("m1"), parcel_id("ZTO", "ZT1000"))
    unkeyed = b.request(key=None)
    assert handler_for(unkeyed).reads(unkeyed) == (policy_id("m1"), parcel_id("ZTO", "ZT1000"))
    cancel = b.cancel(intercept_id("m1", "k1"))
    assert handler_for(cancel).reads(cancel) == (intercept_id("m1", "k1"),)
    policy = b.policy()
    assert handler_for(policy).reads(policy) == (policy_id("m1"),)


def test_what_is_not_a_command_has_no_handler():
    with pytest.raises(TypeError, match="not a command"):
        handler_for("cancel everything")  # type: ignore[arg-type]


def _requested():
    from uuid import UUID

    from domain import policy as policies

    policy = policies.set_policy(None, b.policy(), policy_id=UUID(int=1), now=T0).state
    decision = rules.request(
        b.request(),
        intercept_id=UUID(int=2),
        existing=None,
        policy=policy,
        parcel_history=(),
        now=T0,
    )
    return decision.events[0]


def test_the_registry_answers_by_base_class():
    from domain.event import event_classes
    from domain.events import CarrierEvent

    assert list(event_classes(CarrierEvent)) == list(CARRIER_EVENTS.values())
    assert list(event_classes(InterceptEvent)) == list(INTERCEPT_EVENTS)
    assert set(event_classes(Event)) == set(catalog.EVENT_TYPES.values())


def test_a_base_declared_abstract_is_not_registered_but_its_subclasses_are(declared):
    class DraftForTest(InterceptEvent, abstract=True):
        pass

    try:
        assert "DraftForTest" not in catalog.EVENT_TYPES
        concrete = declared("ConcreteForTest", DraftForTest)
        assert catalog.EVENT_TYPES["ConcreteForTest"] is concrete
    finally:
        event_module._REGISTRY.pop("DraftForTest", None)


def test_an_unknown_type_says_what_to_do():
    with pytest.raises(UnknownEventType) as refused:
        catalog.stored_event_class("CarrierTeleported")
    assert refused.value.message == (
        "unknown event type 'CarrierTeleported': no Event of that name is declared "
        "in this engine; upgrade it before reading newer events"
    )
