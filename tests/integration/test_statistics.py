"""The statistics projection on SQLite and PostgreSQL: its figures are those a
recomputation from the `intercepts` rows gives, under any delivery, and its percentiles
are a Python reference's, to the documented bucket."""

import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import queries, stats_store
from projections.projector import Projector
from projections.row import COLUMNS
from projections.schema import migrate
from projections.statistics import (
    SINCE_PICKUP_NAMES,
    bucket_floor,
    bucket_of,
    cells_of,
    estimate,
)
from storage.database import Database
from tests.integration.test_projector_delivery import deliver, envelopes
from tests.strategies import timed_history

_REUSED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
_EMPTIED = ("intercepts", "intercept_events", "pending_events", "checkpoints", *stats_store.TABLES)


@pytest.fixture
def fresh(backend, request):
    if backend == "sqlite":
        return lambda: _migrated(Database("sqlite:///:memory:"))
    server = request.getfixturevalue("postgres_server")
    databases = itertools.cycle(
        [_migrated(Database(server.create_database("stats"))) for _ in range(2)]
    )

    def emptied() -> Projector:
        projector = next(databases)
        with projector.db.transaction() as cur:
            for table in _EMPTIED:
                cur.execute(f"DELETE FROM {table}")
        return projector

    return emptied


ZONE = "Asia/Shanghai"
"""The statistics' zone here: a day of its own, eight hours off UTC's."""


def _migrated(db: Database) -> Projector:
    migrate(db, ZONE)
    return Projector(db)


def local_day(stamp: str, zone: str = ZONE) -> str:
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone)).date().isoformat()


def since_pickup(r: dict) -> str:
    """The documented buckets of the time from pickup to request, by hand."""
    if not r.get("picked_up_at"):
        return "unknown"
    waited = datetime.fromisoformat(r["requested_at"]) - datetime.fromisoformat(r["picked_up_at"])
    if waited < timedelta(hours=24):
        return "under_24h"
    if waited < timedelta(days=3):
        return "1_3_days"
    return "over_3_days"


# ---- an independent recomputation, straight from the rows ------------------------------

SUCCESS = {"intercepted", "returning", "returned", "delivered_to_new_address"}
DECIDED = SUCCESS | {"failed", "rejected"}
STOPPED_ELSEWHERE = "already_intercepted_other_channel"  # a refusal that is a success


def succeeded(r: dict) -> bool:
    return r["status"] in SUCCESS or (
        r["status"] == "rejected" and r.get("rejection_code") == STOPPED_ELSEWHERE
    )


