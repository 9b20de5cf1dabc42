"""The statistics of the package center, declared from the vocabulary and the row.

The statistics projection is a sum over rows: each `intercepts` row contributes
cells (`cells_of`), and the projector adds a changed row's new cells and takes away
its old ones in the same transaction as the row itself. The figures are therefore
exactly those a recomputation from the `intercepts` table gives, whatever the
delivery order, and `intercept replay` rebuilds them with the rows.

Nothing here names a status or a reason by hand: the counted columns and their
values come from the vocabulary's enums, and which statuses count as decided or
successful, and which reports end an intercept, from the lifecycle's table. A new
status, reason or report word is counted once it is in the vocabulary (the
statistics tables are then rebuilt from the rows, see `FINGERPRINT`).

Times: cells are keyed by the day of the request in the merchants' zone (the
package center's `INTERCEPT_TIMEZONE`, recorded with the tables: `day_of`), so windows
count whole days there, the days the package center's list filters by. Latencies are kept in fixed buckets (`bucket_of`): one minute wide below 20
minutes, then 5% wide, so a percentile is the lower edge of the bucket the exact
nearest-rank percentile falls in: at most a minute, or 5%, below it.
"""

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from domain.lifecycle import OPEN, Move, implies_success, is_success, move_of, status_after
from domain.vocabulary import (
    Action,
    CancelReason,
    CarrierReport,
    Conflict,
    FailureReason,
    FeeKind,
    Flag,
    ParcelStage,
    Payer,
    RejectionCode,
    Status,
)
from projections.row import COLUMNS, fee_by_kind, fee_by_payer

Row = dict[str, Any]

# ---- what is counted ---------------------------------------------------------

CATEGORIES: Mapping[str, type[StrEnum]] = {
    name: enum
    for name, enum in {
        "status": Status,
        "action": Action,
        "cancel_reason": CancelReason,
        "failure_reason": FailureReason,
        "rejection_code": RejectionCode,
        "conflict": Conflict,
        "flags": Flag,
        "parcel_stage": ParcelStage,
    }.items()
    if name in COLUMNS
}
"""Row columns counted by value: each (column, value) is one counter. A column holding
several values (comma-separated, like `conflict`) counts each of them once."""

FEES_BY_KIND: Mapping[str, str] = {k.value: fee_by_kind(k) for k in FeeKind}
FEES_BY_PAYER: Mapping[str, str] = {p.value: fee_by_payer(p) for p in Payer}
SUMMED: tuple[str, ...] = tuple(
    c
    for c in ("fees_minor", "quoted_fee_minor", *FEES_BY_KIND.values(), *FEES_BY_PAYER.values())
    if c in COLUMNS
)
"""Row columns summed: the fees (total, by kind and by payer) and the fees quoted."""
_FEE_TOTAL = ("fees_minor",)
"""The column holding all of an intercept's fees (what acting on it cost)."""


def _closure(start: Iterable[Status]) -> frozenset[Status]:
    """The statuses `start` leads to by any moves, `start` included."""
    seen = set(start)
    todo = list(seen)
    while todo:
        status = todo.pop()
        for move in Move:
            after = status_after(status, move)
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return frozenset(seen)


_REPORT_MOVES = [move_of(r) for r in CarrierReport]
SUCCEEDED: frozenset[Status] = _closure([status_after(Status.REQUESTED, Move.CONFIRMED)])
"""The parcel was stopped: intercepted, and whatever follows from there."""
DECIDED: frozenset[Status] = _closure(
    status_after(s, m) for s in OPEN for m in _REPORT_MOVES if status_after(s, m) not in OPEN
)
"""The carrier said yes or no; a cancelled intercept was decided by the merchant instead."""
FAILED: frozenset[Status] = DECIDED - SUCCEEDED
CANCELLED: frozenset[Status] = _closure(
    status_after(s, Move.CANCEL) for s in OPEN if status_after(s, Move.CANCEL) not in OPEN
)

