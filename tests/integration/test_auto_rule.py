"""The automatic intercept rule over a real event store: exactly one request per
after-sale, whatever the delivery (duplicated, reordered, replayed from the start)."""

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.after_sale import AUTO_ACTOR
from domain.commands import ApplyAutoRule, ReportAfterSale, SetPolicy
from domain.events import Requested
from engine.automation import AUTO_RULE
from engine.composition import build_engine, event_store_db
from engine.settings import Settings
from engine.store.positions import ProcessPositions

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _engine(home):
    engine = build_engine(Settings(home=home, automation_inline=False))
    engine.execute(
        SetPolicy(
            merchant_id="m1",
            min_amount_minor=0,
            max_amount_minor=50_000,
            carriers=frozenset({"ZTO", "SF"}),
            auto_intercept=frozenset({"refund_requested", "return_requested"}),
            actor="ops",
            occurred_at=NOW,
        )
    )
    return engine


def _report(n: int, status: str, parcel: int, amount: int = 19_900) -> ReportAfterSale:
    return ReportAfterSale(
        merchant_id="m1",
        after_sale_id=f"A{n}",
        order_id=f"o{n}",
        tracking_no=f"ZT{parcel}",
        carrier="ZTO",
        amount_minor=amount,
        status=status,
        actor="platform",
        occurred_at=NOW,
    )


def _auto_requests(engine) -> list[Requested]:
    return [
        e
        for _, e in engine.read_intercept_log(0, 100_000)
        if isinstance(e, Requested) and e.actor == AUTO_ACTOR
    ]


reports = st.lists(
    st.tuples(
        st.integers(0, 5),  # after-sale
        st.sampled_from(["refund_requested", "return_requested", "refunded", "closed"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15)
@given(reports=reports, seed=st.integers(0, 2**32))
def test_one_request_per_after_sale_under_duplicate_reordered_and_replayed_delivery(
    tmp_path_factory, reports, seed
):
    engine = _engine(tmp_path_factory.mktemp("auto"))
    rng = random.Random(seed)
    for n, status in reports:
        engine.execute(_report(n, status, parcel=n))
    rule = engine.auto_rule()
    # Reordered and duplicated: the rule's command for each after-sale, in any order, twice.
    names = [n for n, _ in reports] * 2
    rng.shuffle(names)
    for n in names:
        engine.app.execute(
            ApplyAutoRule(
                merchant_id="m1", after_sale_id=f"A{n}", actor=AUTO_ACTOR, occurred_at=NOW
            )
        )
    rule.run_until_idle()
    before = engine.app.event_log.max_position()
    # Replayed: from the start of the log, as after a lost position.
    rule.positions.set(AUTO_RULE, 0)
    rule.run_until_idle()
    assert engine.app.event_log.max_position() == before, "a replay recorded something"
    made = _auto_requests(engine)
    assert len({e.originator_id for e in made}) == len(made)
    # Every report was recorded before any decision: each after-sale is decided once, on
    # its latest status, and requested exactly when that status is one the rule lists.
    latest = dict(reports)
    listed = {f"o{n}" for n, status in latest.items() if status.endswith("_requested")}
    assert {e.order_id for e in made} == listed
    for n in latest:
        state = engine.after_sale("m1", f"A{n}")
        assert not state.undecided
        assert (state.intercept_id is not None) == (f"o{n}" in listed)
    engine.close()


def test_what_stopped_the_rule_is_in_the_answer_and_the_package_center(tmp_path):
    engine = _engine(tmp_path)
    engine.execute(_report(1, "refund_requested", parcel=1, amount=90_000))  # above the interval
    engine.execute(_report(2, "refund_requested", parcel=2))
    engine.execute(_report(3, "refund_requested", parcel=2))  # same parcel: one open already
    engine.auto_rule().run_until_idle()
    engine.catch_up()
    assert engine.after_sale("m1", "A1").rule == "policy_amount_interval"
    assert engine.after_sale("m1", "A2").outcome == "requested"
    assert engine.after_sale("m1", "A3").rule == "one_open_intercept_per_parcel"
    rows = {r["after_sale_id"]: r for r in engine.db.read("SELECT * FROM after_sales")}
    assert rows["A1"]["auto_rule"] == "declined"
    assert rows["A1"]["stopped_by"] == "policy_amount_interval"
    assert rows["A2"]["intercept_id"] == str(engine.after_sale("m1", "A2").intercept_id)
    engine.close()


def test_a_withdrawal_flags_the_open_intercept_and_never_cancels(tmp_path):
    engine = _engine(tmp_path)
    engine.execute(_report(1, "refund_requested", parcel=1))
    engine.auto_rule().run_until_idle()
    engine.execute(_report(1, "closed", parcel=1))
    engine.auto_rule().run_until_idle()
    engine.catch_up()
    (row,) = engine.db.read("SELECT status, flags, after_sale_status FROM intercepts")
    assert (row["status"], row["flags"], row["after_sale_status"]) == (
        "requested",
        "after_sale_withdrawn",
        "closed",
    )
    engine.close()


def test_the_position_moves_with_the_effects(tmp_path):
    engine = _engine(tmp_path)
    engine.execute(_report(1, "refund_requested", parcel=1))
    engine.auto_rule().run_until_idle()
    positions = ProcessPositions(event_store_db(engine.settings))
    reported_at = [
        p for p, e in engine.read_log(0, 1000) if type(e).__name__ == "AfterSaleReported"
    ]
    assert positions.get(AUTO_RULE) == reported_at[-1]
    engine.close()


def test_the_reports_pickup_time_is_the_automatic_requests_and_a_later_one_is_refused(tmp_path):
    import pytest
    from pydantic import ValidationError

    from domain.after_sale import AfterSaleReported
    from domain.past_events import AfterSaleReportedV1

    engine = _engine(tmp_path)
    picked = datetime(2026, 11, 19, 20, 0, tzinfo=UTC)
    report = _report(1, "refund_requested", parcel=1).model_copy(update={"picked_up_at": picked})
    engine.execute(ReportAfterSale.model_validate(report.model_dump()))
    engine.auto_rule().run_until_idle()
    engine.catch_up()
    [made] = _auto_requests(engine)
    assert made.picked_up_at == picked
    [row] = engine.db.read("SELECT picked_up_at FROM intercepts")
    assert row["picked_up_at"] == "2026-11-19T20:00:00.000000Z"
    assert engine.after_sale("m1", "A1").as_dict()["picked_up_at"] == picked.isoformat()
    with pytest.raises(ValidationError, match="picked_up_at"):
        ReportAfterSale.model_validate({**report.model_dump(), "picked_up_at": NOW.replace(hour=9)})
    # A report recorded before the pickup time was asked for reads without one.
    old = AfterSaleReportedV1.model_validate(
        {
            k: v
            for k, v in report.model_dump(mode="json").items()
            if k not in ("picked_up_at", "key")
        }
        | {"after_sale_id": "A1", "status": "refund_requested", "parcel_stage": "in_transit"}
    )
    state = AfterSaleReported.upcast_payload(old.model_dump(mode="json"), 1)
    assert state["picked_up_at"] is None
    engine.close()