def _nearest_rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _seconds(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return max(0.0, (parse(end) - parse(start)).total_seconds())


def _percentiles(values: list[float]) -> dict:
    out: dict = {"n": len(values)}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        exact = _nearest_rank(values, q)
        out[f"{name}_seconds"] = None if exact is None else bucket_floor(bucket_of(exact))
    return out


def recomputed(rows: list[dict]) -> dict:
    """The figures the statistics must show, computed from the rows by hand."""
    status: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {
        "cancel_reason": {},
        "failure_reason": {},
        "rejection_code": {},
        "conflict": {},
        "flags": {},
    }
    accept, outcome = [], []
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
        for column, counts in reasons.items():
            for value in (r.get(column) or "").split(","):
                if value:
                    counts[value] = counts.get(value, 0) + 1
        if r["accepted_at"]:
            accept.append(_seconds(r["requested_at"], r["accepted_at"]))
        ends = [t for t in (r["confirmed_at"], r["failed_at"], r.get("rejected_at")) if t]
        if ends:
            outcome.append(_seconds(r["requested_at"], min(ends)))
    n = len(rows)
    stopped = sum(succeeded(r) for r in rows)
    decided = sum(status.get(s, 0) for s in DECIDED)
    cancelled = status.get("cancelled", 0)
    by_kind: dict[str, int] = {}
    by_payer: dict[str, int] = {}
    for r in rows:
        for column, value in r.items():
            if column.startswith("fees_paid_by_") and value:
                payer = column.removeprefix("fees_paid_by_").removesuffix("_minor")
                by_payer[payer] = by_payer.get(payer, 0) + value
            elif column.startswith("fees_") and column != "fees_minor" and value:
                kind = column.removeprefix("fees_").removesuffix("_minor")
                by_kind[kind] = by_kind.get(kind, 0) + value
    return {
        "intercepts": n,
        "by_status": {s: k for s, k in status.items() if k},
        "cancel_rate": round(cancelled / n, 4) if n else None,
        "success_rate": round(stopped / decided, 4) if decided else None,
        "by_cancel_reason": reasons["cancel_reason"],
        "by_failure_reason": reasons["failure_reason"],
        "by_rejection_code": reasons["rejection_code"],
        "by_conflict": reasons["conflict"],
        "by_flags": reasons["flags"],
        "fees": sum(r["fees_minor"] for r in rows),
        "fees_by_kind": by_kind,
        "fees_by_payer": by_payer,
        "latency": {"to_acceptance": _percentiles(accept), "to_outcome": _percentiles(outcome)},
    }


def shown(figures: dict) -> dict:
    """The same figures, as the statistics projection answers them."""
    return {
        "intercepts": figures["intercepts"],
        "by_status": {s: k for s, k in figures["by_status"].items() if k},
        "cancel_rate": figures["cancel_rate"],
        "success_rate": figures["success_rate"],
        "by_cancel_reason": figures["by_cancel_reason"],
        "by_failure_reason": figures["by_failure_reason"],
        "by_rejection_code": figures["by_rejection_code"],
        "by_conflict": figures["by_conflict"],
        "by_flags": figures["by_flags"],
        "fees": figures["fees"]["total_minor"],
        "fees_by_kind": {k: n for k, n in figures["fees"]["by_kind_minor"].items() if n},
        "fees_by_payer": {k: n for k, n in figures["fees"]["by_payer_minor"].items() if n},
        "latency": figures["latency"],
    }


def recomputed_risk(rows: list[dict]) -> list[dict]:
    """The table of rates by (carrier, action, parcel stage, time since pickup), by hand
    from the rows."""
    buckets: dict[tuple, dict] = {}
    for r in rows:
        key = (r["carrier"], r["action"], r.get("parcel_stage") or "unknown", since_pickup(r))
        b = buckets.setdefault(key, {"requests": 0, "decided": 0, "succeeded": 0, "fees": 0})
        b["requests"] += 1
        if r["status"] in DECIDED:
            b["decided"] += 1
            b["succeeded"] += succeeded(r)
            b["fees"] += r["fees_minor"]
    table = []
    for (carrier, action, stage, since), b in sorted(buckets.items()):
        enough = b["decided"] >= 20
        table.append(
            {
                "carrier": carrier,
                "action": action,
                "parcel_stage": stage,
                "since_pickup": since,
                "requests": b["requests"],
                "cases": b["decided"],
                "enough_history": enough,
                "success_probability": round(b["succeeded"] / b["decided"], 4) if enough else None,
                "likely_fee_minor": round(b["fees"] / b["decided"]) if enough else None,
            }
        )
    return table


def check_against_rows(db: Database, where: stats_store.Where | None = None) -> None:
    where = where or stats_store.Where()
    zone = db.read("SELECT zone FROM stats_schema")[0]["zone"]
    rows = [
        r
        for r in db.read("SELECT * FROM intercepts")
        if (where.since_day is None or local_day(r["requested_at"], zone) >= where.since_day)
        and (where.until_day is None or local_day(r["requested_at"], zone) < where.until_day)
        and all(
            getattr(where, c) is None or r[c] == getattr(where, c)
            for c in ("merchant_id", "carrier", "after_sale_status")
        )
    ]
    figures = queries.statistics(db, where)
    assert shown(figures) == recomputed(rows)
    everything = db.read("SELECT * FROM intercepts")
    for merchant in {r["merchant_id"] for r in everything}:
        table = [{k: v for k, v in b.items() if k != "note"} for b in queries.risk(db, merchant)]
        assert table == recomputed_risk([r for r in everything if r["merchant_id"] == merchant])
    for carrier, per in figures["by_carrier"].items():
        assert shown(per) == recomputed([r for r in rows if r["carrier"] == carrier])
    by_day: dict[str, list[dict]] = {}
    for r in rows:
        by_day.setdefault(local_day(r["requested_at"], zone), []).append(r)
    assert [p["day"] for p in figures["series"]] == sorted(by_day)
    for day, per in queries.statistics(db, where, "day")["by_day"].items():
        assert shown(per) == recomputed(by_day[day])
    for point in figures["series"]:
        day = by_day[point["day"]]
        assert point["requests"] == len(day)
        assert point["cancels"] == sum(r["status"] == "cancelled" for r in day)
        assert point["intercepts"] == sum(succeeded(r) for r in day)
        assert point["failures"] == sum(r["status"] in DECIDED and not succeeded(r) for r in day)


@st.composite
def several_histories(draw) -> list:
    count = draw(st.integers(1, 3))
    histories = [draw(timed_history(iid=UUID(int=100 + n), max_steps=8)) for n in range(count)]
    merged = []
    while any(histories):
        i = draw(st.sampled_from([k for k, h in enumerate(histories) if h]))
        merged.append(histories[i].pop(0))
    return merged


@_REUSED
@given(history=several_histories(), data=st.data())
def test_the_statistics_are_a_recomputation_from_the_rows_under_any_delivery(fresh, history, data):
    messages = envelopes(history)
    extra = data.draw(st.lists(st.sampled_from(messages), max_size=len(messages)))
    noisy = data.draw(st.permutations(messages + extra))
    cuts = data.draw(st.lists(st.integers(0, len(noisy)), max_size=4))
    projector = fresh()
    deliver(projector, noisy, cuts)
    check_against_rows(projector.db)
    deliver(projector, messages, [])  # a replay on top changes nothing
    check_against_rows(projector.db)
    check_against_rows(projector.db, stats_store.Where(merchant_id=history[0].merchant_id))
    rows = projector.db.read("SELECT * FROM intercepts")
    days = sorted(local_day(r["requested_at"]) for r in rows)
    if days:
        check_against_rows(projector.db, stats_store.Where(since_day=days[-1]))
        check_against_rows(projector.db, stats_store.Where(until_day=days[0]))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=10)
