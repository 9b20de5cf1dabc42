"""A stateful property: no sequence of commands ever leaves `cancelled`.

Hypothesis drives random commands, carrier reports crossing cancels included,
against the pure domain; the model checks every invariant after every step.
"""

from uuid import uuid4

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain import intercept as rules
from domain import lifecycle
from domain import policy as policies
from domain.decision import Outcome
from domain.errors import DomainError
from domain.events import Cancelled, CarrierEvent
from domain.vocabulary import CancelReason, CarrierReport, Conflict, Status
from tests import builders as b
from tests.conftest import T0

REPORTS = st.sampled_from(CarrierReport)


class InterceptLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.iid = uuid4()
        policy = policies.set_policy(None, b.policy(), policy_id=uuid4(), now=T0).state
        decision = rules.request(
            b.request(),
            intercept_id=self.iid,
            existing=None,
            policy=policy,
            parcel_history=(),
            now=T0,
        )
        self.state = decision.state
        self.history = list(decision.events)
        self.was_cancelled = False
        self.reports_sent = 0

    def _record(self, decision) -> None:
        for event in decision.events:
            assert event.originator_version == self.state.version + 1
            self.history.append(event)
        self.state = decision.state

    @rule(reason=st.sampled_from([r for r in CancelReason if r is not CancelReason.OTHER]))
    def cancel(self, reason) -> None:
        try:
            decision = rules.cancel(self.state, b.cancel(self.iid, reason=reason), T0)
        except DomainError:
            assert not lifecycle.is_cancellable(self.state.status)
            return
        if self.was_cancelled:
            assert decision.outcome is Outcome.ALREADY_CANCELLED and not decision.events
        self._record(decision)
        self.was_cancelled = True

    @rule(report=REPORTS)
    def carrier_reports(self, report) -> None:
        before = self.state
        decision = rules.report(self.state, b.carrier(self.iid, report), T0)
        if decision.events:
            assert isinstance(decision.events[0], CarrierEvent)
            if before.status is Status.CANCELLED and report == "confirmed":
                assert decision.events[0].conflict in (
                    Conflict.INTERCEPTED_AFTER_CANCEL,
                    Conflict.CONTRADICTORY_CARRIER_REPORTS,
                )
        else:
            assert decision.outcome in (Outcome.DUPLICATE, Outcome.STALE)
        self._record(decision)

    @rule(amount=st.integers(min_value=1, max_value=10**6))
    def fee(self, amount) -> None:
        fees = self.state.fees_minor
        self._record(rules.charge_fee(self.state, b.fee(self.iid, amount_minor=amount), T0))
        assert self.state.fees_minor == fees + amount

    @precondition(lambda self: self.was_cancelled)
    @invariant()
    def cancelled_stays_cancelled(self) -> None:
        assert self.state.status is Status.CANCELLED

    @invariant()
    def at_most_one_cancel_is_recorded(self) -> None:
        assert sum(isinstance(e, Cancelled) for e in self.history) <= 1

    @invariant()
    def replaying_history_gives_the_same_state(self) -> None:
        assert rules.project_intercept(None, self.history) == self.state


TestInterceptLifecycle = InterceptLifecycle.TestCase
