"""Printing results for people (rich) and machines (--json)."""

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return ""
    text = f"{minor // 100}.{minor % 100:02d}"
    return f"{text} {currency}".strip()


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    return t
