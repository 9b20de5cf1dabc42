"""What each command reads and how it is decided, one entry per command type.

The application looks a command's handler up by `type(command)`: adding a command
means adding its entry here, not a branch in every place that dispatches.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import after_sale as after_sales
from domain import intercept as intercepts
from domain import lifecycle
from domain import parcel as parcels
from domain import policy as policies
from domain.commands import (
    ApplyAutoRule,
    ChangeAfterSaleStatus,
    Command,
    FlagIntercept,
    InterceptCommand,
    ReportAfterSale,
    RequestIntercept,
    SetPolicy,
)
from domain.decision import Decision, Outcome
from domain.errors import DomainError, UnknownIntercept
from domain.event import Event
from domain.events import InterceptFlagged
from domain.ids import after_sale_id, intercept_id, parcel_id, policy_id
from domain.intercept import InterceptRequest
from domain.parcel import Parcel
from domain.vocabulary import Flag
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


def _after_sale_reads(command: ReportAfterSale | ApplyAutoRule) -> tuple[UUID, ...]:
    return (after_sale_id(command.merchant_id, command.after_sale_id),)


def _decide_after_sale(command: ReportAfterSale, read: Read, clock: Clock) -> Decision[Any]:
    aid = after_sale_id(command.merchant_id, command.after_sale_id)
    return after_sales.report(
        read(aid, after_sales.project_after_sale), command, after_sale_id=aid, now=clock()
    )


def _decide_auto_rule(command: ApplyAutoRule, read: Read, clock: Clock) -> Decision[Any]:
    """The automatic rule on an after-sale's latest undecided report, recorded with its
    effects (the intercept's events) in one transaction, so it takes effect once."""
    aid = after_sale_id(command.merchant_id, command.after_sale_id)
    state: after_sales.AfterSale | None = read(aid, after_sales.project_after_sale)
    if state is None or not state.undecided:
        return Decision((), Outcome.DUPLICATE, state)
    now = clock()
    if state.intercept_id is not None:
        effects = _follow_up(state, command, read, clock)
        flagged = next((e.flag for e in effects if isinstance(e, InterceptFlagged)), None)
        decided = after_sales.followed(state, flagged, command.occurred_at, now)
        return Decision((*effects, decided), Outcome.RECORDED, after_sales.evolve(state, decided))
    try:
        request = after_sales.auto_request(
            state,
            read(policy_id(command.merchant_id), policies.project_policy),
            command.occurred_at,
        )
        made = _decide_request(request, read, clock)
    except after_sales.Stopped as stopped:
        decided = after_sales.declined(state, stopped, command.occurred_at, now)
        return Decision((decided,), Outcome.RECORDED, after_sales.evolve(state, decided))
    except DomainError as refusal:
        why = after_sales.Stopped(refusal.rule, refusal.message)
        decided = after_sales.declined(state, why, command.occurred_at, now)
        return Decision((decided,), Outcome.RECORDED, after_sales.evolve(state, decided))
    decided = after_sales.requested(state, made.state.id, command.occurred_at, now)
    return Decision((*made.events, decided), Outcome.RECORDED, after_sales.evolve(state, decided))


def _follow_up(
    state: after_sales.AfterSale, command: ApplyAutoRule, read: Read, clock: Clock
) -> list[Event]:
    """A later report on an after-sale whose intercept the rule requested: its status goes
    to the intercept, and a withdrawal while the intercept is open raises a flag. Never a
    cancel: a cancel is irreversible, and the merchant decides it."""
    assert state.intercept_id is not None
    current = intercept(read, state.intercept_id)
    key = f"{after_sales.auto_key(state.report.after_sale_id)}:{state.report_version}"
    effects: list[Event] = []
    status = ChangeAfterSaleStatus(
        intercept_id=current.id,
        after_sale_status=state.report.status,
        key=f"{key}:status",
        actor=after_sales.AUTO_ACTOR,
        occurred_at=command.occurred_at,
    )
    changed = intercepts.decide(current, status, clock())
    effects.extend(changed.events)
    current = changed.state
    if state.report.status in after_sales.WITHDRAWN and lifecycle.is_open(current.status):
        flag = FlagIntercept(
            intercept_id=current.id,
            flag=Flag.AFTER_SALE_WITHDRAWN,
            note=f"the buyer withdrew after-sale {state.report.after_sale_id} "
            f"({state.report.status}); cancel the intercept if the parcel should go on",
            key=f"{key}:flag",
            actor=after_sales.AUTO_ACTOR,
            occurred_at=command.occurred_at,
        )
        effects.extend(intercepts.decide(current, flag, clock()).events)
    return effects


COMMAND_HANDLERS: dict[type[Command], Handler] = {
    SetPolicy: Handler(_policy_reads, _decide_policy),
    RequestIntercept: Handler(_request_reads, _decide_request),
    ReportAfterSale: Handler(_after_sale_reads, _decide_after_sale),
    ApplyAutoRule: Handler(_after_sale_reads, _decide_auto_rule),
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