@given(history=several_histories())
def test_a_rebuild_of_the_statistics_from_the_rows_gives_the_same_tables(fresh, history):
    """`ensure` recomputes the tables from the rows when what is counted changes."""
    projector = fresh()
    deliver(projector, envelopes(history), [])
    db = projector.db
    before = _stats_tables(db)
    with db.transaction() as cur:
        cur.execute("UPDATE stats_schema SET fingerprint = 'old'")
    assert stats_store.ensure(db)
    assert _stats_tables(db) == before
    assert not stats_store.ensure(db)


def _stats_tables(db: Database) -> tuple:
    return (
        db.read("SELECT * FROM stats_daily ORDER BY day, merchant_id, carrier, after_sale_status"),
        db.read(
            "SELECT * FROM stats_latency ORDER BY carrier, measure, bucket, day, merchant_id, "
            "after_sale_status"
        ),
        db.read(
            "SELECT * FROM stats_risk ORDER BY merchant_id, carrier, action, parcel_stage, "
            "since_pickup, day"
        ),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=5)
@given(history=several_histories())
def test_another_zone_rebuilds_the_statistics_on_that_zones_days(fresh, history):
    projector = fresh()
    deliver(projector, envelopes(history), [])
    db = projector.db
    assert stats_store.zone_of(db) == ZONE and not stats_store.ensure(db)
    assert stats_store.ensure(db, "America/New_York")
    assert stats_store.zone_of(db) == "America/New_York"
    check_against_rows(db)
    assert stats_store.ensure(db, ZONE) and not stats_store.ensure(db)  # None keeps it
    check_against_rows(db)


# ---- percentiles on generated data ---------------------------------------------------

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


