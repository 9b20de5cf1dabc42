"""`intercept stats`: the package center's statistics, as tables, JSON or a chart."""

from pathlib import Path
from typing import Any

import typer

from domain.vocabulary import AfterSaleStatus
from engine import reading
from engine.cli import context, parse
from engine.cli.output import console, emit_json, errors, money, table
from engine.composition import system_clock


def stats(
    merchant: str = typer.Option(None, help="Merchant id (all merchants when omitted)."),
    days: int = typer.Option(
        None, min=1, max=3650, help="Requested within the last N days (default 90)."
    ),
    since: str = typer.Option(None, help="Requested on or after this day (ISO 8601)."),
    until: str = typer.Option(None, help="Requested before (ISO 8601); its day counts whole."),
    carrier: str = typer.Option(None),
    after_sale_status: AfterSaleStatus = typer.Option(None),
    by: str = typer.Option(None, help="Also per group: carrier, day or merchant."),
    chart: Path = typer.Option(
        None, help="Also draw the per-day series and per-carrier success rates: .png, .svg, .html."
    ),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts, rates, reasons, fees and latency percentiles over whole days of request
    in the package center's zone (INTERCEPT_TIMEZONE), the days `intercept list` filters by."""
    if days is not None and (since or until):
        raise typer.BadParameter("use either --days or --since/--until, not both")
    if by is not None and by not in reading.STATS_GROUPS:
        raise typer.BadParameter(f"--by {by}: expected one of {', '.join(reading.STATS_GROUPS)}")
    if chart is not None:
        _check_chart(chart)
    request = reading.StatsRequest(
        merchant_id=merchant,
        days=days,
        since=parse.instant(since, "--since") if since else None,
        until=parse.instant(until, "--until") if until else None,
        carrier=carrier.upper() if carrier else None,
        after_sale_status=after_sale_status.value if after_sale_status else None,
        by=by,
    )
    figures = reading.statistics(context.read_side(), request, system_clock())
    if chart is not None:
        from engine import charts

        charts.draw(figures, chart)
        errors.print(f"chart written to {chart}")
    if json:
        return emit_json(figures)
    show(figures, by)


def _check_chart(path: Path) -> None:
    from engine import charts

    try:
        charts.check(path)
    except charts.ChartUnavailable as error:
        raise typer.BadParameter(f"--chart {path}: {error}") from None


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _latency(f: dict[str, Any], measure: str) -> str:
    lat = f["latency"][measure]
    if not lat["n"]:
        return ""
    return " / ".join(_duration(lat[f"{p}_seconds"]) for p in ("p50", "p90", "p99"))


def _group_rows(groups: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            name,
            f["intercepts"],
            f["cancelled"],
            _pct(f["cancel_rate"]),
            f["succeeded"],
            f["decided"],
            _pct(f["success_rate"]),
            _latency(f, "to_acceptance"),
            _latency(f, "to_outcome"),
        ]
        for name, f in groups.items()
    ]


_GROUP_COLUMNS = [
    "intercepts",
    "cancelled",
    "cancel rate",
    "intercepted",
    "decided",
    "success rate",
    "to acceptance p50/p90/p99",
    "to outcome p50/p90/p99",
]


def show(f: dict[str, Any], by: str | None) -> None:
    w = f["window"]
    scope = ", ".join(
        f"{k}={v}" for k, v in w.items() if v is not None and k not in ("since_day", "until_day")
    )
    console.print(
        f"requested from {w['since_day'] or 'the beginning'} to "
        f"{'before ' + w['until_day'] if w['until_day'] else 'now'} (whole UTC days)"
        + (f"; {scope}" if scope else "")
    )
    console.print(table("overall", ["", *_GROUP_COLUMNS], _group_rows({"all": f})))
    console.print(
        table("by status", ["status", "intercepts"], [[s, n] for s, n in f["by_status"].items()])
    )
    for key, value in f.items():
        if key.startswith("by_") and key not in ("by_status", "by_carrier") and value:
            if all(isinstance(v, int) for v in value.values()):
                name = key.removeprefix("by_")
                console.print(
                    table(
                        name.replace("_", " "), [name, "intercepts"], list(map(list, value.items()))
                    )
                )
    fees = f["fees"]
    lines = [["total", money(fees["total_minor"])], ["quoted", money(fees["quoted_minor"])]]
    lines += [[f"kind: {k}", money(n)] for k, n in fees["by_kind_minor"].items() if n]
    lines += [[f"paid by: {p}", money(n)] for p, n in fees["by_payer_minor"].items() if n]
    console.print(table("fees", ["fees", "amount"], lines))
    console.print(table("by carrier", ["carrier", *_GROUP_COLUMNS], _group_rows(f["by_carrier"])))
    calibration = f.get("calibration")
    if calibration and calibration["buckets"]:
        console.print(
            table(
                "risk estimates against outcomes (estimated from the days before the window)",
                [
                    "carrier",
                    "action",
                    "parcel stage",
                    "estimated",
                    "from cases",
                    "observed",
                    "decided",
                ],
                [
                    [
                        b["carrier"],
                        b["action"],
                        b["parcel_stage"],
                        _pct(b["estimated"]) or "not enough history",
                        b["estimated_from"],
                        _pct(b["observed"]),
                        b["decided"],
                    ]
                    for b in calibration["buckets"]
                ],
            )
        )
        console.print(
            f"with an estimate: {calibration['expected_successes']} successes expected, "
            f"{calibration['successes']} happened ({calibration['decided_with_estimate']} decided)"
        )
    if by in ("day", "merchant"):
        console.print(table(f"by {by}", [by, *_GROUP_COLUMNS], _group_rows(f[f"by_{by}"])))
    else:
        console.print(
            table(
                "per day (by day of request)",
                ["day", "requests", "cancels", "intercepts", "failures"],
                [
                    [p["day"], p["requests"], p["cancels"], p["intercepts"], p["failures"]]
                    for p in f["series"]
                ],
            )
        )
