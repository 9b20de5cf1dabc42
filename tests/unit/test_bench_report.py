"""The benchmark's arithmetic: percentiles, ratios and target verdicts."""

from bench.measure import Rate, percentiles, ratio
from bench.targets import check, ratios


def test_percentiles_are_nearest_rank_in_milliseconds():
    p = percentiles([n / 1000 for n in range(1, 101)])  # 1..100 ms
    assert (p["n"], p["p50_ms"], p["p90_ms"], p["p99_ms"], p["max_ms"]) == (100, 50, 90, 99, 100)


def test_a_ratio_divides_medians():
    engine, limit = Rate("x/s"), Rate("x/s")
    for count in (10, 30, 20):
        engine.add(count, 1.0)
    for count in (100, 40, 50):
        limit.add(count, 1.0)
    assert ratio(engine, limit) == 20 / 50


def test_targets_are_judged_on_what_was_measured_and_only_that():
    results = {
        "commands": {
            "ratios": {"engine_vs_raw_requests": 0.79, "batch_vs_one_by_one_requests": 12.0}
        },
        "latency": {"embedded": {"p99_ms": 19.0}},
    }
    verdicts = {row["target"]: row["met"] for row in check(results)}
    assert verdicts["requests, engine vs raw eventsourcing"] is False
    assert verdicts["batched vs one-by-one requests"] is True
    assert verdicts["p99 command-to-projection latency, embedded"] is True
    assert verdicts["rebuild vs raw notification-log read"] is None  # not run
    assert ratios(results) == {
        "commands.engine_vs_raw_requests": 0.79,
        "commands.batch_vs_one_by_one_requests": 12.0,
        "latency.embedded_p99_ms": 19.0,
    }
