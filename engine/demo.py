"""A deterministic simulation of merchants, carriers and parcels: the engine's main job.

The plan is a list of timed commands made from a seed; running it replays them
in time order through the engine with a simulated clock, so the same seed and
start always give the same events, ids and projection rows.
"""

import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from carriers.simulator import Timing, simulated_carriers_file
from domain.after_sale import auto_key
from domain.commands import (
    AttachEvidence,
    CancelIntercept,
    ChangeAfterSaleStatus,
    ChargeFee,
    Command,
    ReportAfterSale,
    ReportCarrierOutcome,
    RequestIntercept,
    SetPolicy,
)
from domain.decision import Decision
from domain.errors import DomainError
from domain.ids import intercept_id
from domain.types import Recipient
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    CarrierReport,
    EvidenceKind,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
)

# The seed document's cancel reasons, roughly as often as merchants give them.
_CANCEL_REASONS = (
    [CancelReason.MISOPERATION] * 4
    + [CancelReason.BUYER_CHANGED_MIND] * 4
    + [CancelReason.WRONG_TRACKING_OR_ADDRESS] * 2
    + [CancelReason.FORCE_MAJEURE]
)
_REQUEST_REASONS = ["buyer_refund", "buyer_return", "wrong_item", "address_error", "fraud_risk"]


@dataclass(frozen=True, order=True)
class Step:
    at: datetime
    seq: int
    command: Command = field(compare=False)


class SimulatedClock:
    """The engine's clock during a demo: it reads the plan's time, never the wall."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current


@dataclass
class DemoReport:
    steps: int = 0
    outcomes: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)
    after_sales: Counter = field(default_factory=Counter)
    """What the automatic rule did: `requested`, or the rule that stopped it."""


DEADLINE_TICK = timedelta(minutes=10)
"""How often, in simulated time, the demo's deadline process looks for what is due."""

DRAIN = timedelta(days=2)
"""How long the carriers go on after the last merchant step: returns take a day or more."""


def span(orders: int, seed: int) -> timedelta:
    """How long the simulation of these orders runs, from its start to its last carrier step."""
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    # The engine's clock runs a little after each step's time (see `run`).
    last = max(step.at for step in plan(orders, seed, anchor))
    return last - anchor + DRAIN + timedelta(seconds=1)


