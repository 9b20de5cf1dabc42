"""A merchant's intercept policy: which amounts and carriers may be intercepted."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from uuid import UUID

from domain.commands import RequestIntercept, SetPolicy
from domain.decision import Decision, Outcome
from domain.errors import AmountOutsidePolicy, CarrierNotEnabled, NoPolicy
from domain.event import Event
from domain.types import CarrierCode, Code, MinorAmount, Moment
from domain.vocabulary import AfterSaleStatus, Deadline


class PolicySet(Event):
    merchant_id: Code
    min_amount_minor: MinorAmount
    max_amount_minor: MinorAmount
    carriers: tuple[CarrierCode, ...]
    actor: Code
    occurred_at: Moment
    # Added later, optional: policies set before them have no automatic rule, no deadline.
    auto_intercept: tuple[AfterSaleStatus, ...] = ()
    accept_within_minutes: int | None = None
    outcome_within_minutes: int | None = None


@dataclass(frozen=True)
class InterceptPolicy:
    id: UUID
    version: int
    merchant_id: str
    min_amount_minor: int
    max_amount_minor: int
    carriers: tuple[CarrierCode, ...]
    updated_by: str
    auto_intercept: tuple[AfterSaleStatus, ...] = ()
    accept_within_minutes: int | None = None
    outcome_within_minutes: int | None = None

    def deadlines(self) -> dict[Deadline, int]:
        """The deadlines this policy sets, in minutes."""
        return {d: m for d, m in deadline_minutes(self).items() if m is not None}

    def admits(self, command: RequestIntercept) -> None:
        """Raise the rule a request breaks, if any."""
        if command.carrier not in self.carriers:
            enabled = ", ".join(self.carriers)
            raise CarrierNotEnabled(
                f"carrier {command.carrier} is not enabled for interception by merchant "
                f"{self.merchant_id} (enabled: {enabled})"
            )
        if not self.min_amount_minor <= command.amount_minor <= self.max_amount_minor:
            raise AmountOutsidePolicy(
                f"order amount {format_minor(command.amount_minor)} is outside merchant "
                f"{self.merchant_id}'s intercept interval "
                f"{format_minor(self.min_amount_minor)}..{format_minor(self.max_amount_minor)}"
            )


def format_minor(amount_minor: int) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def require_policy(policy: InterceptPolicy | None, merchant_id: str) -> InterceptPolicy:
    if policy is None:
        raise NoPolicy(
            f"merchant {merchant_id} has no intercept policy, so no parcel may be "
            "intercepted; an operator must set one first"
        )
    return policy


def set_policy(
    policy: InterceptPolicy | None, command: SetPolicy, *, policy_id: UUID, now: Moment
) -> Decision[InterceptPolicy | None]:
    carriers = tuple(sorted(command.carriers))
    auto = tuple(sorted(command.auto_intercept))
    if policy is not None and (
        policy.min_amount_minor,
        policy.max_amount_minor,
        policy.carriers,
        policy.auto_intercept,
        policy.accept_within_minutes,
        policy.outcome_within_minutes,
    ) == (
        command.min_amount_minor,
        command.max_amount_minor,
        carriers,
        auto,
        command.accept_within_minutes,
        command.outcome_within_minutes,
    ):
        return Decision((), Outcome.UNCHANGED, policy)
    event = PolicySet(
        originator_id=policy_id,
        originator_version=(policy.version if policy else 0) + 1,
        recorded_at=now,
        merchant_id=command.merchant_id,
        min_amount_minor=command.min_amount_minor,
        max_amount_minor=command.max_amount_minor,
        carriers=carriers,
        actor=command.actor,
        occurred_at=command.occurred_at,
        auto_intercept=auto,
        accept_within_minutes=command.accept_within_minutes,
        outcome_within_minutes=command.outcome_within_minutes,
    )
    return Decision((event,), Outcome.RECORDED, evolve(policy, event))


def deadline_minutes(policy: "InterceptPolicy | PolicySet") -> dict[Deadline, int | None]:
    """Every deadline and the minutes a policy (or the event setting it) gives it; None
    for one it does not set."""
    return {
        Deadline.ACCEPTANCE: policy.accept_within_minutes,
        Deadline.OUTCOME: policy.outcome_within_minutes,
    }


def evolve(policy: InterceptPolicy | None, event: PolicySet) -> InterceptPolicy:
    if policy is None:
        return InterceptPolicy(
            id=event.originator_id,
            version=event.originator_version,
            merchant_id=event.merchant_id,
            min_amount_minor=event.min_amount_minor,
            max_amount_minor=event.max_amount_minor,
            carriers=event.carriers,
            updated_by=event.actor,
            auto_intercept=event.auto_intercept,
            accept_within_minutes=event.accept_within_minutes,
            outcome_within_minutes=event.outcome_within_minutes,
        )
    return replace(
        policy,
        version=event.originator_version,
        min_amount_minor=event.min_amount_minor,
        max_amount_minor=event.max_amount_minor,
        carriers=event.carriers,
        updated_by=event.actor,
        auto_intercept=event.auto_intercept,
        accept_within_minutes=event.accept_within_minutes,
        outcome_within_minutes=event.outcome_within_minutes,
    )


def project_policy(
    policy: InterceptPolicy | None, events: Iterable[PolicySet]
) -> InterceptPolicy | None:
    for event in events:
        policy = evolve(policy, event)
    return policy
