"""What each command reads and how it is decided, one entry per command type.

The application looks a command's handler up by `type(command)`: adding a command
means adding its entry here, not a branch in every place that dispatches.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import intercept as intercepts
from domain import parcel as parcels
from domain import policy as policies
from domain.commands import Command, InterceptCommand, RequestIntercept, SetPolicy
from domain.decision import Decision
from domain.errors import UnknownIntercept
from domain.ids import intercept_id, parcel_id, policy_id
from domain.intercept import InterceptRequest
from domain.parcel import Parcel
from engine.batch import Read

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Handler:
    reads: Callable[[Any], tuple[UUID, ...]]
    """The aggregates deciding the command reads, as far as the command alone tells: a
    batch reads them all in one query before deciding."""
    decide: Callable[[Any, Read, Clock], Decision[Any]]
    """The decision against the state `read` gives; records nothing."""


def _policy_reads(command: SetPolicy) -> tuple[UUID, ...]:
    return (policy_id(command.merchant_id),)


def _decide_policy(command: SetPolicy, read: Read, clock: Clock) -> Decision[Any]:
    pid = policy_id(command.merchant_id)
    return policies.set_policy(
        read(pid, policies.project_policy), command, policy_id=pid, now=clock()
    )


def _request_reads(command: RequestIntercept) -> tuple[UUID, ...]:
    parcel = parcel_id(command.carrier, command.tracking_no)
    policy = policy_id(command.merchant_id)
    if command.key is None:
        return (policy, parcel)
    return (intercept_id(command.merchant_id, command.key), policy, parcel)


def _decide_request(command: RequestIntercept, read: Read, clock: Clock) -> Decision[Any]:
    if command.key is None:
        raise ValueError("a request needs an idempotency key")
    iid = intercept_id(command.merchant_id, command.key)
    existing = read(iid, intercepts.project_intercept)
    if existing is not None:
        return intercepts.request(
            command,
            intercept_id=iid,
            existing=existing,
            policy=None,
            parcel_history=(),
            now=clock(),
        )
    policy = policies.require_policy(
        read(policy_id(command.merchant_id), policies.project_policy), command.merchant_id
    )
    pid = parcel_id(command.carrier, command.tracking_no)
    parcel: Parcel | None = read(pid, parcels.project_parcel)
    history = [intercept(read, i) for i in parcel.intercept_ids] if parcel else []
    now = clock()
    decision = intercepts.request(
        command,
        intercept_id=iid,
        existing=None,
        policy=policy,
        parcel_history=history,
        now=now,
    )
    opened = parcels.open_intercept(
        parcel,
        parcel_id=pid,
        carrier=command.carrier,
        tracking_no=command.tracking_no,
        intercept_id=iid,
        now=now,
    )
    return Decision((*decision.events, opened), decision.outcome, decision.state)


def _intercept_reads(command: InterceptCommand) -> tuple[UUID, ...]:
    return (command.intercept_id,)


def _decide_change(command: InterceptCommand, read: Read, clock: Clock) -> Decision[Any]:
    return intercepts.decide(intercept(read, command.intercept_id), command, clock())


COMMAND_HANDLERS: dict[type[Command], Handler] = {
    SetPolicy: Handler(_policy_reads, _decide_policy),
    RequestIntercept: Handler(_request_reads, _decide_request),
    **{
        command_type: Handler(_intercept_reads, _decide_change)
        for command_type in intercepts.DECIDERS
    },
}


def handler_for(command: Command) -> Handler:
    handler = COMMAND_HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"not a command: {command!r}")
    return handler


def intercept(read: Read, iid: UUID) -> InterceptRequest:
    state: InterceptRequest | None = read(iid, intercepts.project_intercept)
    if state is None:
        raise UnknownIntercept(f"no intercept with id {iid}")
    return state