_DECIDED = frozenset(s.value for s in DECIDED)
_SUCCEEDED = frozenset(s.value for s in SUCCEEDED)
_CANCELLED = frozenset(s.value for s in CANCELLED)
SUCCESS_CODES: frozenset[str] = frozenset(
    c.value for c in RejectionCode if is_success(CarrierReport.REJECTED, c)
)
"""Refusals that say the parcel is stopped already (by another channel): the lifecycle
counts them as successes, and so do the statistics."""
OUTCOMES = ("succeeded", "failed", "cancelled", "open")


_DECIDED_OUTCOMES = frozenset({"outcome__succeeded", "outcome__failed"})


def outcome_of(row: Row) -> str:
    """What became of an intercept: stopped, not stopped, cancelled, or not decided yet."""
    status = row["status"]
    # A refusal counts as stopped only when it decided the intercept: a late one after a
    # failure is a contradiction (its conflict says so), not a success.
    refused_as_stopped = status == Status.REJECTED and row.get("rejection_code") in SUCCESS_CODES
    if status in _SUCCEEDED or refused_as_stopped:
        return "succeeded"
    if status in _DECIDED:
        return "failed"
    if status in _CANCELLED:
        return "cancelled"
    return "open"


OUTCOME_REPORTS: tuple[CarrierReport, ...] = tuple(
    r
    for r in CarrierReport
    if f"{r.value}_at" in COLUMNS
    and any(status_after(s, move_of(r)) in DECIDED for s in OPEN)
    and not implies_success(False, r)
)
"""The reports that decide an intercept; the earliest one's time is its outcome time. A step
of the return journey that came before the success stands for it in the success's own
column (`lifecycle.implies_success`), so the success's time is the one read."""

LATENCIES: Mapping[str, tuple[str, ...]] = {
    "to_acceptance": (f"{CarrierReport.ACCEPTED.value}_at",),
    "to_outcome": tuple(f"{r.value}_at" for r in OUTCOME_REPORTS),
}
"""Time from the request to the earliest of these columns (carriers' own event times)."""


# ---- latency buckets ---------------------------------------------------------

_MINUTE_BUCKETS = 20
_RATIO = 1.05
_FIRST_WIDE = _MINUTE_BUCKETS * 60


BUCKETS = _MINUTE_BUCKETS + 250
"""Buckets 0 .. BUCKETS-1; the last one also holds everything longer (over 7 years)."""


