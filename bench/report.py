"""Writes a run's results as a markdown table and a JSON file under bench/results/."""

import json
from pathlib import Path

from bench.targets import check


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        text = f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _rates_table(section: dict) -> list[str]:
    lines = ["| measured | median | unit | runs |", "|---|---:|---|---|"]
    for name, rate in section["rates"].items():
        runs = ", ".join(f"{s:,.0f}" for s in rate["samples"])
        lines.append(f"| {name} | {_fmt(rate['median'])} | {rate['unit']} | {runs} |")
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {value:.3f} |" for name, value in section["ratios"].items()]
    return lines


def _latency_table(latency: dict) -> list[str]:
    lines = ["| path | n | p50 ms | p90 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    rows = [("embedded: command issued to row visible", latency.get("embedded"))]
    kafka = latency.get("kafka") or {}
    rows += [
        ("Kafka: command returned to row visible", kafka.get("from_return")),
        ("Kafka: command issued to row visible", kafka.get("from_issue")),
    ]
    for label, p in rows:
        if p:
            lines.append(
                f"| {label} | {p['n']} | {p['p50_ms']:.2f} | {p['p90_ms']:.2f} | "
                f"{p['p99_ms']:.2f} | {p['max_ms']:.2f} |"
            )
    return lines


def _growth_table(growth: dict) -> list[str]:
    lines = [
        "| intercepts | events | generate s | rebuild s | events/s | peak RSS MiB | "
        "RSS vs smallest | store B/event | payload B/event | projection B/event |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in growth["sizes"]:
        vs = growth["peak_rss_vs_smallest"][str(s["intercepts"])]
        lines.append(
            f"| {s['intercepts']:,} | {s['events']:,} | {s['generate_seconds']:.1f} | "
            f"{s['rebuild_seconds']:.1f} | {s['rebuild_events_per_s']:,.0f} | "
            f"{s['peak_rss_mib']:.1f} | {vs:.2f} | {s['event_store_bytes_per_event']:.0f} | "
            f"{s['payload_bytes_per_event']:.0f} | "
            f"{s['projection_bytes_per_intercept_event']:.0f} |"
        )
    return lines


def _http_table(http: dict) -> list[str]:
    per_run = http["commands_per_run"]
    lines = [
        f"commands per run: {per_run['c1']} at c=1, {per_run['c16']} at c=16 (half requests, "
        "half their cancels)",
        "",
        *_rates_table(http),
        "",
        "| server and concurrency | n | p50 ms | p90 ms | p99 ms | max ms | "
        "server CPU us/request | load client CPU us/request | commands per batch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in http["latency"].items():
        cpu = http["client_cpu_us_per_request"].get(name)
        server = http.get("server_cpu_us_per_request", {}).get(name)
        batch = http.get("mean_batch_commands", {}).get(name)
        lines.append(
            f"| {name} | {p['n']} | {p['p50_ms']:.2f} | {p['p90_ms']:.2f} | "
            f"{p['p99_ms']:.2f} | {p['max_ms']:.2f} | {_fmt(server)} | {_fmt(cpu)} | "
            f"{_fmt(batch)} |"
        )
    return lines


def _cli_table(cli: dict) -> list[str]:
    lines = ["| command | median wall s | runs |", "|---|---:|---|"]
    for name, row in cli["commands"].items():
        runs = ", ".join(f"{s:.3f}" for s in row["samples"])
        lines.append(f"| `{name}` | {row['median']:.3f} | {runs} |")
    return lines


def _stats_table(stats: dict) -> list[str]:
    return [
        "| intercepts | daily cells | latency cells | answer s | one merchant by day s | "
        "`intercept stats` command s | grouped scan of the rows s | scan vs answer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {stats['intercepts']:,} | {stats['daily_cells']:,} | {stats['latency_cells']:,} | "
        f"{stats['answer_seconds']:.3f} | {stats['merchant_by_day_seconds']:.3f} | "
        f"{stats['command_seconds']:.2f} | {stats['scan_seconds']:.3f} | "
        f"{stats['scan_vs_answer']:.1f} |",
    ]


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark {results['started']} ({results['mode']}, {results['backend']})",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"load average at start {m['load_average']}",
        f"- {m['os']}, Python {m['python']}, SQLite {m['sqlite']}, commit {m['commit']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v),
        f"- wall time: {results['seconds']:.0f} s",
        "",
        "Rates are medians of repeated runs; each ratio divides two medians measured "
        "side by side in this run.",
        "",
        "## Targets",
        "",
        "| target | wanted | measured | met |",
        "|---|---|---:|---|",
    ]
    for row in check(results):
        met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
        unit = row["unit"] if row["unit"] != "x" else ""
        lines.append(
            f"| {row['target']} | {row['wanted']} | {_fmt(row['measured'], unit)} | {met} |"
        )
    titles = {"commands": "1. Commands", "rebuild": "2. Rebuild", "kafka": "3. Kafka"}
    for key, title in titles.items():
        if key in results:
            section = results[key]
            about = ", ".join(
                f"{k} {v}"
                for k, v in section.items()
                if k not in ("rates", "ratios", "cpu_us_per_command")
            )
            lines += ["", f"## {title}", "", about, "", *_rates_table(section)]
            if "cpu_us_per_command" in section:
                lines += ["", "| CPU of the process per command | median |", "|---|---:|"]
                lines += [
                    f"| {name} | {us:,.0f} us |"
                    for name, us in section["cpu_us_per_command"].items()
                ]
    if "latency" in results:
        lines += ["", "## 4. Latency", "", *_latency_table(results["latency"])]
    if "growth" in results:
        lines += ["", "## 5. Growth", "", *_growth_table(results["growth"])]
    if "http" in results:
        lines += ["", "## 6. HTTP", "", *_http_table(results["http"])]
    if "cli" in results:
        lines += ["", "## 7. CLI start", "", *_cli_table(results["cli"])]
    if "stats" in results:
        lines += ["", "## 8. Statistics", "", *_stats_table(results["stats"])]
    return "\n".join(lines) + "\n"


def write(results: dict, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = results["started"].replace(":", "").replace("-", "")
    md, js = folder / f"{stem}.md", folder / f"{stem}.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps({**results, "targets": check(results)}, indent=2))
    return md, js
