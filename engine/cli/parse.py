"""Turning what a person types into domain values, with errors that say what is wrong."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer


def minor_units(text: str, what: str = "amount") -> int:
    """'199.00' -> 19900; refuses negatives, more than two decimals and non-numbers."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{what} {text!r} is not a number like 199.00") from None
    if not value.is_finite() or value < 0:
        raise typer.BadParameter(f"{what} {text!r} must be zero or more")
    minor = value * 100
    if minor != minor.to_integral_value():
        raise typer.BadParameter(f"{what} {text!r} has more than two decimals")
    if minor > 10**12:
        raise typer.BadParameter(f"{what} {text!r} is larger than the engine accepts")
    return int(minor)


def instant(text: str, what: str = "time") -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{what} {text!r} is not an ISO 8601 time like 2026-11-26T10:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{what} {text!r} needs a timezone, e.g. +08:00 or Z")
    return moment


def carriers(text: str) -> set[str]:
    found = {part.strip().upper() for part in text.split(",") if part.strip()}
    if not found:
        raise typer.BadParameter("give at least one carrier, e.g. ZTO,SF")
    return found


def readable_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {path}: {error.strerror}") from None
