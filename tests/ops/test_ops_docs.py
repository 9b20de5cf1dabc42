"""The operations docs, dashboard and alert rules name the metrics the processes serve."""

import json
import re
from pathlib import Path

import yaml

from api.operations import ApiMetrics
from engine.metrics import ProcessMetrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\bintercept_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def served() -> set[str]:
    names = set()
    for registry in (ProcessMetrics("test").registry, ApiMetrics().registry):
        for family in registry.collect():
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_every_served_metric_is_documented_and_every_documented_one_served():
    text = (DOCS / "operations.md").read_text()
    table = {m for m in re.findall(r"^\| `(intercept_[a-z_]+)` \|", text, re.M)}
    assert table == served()


def test_names_follow_prometheus_conventions():
    for name in served():
        if name.endswith("_total"):
            continue
        assert name.endswith(
            ("_seconds", "_events", "_records", "_commands", "_position", "_leader")
        ), name


def test_the_dashboard_and_the_alert_rules_use_only_served_metrics():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text())["groups"][0]["rules"]
    expressions += [r["expr"] for r in rules]
    used = {base(n) for e in expressions for n in NAME.findall(e)}
    assert used and used <= served(), used - served()
    documented = (DOCS / "operations.md").read_text()
    for rule in rules:
        assert f"`{rule['alert']}`" in documented, f"no runbook line for {rule['alert']}"
