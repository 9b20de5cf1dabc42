"""What a command handler returns: the events to record and what they mean."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from domain.event import Event

S = TypeVar("S")


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # same idempotency key, same command: nothing new
    ALREADY_CANCELLED = "already_cancelled"
    STALE = "stale"  # a carrier report that would move the state backwards
    UNCHANGED = "unchanged"  # asked for what is already so


@dataclass(frozen=True)
class Decision(Generic[S]):
    events: tuple[Event, ...]
    outcome: Outcome
    state: S  # the aggregate after the events