def plan(orders: int, seed: int, start: datetime) -> list[Step]:
    rng = random.Random(seed)
    steps: list[Step] = []

    def at(moment: datetime, command: Command) -> None:
        steps.append(Step(moment, len(steps), command))

    merchants: dict[str, list[Carrier]] = {}
    automatic: set[str] = set()
    for n in range(1, max(2, orders // 80) + 2):
        merchant = f"m-{n:03d}"
        merchants[merchant] = sorted(rng.sample(list(Carrier), k=rng.randint(3, 6)))
        # Every other merchant lets refund and return requests start intercepts.
        auto = frozenset(_AUTO) if n % 2 else frozenset()
        if auto:
            automatic.add(merchant)
        at(
            start + timedelta(seconds=n),
            SetPolicy(
                merchant_id=merchant,
                min_amount_minor=100,
                max_amount_minor=500_000,
                carriers=frozenset(merchants[merchant]),
                auto_intercept=auto,
                accept_within_minutes=120,
                # Every third merchant promises its buyers an answer within six hours:
                # the carriers' slower scans leave some of its intercepts stalled.
                outcome_within_minutes=6 * 60 if n % 3 == 0 else 48 * 60,
                actor="ops-admin",
                occurred_at=start,
            ),
        )
    for i in range(orders):
        merchant = rng.choice(sorted(merchants))
        # Now and then a merchant picks a carrier its policy does not enable.
        carrier = rng.choice(merchants[merchant] if rng.random() < 0.93 else list(Carrier))
        from_after_sale = merchant in automatic and rng.random() < 0.4
        _plan_order(
            rng,
            at,
            seed,
            i,
            merchant,
            carrier,
            start + timedelta(minutes=5 + i * 7),
            from_after_sale,
        )
    return sorted(steps)


_AUTO = (AfterSaleStatus.REFUND_REQUESTED, AfterSaleStatus.RETURN_REQUESTED)


def _plan_after_sale(
    rng: random.Random, at: Callable, seed: int, i: int, request: RequestIntercept
) -> str:
    """The platform reports an after-sale instead of the merchant asking: the automatic
    rule requests the intercept (or says why not). Returns the key it requests under."""
    after_sale_id = f"AS{seed:02d}{i:07d}"
    status = rng.choice([*_AUTO, AfterSaleStatus.REFUNDED])  # refunded: not a listed status
    report = ReportAfterSale(
        merchant_id=request.merchant_id,
        after_sale_id=after_sale_id,
        order_id=request.order_id,
        tracking_no=request.tracking_no,
        carrier=request.carrier,
        amount_minor=request.amount_minor,
        status=status,
        actor="platform",
        occurred_at=request.occurred_at,
    )
    at(request.occurred_at, report)
    if rng.random() < 0.1:  # the platform repeats itself: recorded once
        at(request.occurred_at + timedelta(seconds=20), report)
    if status in _AUTO and rng.random() < 0.15:  # the buyer withdraws: flagged, never cancelled
        later = request.occurred_at + timedelta(minutes=rng.randint(2, 30))
        at(
            later,
            report.model_copy(update={"status": AfterSaleStatus.CLOSED, "occurred_at": later}),
        )
    return auto_key(after_sale_id)


def _plan_order(
    rng: random.Random,
    at: Callable,
    seed: int,
    i: int,
    merchant: str,
    carrier: Carrier,
    t0: datetime,
    from_after_sale: bool = False,
) -> None:
    key = f"demo-{seed}-{i}"
    amount = rng.randint(990, 60_000_00) if rng.random() < 0.05 else rng.randint(990, 4_000_00)
    # About one in twelve sends the parcel to a new address instead (from the key, so the
    # rest of the plan draws the same numbers as ever).
    redirect = hashlib.sha256(f"redirect/{key}".encode()).digest()[0] < 21
    request = RequestIntercept(
        action=Action.REDIRECT if redirect else Action.RETURN_TO_SENDER,
        recipient=_recipient(i) if redirect else None,
        merchant_id=merchant,
        order_id=f"PDD{seed:02d}{i:07d}",
        tracking_no=f"{carrier}{seed:02d}{i:09d}",
        carrier=carrier,
        amount_minor=amount,
        request_reason=rng.choice(_REQUEST_REASONS),
        after_sale_status=rng.choice(
            [
                AfterSaleStatus.NONE,
                AfterSaleStatus.REFUND_REQUESTED,
                AfterSaleStatus.RETURN_REQUESTED,
            ]
        ),
        key=key,
        actor=f"{merchant}-staff",
        occurred_at=t0,
    )
    if from_after_sale:
        key = _plan_after_sale(rng, at, seed, i, request)
    else:
        at(t0, request)
        if rng.random() < 0.1:  # a client retry with the same key: recorded once
            at(t0 + timedelta(seconds=30), request)
    iid = intercept_id(merchant, key)

    def report(moment: datetime, kind: CarrierReport, reason: FailureReason | None = None) -> None:
        at(
            moment,
            ReportCarrierOutcome(
                intercept_id=iid,
                carrier=carrier,
                report=kind,
                reason=reason,
                carrier_ref=f"{carrier}-{i}",
                actor=f"{carrier.lower()}-api",
                occurred_at=moment,
            ),
        )

    accepted = t0 + timedelta(minutes=rng.randint(5, 60))
    outcome_at = accepted + timedelta(minutes=rng.randint(60, 12 * 60))
    confirmed = rng.random() < 0.65
    cancel_at = t0 + timedelta(minutes=rng.randint(10, 14 * 60)) if rng.random() < 0.3 else None
    if rng.random() < 0.85:
        report(accepted, CarrierReport.ACCEPTED)
        if rng.random() < 0.1:
            report(accepted + timedelta(minutes=1), CarrierReport.ACCEPTED)  # callbacks repeat
    if cancel_at is not None:
        reason = rng.choice(_CANCEL_REASONS)
        at(
            cancel_at,
            CancelIntercept(
                intercept_id=iid,
                reason=reason,
                actor=f"{merchant}-staff",
                occurred_at=cancel_at,
            ),
        )
        if rng.random() < 0.4:
            content = f"chat log {merchant} {i}".encode()
            at(
                cancel_at + timedelta(minutes=2),
                AttachEvidence(
                    intercept_id=iid,
                    kind=EvidenceKind.CHAT_LOG,
                    sha256=hashlib.sha256(content).hexdigest(),
                    uri=f"evidence/{i}.txt",
                    actor=f"{merchant}-staff",
                    occurred_at=cancel_at,
                ),
            )
        crossing = cancel_at < outcome_at and confirmed and rng.random() < 0.35
        if cancel_at < outcome_at and not crossing and confirmed:
            report(cancel_at + timedelta(minutes=rng.randint(5, 90)), CarrierReport.RELEASED)
            return
    if rng.random() < 0.08:
        return  # still with the carrier: no outcome yet
    if confirmed:
        report(outcome_at, CarrierReport.CONFIRMED)
        at(
            outcome_at + timedelta(hours=20),
            ChargeFee(
                intercept_id=iid,
                kind=FeeKind.RETURN_SHIPPING,
                amount_minor=rng.randint(800, 1500),
                payer=Payer.MERCHANT,
                actor="billing",
                occurred_at=outcome_at + timedelta(hours=20),
            ),
        )
        if rng.random() < 0.3:
            at(
                outcome_at + timedelta(hours=30),
                ChangeAfterSaleStatus(
                    intercept_id=iid,
                    after_sale_status=AfterSaleStatus.REFUNDED,
                    actor=f"{merchant}-staff",
                    occurred_at=outcome_at + timedelta(hours=30),
                ),
            )
    else:
        report(outcome_at, CarrierReport.FAILED, rng.choice(list(FailureReason)))


def _recipient(i: int) -> Recipient:
    return Recipient(
        name=f"Buyer {i}",
        phone=f"138{i:08d}"[-11:],
        province="Zhejiang",
        city="Hangzhou",
        district="Xihu",
        address=f"No. {i % 300 + 1} Wensan Road, Room {i % 20 + 101}",
    )


def run(
    steps: list[Step],
    execute: Callable[[Command], Decision],
    clock: SimulatedClock,
    on_step: Callable[[], None] | None = None,
    after_report: Callable[[ReportAfterSale], object] | None = None,
) -> DemoReport:
    """Execute the plan in time order; refusals are expected and counted, not fatal.

    `after_report` runs the automatic rule after each after-sale report (embedded, the
    engine has run it already and this finds nothing to do), so that the carrier's
    reports on an automatic intercept find it there; it answers the intercept the rule
    requested, or None when the rule did not."""
    report = DemoReport()
    refused: set = set()  # intercepts whose request was refused: their later steps are moot
    for step in steps:
        clock.current = step.at + timedelta(milliseconds=250)
        command = step.command
        if getattr(command, "intercept_id", None) in refused:
            if on_step:
                on_step()  # a moot step still counts as done: the progress ends at 100%
            continue
        try:
            decision = execute(command)
            report.outcomes[f"{type(command).__name__}:{decision.outcome.value}"] += 1
            if isinstance(command, ReportAfterSale) and after_report is not None:
                if after_report(command) is None:  # declined: its carrier steps are moot
                    refused.add(intercept_id(command.merchant_id, auto_key(command.after_sale_id)))
        except DomainError as error:
            report.refusals[error.rule] += 1
            if isinstance(command, RequestIntercept):
                refused.add(intercept_id(command.merchant_id, command.key or ""))
        report.steps += 1
        if on_step:
            on_step()
    return report


# ---- through the carriers: gateway, simulator, callbacks ---------------------------

DEMO_PROTOCOLS = {
    "ZTO": "direct",
    "SF": "direct",
    "YTO": "aggregator",
    "STO": "aggregator",
    "YD": "aggregator",
    "JT": "aggregator",
    "JD": "generic",
    "EMS": "generic",
}
"""Which protocol each simulated carrier speaks in the demo: every family is exercised."""

DEMO_TIMING = Timing(lag=(600.0, 6 * 3600.0))
"""Callbacks up to six hours late: some cancels land between a scan and its callback."""

CHECK_SHARE = 0.5
"""The share of requests a merchant checks with the carrier first (the rest go straight out,
and some come back rejected)."""


def carriers_toml(simulator_port: int, callback_base: str) -> str:
    """The demo's carriers file: every carrier connected to the simulator on loopback."""
    return simulated_carriers_file(DEMO_PROTOCOLS, simulator_port, callback_base, secret_env)


def secret_env(code: str) -> str:
    return f"INTERCEPT_DEMO_{code}_SECRET"


def demo_secrets() -> dict[str, str]:
    """The simulated carriers' shared secrets: the demo's own, known to both sides."""
    return {secret_env(code): f"demo-secret-{code.lower()}" for code in DEMO_PROTOCOLS}


@dataclass
class CarrierSideReport:
    checked: int = 0
    refused_at_check: Counter = field(default_factory=Counter)


class CarrierWorld:
    """The carriers' side of the demo, moved along the simulated clock.

    The gateway sends over real HTTP to the simulator; the simulator pushes its signed
    callbacks over real HTTP to the engine's callback endpoints (the API, served by the
    demo on the same simulated clock), which verify them per protocol as a carrier's.
    The simulator posts one callback at a time and waits for its answer, so every time in
    the history is the simulated clock's and the demo stays deterministic.
    """

    def __init__(self, gateway, desk, simulator, clock: SimulatedClock, execute) -> None:
        self.gateway = gateway
        self.desk = desk
        self.simulator = simulator
        self.clock = clock
        self.execute = execute
        self.report = CarrierSideReport()

    @property
    def callbacks_taken(self) -> int:
        """Callbacks the engine's endpoints answered with success."""
        return sum(1 for d in self.simulator.delivered if 200 <= d["status"] < 300)

    def advance(self, until: datetime) -> None:
        """Let the carriers act up to `until`: callbacks as they fall due, then dispatch."""
        while (due := self.simulator.next_due()) is not None and due <= until:
            self.clock.current = max(self.clock.current, due)
            self.simulator.deliver_due(due)
            self.gateway.step()

    def checked(self, command: RequestIntercept) -> RequestIntercept | None:
        """The request after the merchant asked the carrier; None when the answer was no."""
        found = self.desk.eligibility(command.carrier, command.tracking_no, command.action.value)
        self.report.checked += 1
        if not found.allowed:
            self.report.refused_at_check[found.rule or "carrier_accepts"] += 1
            return None
        return command.model_copy(
            update={"quoted_fee_minor": found.fee_minor, "parcel_stage": ParcelStage(found.stage)}
        )


def run_with_carriers(
    steps: list[Step],
    world: CarrierWorld,
    clock: SimulatedClock,
    on_step: Callable[[], None] | None = None,
    until: datetime | None = None,
    after_report: Callable[[ReportAfterSale], object] | None = None,
    deadlines: Callable[[], int] | None = None,
) -> DemoReport:
    """The plan's merchant steps, with the carriers answering through the protocols.

    The plan's own carrier reports are not sent: what carriers say comes from the
    simulator, through the gateway's answers and the callbacks. `after_report` is as
    for `run`: the intercept the automatic rule requested, which the gateway then sends.
    `deadlines` is the deadline process's tick (engine.automation.Deadlines), run every
    `DEADLINE_TICK` of simulated time as the carriers move on, on the simulated clock.
    """
    merchant = [s for s in steps if not isinstance(s.command, ReportCarrierOutcome)]
    checked: dict[str, RequestIntercept | None] = {}
    report = DemoReport()
    refused: set = set()

    def execute(command: Command) -> Decision:
        if isinstance(command, RequestIntercept) and _checks(command):
            key = command.key or ""
            if key not in checked:  # a retry repeats what the first try was sent with
                checked[key] = world.checked(command)
            found = checked[key]
            if found is None:
                raise _RefusedAtCheck()
            command = found
        decision = world.execute(command)
        if isinstance(command, ReportAfterSale) and after_report is not None:
            # The rule's turn comes at the report's moment, before the clock moves on:
            # embedded, the engine ran it inside the report's command; through Kafka it
            # runs here, and its intercept must carry the same time either way.
            if after_report(command) is None:  # declined: its later steps are moot
                refused.add(intercept_id(command.merchant_id, auto_key(command.after_sale_id)))
        clock.current += timedelta(seconds=1)  # the gateway sends a moment after the command
        world.gateway.step()
        return decision

    ticked = [steps[0].at if steps else clock.current]

    def advance(until: datetime) -> None:
        # The carriers and the deadline process take turns, so a deadline is seen to
        # pass at about its moment, before a later callback settles the intercept.
        if deadlines is not None:
            while ticked[0] + DEADLINE_TICK <= until:
                ticked[0] += DEADLINE_TICK
                world.advance(ticked[0])
                clock.current = max(clock.current, ticked[0])
                deadlines()
        world.advance(until)

    for step in merchant:
        advance(step.at)
        clock.current = max(clock.current, step.at + timedelta(milliseconds=250))
        command = step.command
        if getattr(command, "intercept_id", None) in refused:
            if on_step:
                on_step()
            continue
        try:
            decision = execute(command)
            report.outcomes[f"{type(command).__name__}:{decision.outcome.value}"] += 1
            if isinstance(command, ReportAfterSale) and after_report is not None:
                world.gateway.step()  # the automatic request goes out like any other
        except (DomainError, _RefusedAtCheck) as error:
            if isinstance(error, DomainError):
                report.refusals[error.rule] += 1
            if isinstance(command, RequestIntercept):
                refused.add(intercept_id(command.merchant_id, command.key or ""))
        report.steps += 1
        if on_step:
            on_step()
    if merchant:
        advance(until or merchant[-1].at + DRAIN)
    return report


class _RefusedAtCheck(Exception):
    """The carrier said no when the merchant checked: the request is never made."""


def _checks(command: RequestIntercept) -> bool:
    digest = hashlib.sha256(f"check/{command.key}".encode()).digest()
    return digest[0] / 256 < CHECK_SHARE