def generated_rows(n: int, seed: int) -> list[dict]:
    """Rows with latencies from seconds to weeks, heavy-tailed, over a few days and carriers."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        requested = T0 + timedelta(days=rng.randrange(5), seconds=rng.randrange(86_400))
        accept = rng.choice([None, rng.expovariate(1 / 1800)])
        outcome = rng.choice([None, rng.lognormvariate(10, 1.5)])
        status = (
            "intercepted" if outcome and rng.random() < 0.7 else "failed" if outcome else "accepted"
        )
        # Over 3 days after pickup is rare: its buckets are thin, and estimates fall back.
        waited = rng.choices([None, 3_600, 50_000, 100_000, 300_000], [40, 25, 15, 17, 3])[0]
        rows.append(
            {
                **dict.fromkeys(COLUMNS),
                "flags": "",
                "intercept_id": f"{i:08d}",
                "merchant_id": rng.choice(["m1", "m2"]),
                "carrier": rng.choice(["ZTO", "SF", "JD"]),
                "after_sale_status": "none",
                "requested_at": _stamp(requested),
                "picked_up_at": None
                if waited is None
                else _stamp(requested - timedelta(seconds=waited + rng.randrange(3_000))),
                "accepted_at": _stamp(requested + timedelta(seconds=accept)) if accept else None,
                "confirmed_at": _stamp(requested + timedelta(seconds=outcome))
                if status == "intercepted"
                else None,
                "failed_at": _stamp(requested + timedelta(seconds=outcome))
                if status == "failed"
                else None,
                "status": status,
                "action": "return_to_sender",
                "cancel_reason": None,
                "failure_reason": "other" if status == "failed" else None,
                "conflict": None,
                "fees_minor": rng.randrange(0, 2000),
            }
        )
    return rows


def test_percentiles_match_a_python_reference_on_generated_data(backend, request):
    if backend == "sqlite":
        db = Database("sqlite:///:memory:")
    else:
        db = Database(request.getfixturevalue("postgres_server").create_database("pct"))
    migrate(db)
    rows = generated_rows(3000, seed=16)
    with db.transaction() as cur:
        stats_store.record(cur, cells_of(rows, stats_store.zone_of(cur)))
    for merchant in ("m1", "m2"):
        mine = [r for r in rows if r["merchant_id"] == merchant]
        table = [{k: v for k, v in b.items() if k != "note"} for b in queries.risk(db, merchant)]
        assert table == recomputed_risk(mine)
        assert any(b["enough_history"] for b in table)
    for where in (
        stats_store.Where(),
        stats_store.Where(merchant_id="m1"),
        stats_store.Where(carrier="SF", since_day="2026-10-02", until_day="2026-10-04"),
    ):
        chosen = [
            r
            for r in rows
            if (where.merchant_id is None or r["merchant_id"] == where.merchant_id)
            and (where.carrier is None or r["carrier"] == where.carrier)
            and (where.since_day is None or r["requested_at"][:10] >= where.since_day)
            and (where.until_day is None or r["requested_at"][:10] < where.until_day)
        ]
        figures = queries.statistics(db, where)
        assert figures["latency"] == recomputed(chosen)["latency"]
        for carrier, per in figures["by_carrier"].items():
            mine = [r for r in chosen if r["carrier"] == carrier]
            assert per["latency"] == recomputed(mine)["latency"]


def reference_estimate(rows: list[dict], bucket: dict) -> dict:
    """The documented rule, by hand: the finest bucket with 20 decided cases and a known
    time since pickup, else every time since pickup of its carrier, action and stage."""
    coarse = ("carrier", "action", "parcel_stage")
    same = [
        r
        for r in rows
        if all((r.get(k) or "unknown") == bucket[k] for k in coarse) and r["status"] in DECIDED
    ]
    exact = [r for r in same if since_pickup(r) == bucket["since_pickup"]]
    for chosen, based_on in ((exact, [*coarse, "since_pickup"]), (same, list(coarse))):
        if chosen is exact and bucket["since_pickup"] == "unknown":
            continue
        if len(chosen) >= 20 or chosen is same:
            enough = len(chosen) >= 20
            won = sum(succeeded(r) for r in chosen)
            fees = sum(r["fees_minor"] for r in chosen)
            return {
                "cases": len(chosen),
                "enough_history": enough,
                "success_probability": round(won / len(chosen), 4) if enough else None,
                "likely_fee_minor": round(fees / len(chosen)) if enough else None,
                "based_on": based_on,
            }
    raise AssertionError("unreachable")


def test_estimates_fall_back_over_every_time_since_pickup_when_a_bucket_is_thin(backend, request):
    if backend == "sqlite":
        db = Database("sqlite:///:memory:")
    else:
        db = Database(request.getfixturevalue("postgres_server").create_database("est"))
    migrate(db)
    rows = generated_rows(3000, seed=17)
    with db.transaction() as cur:
        stats_store.record(cur, cells_of(rows, stats_store.zone_of(cur)))
    used = set()
    for merchant in ("m1", "m2"):
        mine = [r for r in rows if r["merchant_id"] == merchant]
        history = stats_store.risk_sums(db, merchant)
        for carrier, since in itertools.product(("ZTO", "SF", "JD", "YTO"), SINCE_PICKUP_NAMES):
            bucket = {
                "carrier": carrier,
                "action": "return_to_sender",
                "parcel_stage": "unknown",
                "since_pickup": since,
            }
            found = estimate(history, bucket)
            assert {k: v for k, v in found.items() if k != "note"} == reference_estimate(
                mine, bucket
            )
            assert (found["note"] is None) == (
                found["enough_history"]
                and found["based_on"][-1] == "since_pickup"
                or since == "unknown"
                and found["enough_history"]
            )
            used.add((len(found["based_on"]), found["enough_history"]))
    # Each way an estimate can be answered was met: finest, fallen back, not enough history.
    assert used == {(4, True), (3, True), (3, False)}


def test_a_percentile_is_at_most_a_minute_or_five_percent_below_the_exact_value():
    for seconds in [0, 1, 59, 60, 61, 1199, 1200, 1201, *range(1300, 10**7, 9973)]:
        floor = bucket_floor(bucket_of(seconds))
        assert floor <= seconds
        assert seconds - floor < max(60, 0.05 * seconds)
        assert bucket_of(floor) == bucket_of(seconds)