def bucket_of(seconds: float) -> int:
    """The bucket of a latency: minutes below 20 minutes, then each 5% wider."""
    if seconds < _FIRST_WIDE:
        return max(0, int(seconds // 60))
    wide = int(math.log(seconds / _FIRST_WIDE) / math.log(_RATIO))
    return min(BUCKETS - 1, _MINUTE_BUCKETS + wide)


@lru_cache(maxsize=1024)
def bucket_floor(bucket: int) -> int:
    """The bucket's lower edge in whole seconds (what a percentile reports)."""
    if bucket < _MINUTE_BUCKETS:
        return bucket * 60
    return math.ceil(_FIRST_WIDE * _RATIO ** (bucket - _MINUTE_BUCKETS))


def nearest_rank(histogram: Mapping[int, int], q: float) -> int | None:
    """The q-quantile's bucket by nearest rank (the smallest bucket holding ceil(q*n) values)."""
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    raise AssertionError("unreachable: the ranks add up to n")


PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


# ---- a row's cells -------------------------------------------------------------

COUNTERS: tuple[str, ...] = (
    "intercepts",
    *(f"outcome__{o}" for o in OUTCOMES),
    *(f"{name}__{value.value}" for name, enum in CATEGORIES.items() for value in enum),
    *SUMMED,
)
"""The columns of `stats_daily`, after its keys."""

DAILY_KEYS = ("day", "carrier", "merchant_id", "after_sale_status")
LATENCY_KEYS = ("carrier", "measure", "bucket", "day", "merchant_id", "after_sale_status")
RISK_KEYS = ("merchant_id", "carrier", "action", "parcel_stage", "since_pickup", "day")
RISK_COUNTERS = ("cases", "decided", "succeeded", "fees_minor")
"""Per risk bucket: intercepts requested, decided by the carrier, succeeded, and the fees
recorded on the decided ones (what acting cost, whatever the outcome)."""

FINGERPRINT = hashlib.sha256(
    repr(
        (COLUMNS, COUNTERS, DAILY_KEYS, LATENCY_KEYS, RISK_KEYS, tuple(LATENCIES.items()), _RATIO)
    ).encode()
).hexdigest()[:16]
"""Changes whenever what is counted changes: the tables are then rebuilt from the rows."""


def _seconds(start: str, end: str) -> float:
    return (_parse(end) - _parse(start)).total_seconds()


@lru_cache(maxsize=8192)
def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


SINCE_PICKUP: tuple[tuple[str, float | None], ...] = (
    ("under_24h", 24 * 3600),
    ("1_3_days", 3 * 24 * 3600),
    ("over_3_days", None),
)
"""The time from the carrier's pickup to the request, in buckets: each name holds the times
below its bound (and at or above the one before); the last has none. A request that did
not say when the parcel was picked up is `unknown`."""
UNKNOWN_PICKUP = "unknown"
SINCE_PICKUP_NAMES: tuple[str, ...] = (*(name for name, _ in SINCE_PICKUP), UNKNOWN_PICKUP)


def since_pickup(requested_at: str, picked_up_at: str | None) -> str:
    """The bucket of the time from pickup to request (`SINCE_PICKUP`)."""
    if not picked_up_at:
        return UNKNOWN_PICKUP
    seconds = max(0.0, _seconds(picked_up_at, requested_at))
    for name, bound in SINCE_PICKUP:
        if bound is None or seconds < bound:
            return name
    raise AssertionError("unreachable: the last bucket has no bound")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def day_of(stamp: str, zone: str) -> str:
    """The day (YYYY-MM-DD) a request made at `stamp` counts in: its calendar day in `zone`."""
    return _parse(stamp).astimezone(_zone(zone)).date().isoformat()


@dataclass
class Cells:
    """What one or many rows contribute: counters per daily key, and latency counts, the
    days being those of `zone`."""

    zone: str
    daily: dict[tuple, dict[str, int]] = field(default_factory=dict)
    latency: dict[tuple, int] = field(default_factory=dict)
    risk: dict[tuple, list[int]] = field(default_factory=dict)

    def add(self, row: Row, sign: int = 1) -> None:
        day = day_of(row["requested_at"], self.zone)
        key = (day, row["carrier"], row["merchant_id"], row["after_sale_status"])
        counters = self.daily.setdefault(key, {})
        counters["intercepts"] = counters.get("intercepts", 0) + sign
        outcome = f"outcome__{outcome_of(row)}"
        counters[outcome] = counters.get(outcome, 0) + sign
        for name in CATEGORIES:
            value = row[name]
            if value:
                for one in value.split(","):
                    counter = f"{name}__{one}"
                    counters[counter] = counters.get(counter, 0) + sign
        for name in SUMMED:
            if row[name]:
                counters[name] = counters.get(name, 0) + sign * row[name]
        stage = row.get("parcel_stage") or "unknown"
        since = since_pickup(row["requested_at"], row.get("picked_up_at"))
        rkey = (row["merchant_id"], row["carrier"], row["action"], stage, since, day)
        risk = self.risk.setdefault(rkey, [0, 0, 0, 0])
        risk[0] += sign
        if outcome in _DECIDED_OUTCOMES:
            risk[1] += sign
            risk[3] += sign * sum(row[c] or 0 for c in _FEE_TOTAL)
            if outcome == "outcome__succeeded":
                risk[2] += sign
        for measure, ends in LATENCIES.items():
            times = [row[c] for c in ends if row[c] is not None]
            if times:
                bucket = bucket_of(max(0.0, _seconds(row["requested_at"], min(times))))
                lkey = (row["carrier"], measure, bucket, day, row["merchant_id"], key[3])
                self.latency[lkey] = self.latency.get(lkey, 0) + sign

    def changes(self, before: Row | None, after: Row | None) -> None:
        """A row moved from `before` to `after` (None: it had none)."""
        if before is not None:
            self.add(before, -1)
        if after is not None:
            self.add(after, 1)

    def nonzero(
        self,
    ) -> tuple[dict[tuple, dict[str, int]], dict[tuple, int], dict[tuple, list[int]]]:
        daily = {}
        for key, counters in self.daily.items():
            kept = {c: n for c, n in counters.items() if n}
            if kept:
                daily[key] = kept
        latency = {k: n for k, n in self.latency.items() if n}
        return daily, latency, {k: v for k, v in self.risk.items() if any(v)}


def cells_of(rows: Iterable[Row], zone: str) -> Cells:
    cells = Cells(zone)
    for row in rows:
        cells.add(row)
    return cells


# ---- figures from summed counters ------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _values(counters: Mapping[str, int], name: str) -> dict[str, int]:
    prefix = f"{name}__"
    return {
        c.removeprefix(prefix): n
        for c, n in sorted(counters.items())
        if c.startswith(prefix) and n and name in CATEGORIES
    }


def latency_figures(histogram: Mapping[int, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {"n": sum(histogram.values())}
    for name, q in PERCENTILES.items():
        bucket = nearest_rank(histogram, q)
        figures[f"{name}_seconds"] = None if bucket is None else bucket_floor(bucket)
    return figures


def figures(
    counters: Mapping[str, int], latency: Mapping[str, Mapping[int, int]]
) -> dict[str, Any]:
    """The figures of one set of intercepts, from its summed counters and latency histograms."""
    total = counters.get("intercepts", 0)
    by_status = {s.value: counters.get(f"status__{s.value}", 0) for s in Status}
    succeeded = counters.get("outcome__succeeded", 0)
    decided = succeeded + counters.get("outcome__failed", 0)
    cancelled = counters.get("outcome__cancelled", 0)
    result: dict[str, Any] = {
        "intercepts": total,
        "by_status": by_status,
        "cancelled": cancelled,
        "cancel_rate": _rate(cancelled, total),
        "decided": decided,
        "succeeded": succeeded,
        "failed": decided - succeeded,
        "success_rate": _rate(succeeded, decided),
    }
    for name in CATEGORIES:
        if name != "status":
            result[f"by_{name}"] = _values(counters, name)
    result["fees"] = {
        "total_minor": counters.get("fees_minor", 0),
        "quoted_minor": counters.get("quoted_fee_minor", 0),
        "by_kind_minor": {k: counters.get(c, 0) for k, c in FEES_BY_KIND.items() if c in SUMMED},
        "by_payer_minor": {p: counters.get(c, 0) for p, c in FEES_BY_PAYER.items() if c in SUMMED},
    }
    result["latency"] = {m: latency_figures(latency.get(m, {})) for m in LATENCIES}
    return result


def series_point(day: str, counters: Mapping[str, int]) -> dict[str, Any]:
    """One day of the per-day series: that day's requests and what became of them."""
    return {
        "day": day,
        "requests": counters.get("intercepts", 0),
        "cancels": counters.get("outcome__cancelled", 0),
        "intercepts": counters.get("outcome__succeeded", 0),
        "failures": counters.get("outcome__failed", 0),
    }


def add_counters(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, n in more.items():
        into[name] = into.get(name, 0) + n


def latency_series(rows: Sequence[Row]) -> dict[str, dict[int, int]]:
    """Histograms by measure from (measure, bucket, n) rows."""
    histograms: dict[str, dict[int, int]] = {}
    for r in rows:
        h = histograms.setdefault(r["measure"], {})
        h[int(r["bucket"])] = h.get(int(r["bucket"]), 0) + int(r["n"])
    return histograms


# ---- risk before acting ------------------------------------------------------------

MIN_CASES = 20
"""Decided past cases a bucket needs before its rate is given as an estimate."""


def risk_of(bucket: Mapping[str, int] | None) -> dict[str, Any]:
    """The estimate one bucket of a merchant's history gives: how often the carrier
    stopped the parcel, and the fees a decided intercept cost on average."""
    decided = int(bucket["decided"]) if bucket else 0
    succeeded = int(bucket["succeeded"]) if bucket else 0
    fees = int(bucket["fees_minor"]) if bucket else 0
    enough = decided >= MIN_CASES
    return {
        "cases": decided,
        "enough_history": enough,
        "success_probability": round(succeeded / decided, 4) if enough else None,
        "likely_fee_minor": round(fees / decided) if enough else None,
        "note": None
        if enough
        else f"not enough history: {decided} decided case(s) here, {MIN_CASES} needed",
    }


RISK_BUCKET = ("carrier", "action", "parcel_stage", "since_pickup")
"""What a bucket of the risk table is: the finest estimate."""
RISK_FALLBACK = RISK_BUCKET[:-1]
"""The coarser bucket an estimate falls back to when the finest one has fewer than
`MIN_CASES` decided cases, or the time since pickup is not known: every time since pickup
of the same carrier, action and parcel stage."""


def risk_table(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Every bucket of a history with its rate: the table the estimates are read from."""
    return [
        {**{k: r[k] for k in RISK_BUCKET}, "requests": int(r["cases"]), **risk_of(r)} for r in rows
    ]


def _summed(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    total = dict.fromkeys(RISK_COUNTERS, 0)
    for r in rows:
        for c in RISK_COUNTERS:
            total[c] += int(r[c])
    return total


def estimate(history: Iterable[Mapping[str, Any]], bucket: Mapping[str, str]) -> dict[str, Any]:
    """The estimate for one bucket (`RISK_BUCKET`'s values) from a history's rows: the
    bucket's own rate when it has `MIN_CASES` decided cases and a known time since pickup,
    else that of its carrier, action and stage over every time since pickup
    (`RISK_FALLBACK`), or "not enough history". `based_on` names the bucket used."""
    coarse = tuple(bucket[k] for k in RISK_FALLBACK)
    same = [r for r in history if tuple(r[k] for k in RISK_FALLBACK) == coarse]
    exact = [r for r in same if r["since_pickup"] == bucket["since_pickup"]]
    if bucket["since_pickup"] != UNKNOWN_PICKUP:
        fine = risk_of(_summed(exact))
        if fine["enough_history"]:
            return {**fine, "based_on": list(RISK_BUCKET)}
    found = risk_of(_summed(same))
    if found["enough_history"] and bucket["since_pickup"] != UNKNOWN_PICKUP:
        found["note"] = (
            f"fewer than {MIN_CASES} decided cases {bucket['since_pickup']} after pickup: "
            "the estimate over every time since pickup"
        )
    return {**found, "based_on": list(RISK_FALLBACK)}


def calibration(before: Iterable[Row], during: Iterable[Row]) -> dict[str, Any]:
    """How well the estimates made from the history before a window matched the outcomes
    in it, per bucket: the rate estimated (as `estimate` gives it, fallback included), the
    rate observed, and over all buckets with an estimate, the successes expected against
    those that happened."""
    prior = list(before)
    buckets, expected, happened, cases = [], 0.0, 0, 0
    for r in during:
        key = {k: r[k] for k in RISK_BUCKET}
        decided, succeeded = int(r["decided"]), int(r["succeeded"])
        if not decided:
            continue
        found = estimate(prior, key)
        observed = round(succeeded / decided, 4)
        buckets.append(
            {
                **key,
                "estimated": found["success_probability"],
                "estimated_from": found["cases"],
                "based_on": found["based_on"],
                "observed": observed,
                "decided": decided,
            }
        )
        if found["enough_history"]:
            expected += found["success_probability"] * decided
            happened += succeeded
            cases += decided
    return {
        "buckets": buckets,
        "decided_with_estimate": cases,
        "expected_successes": round(expected, 1),
        "successes": happened,
    }
