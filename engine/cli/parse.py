"""Turning what a person types into domain values, with errors that say what is wrong."""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

from domain.text import input_text
from domain.vocabulary import AfterSaleStatus
from engine import instants
from engine.cli import context

_AMOUNT = re.compile(r"\d+(\.\d+)?")


def minor_units(text: str, what: str = "amount") -> int:
    """'199.00' -> 19900; refuses negatives, more than two decimals and non-numbers.

    Only plain decimal digits: `1e3` or `0x10` read as numbers by Python would turn a
    typo into a different amount of money.
    """
    if text.strip().startswith("-"):
        raise typer.BadParameter(f"{what} {text!r} must be zero or more")
    if not _AMOUNT.fullmatch(text.strip()):
        raise typer.BadParameter(f"{what} {text!r} is not a number like 199.00")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{what} {text!r} is not a number like 199.00") from None
    minor = value * 100
    if minor != minor.to_integral_value():
        raise typer.BadParameter(f"{what} {text!r} has more than two decimals")
    if minor > 10**12:
        raise typer.BadParameter(f"{what} {text!r} is larger than the engine accepts")
    return int(minor)


def instant(text: str, what: str = "time") -> datetime:
    """An ISO 8601 time with its zone; a date alone is the start of that day in the
    package center's zone (`INTERCEPT_TIMEZONE`)."""
    try:
        return instants.instant(text, context.settings().timezone)
    except instants.BadInstant as error:
        raise typer.BadParameter(f"{what} {error}") from None


def since_pickup(picked_up_at: str | None) -> str:
    """The time-since-pickup bucket of a `--picked-up-at` typed now (`unknown` when not
    typed); a pickup in the future is refused."""
    from engine import usecases
    from engine.composition import system_clock

    now = system_clock()
    at = instant(picked_up_at, "--picked-up-at") if picked_up_at else None
    if at is not None and at > now:
        raise typer.BadParameter(f"--picked-up-at {picked_up_at} is in the future")
    return usecases.since_pickup_of(at, now)


def carrier(text: str) -> str:
    """The carrier code, upper-cased: `zto` is ZTO.

    Whether the catalog has it is checked once the command is built; a code not in the
    form of one is refused by the command's own validation, with its other fields' errors.
    """
    return text.strip().upper()


def carriers(text: str) -> frozenset[str]:
    found = {part.strip().upper() for part in text.split(",") if part.strip()}
    if not found:
        raise typer.BadParameter("give at least one carrier, e.g. ZTO,SF")
    return frozenset(carrier(code) for code in found)


def readable_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise typer.BadParameter(f"cannot read {path}: {error.strerror}") from None


def text(value: str | None) -> str | None:
    """Free text (a note, an address) under the rule the HTTP API applies too: no control
    characters but tab and newline, no bidirectional overrides (`domain.text`)."""
    if value is None:
        return None
    try:
        return input_text(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def after_sale_statuses(text: str, what: str) -> frozenset[AfterSaleStatus]:
    """'refund_requested,return_requested' -> the statuses; empty text is none."""
    found = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.add(AfterSaleStatus(part))
        except ValueError:
            known = ", ".join(AfterSaleStatus)
            raise typer.BadParameter(
                f"{what}: {part!r} is not an after-sale status ({known})"
            ) from None
    return frozenset(found)


_DURATION = re.compile(r"(\d{1,6})([mhd])")
_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}


def minutes(text: str | None, what: str) -> int | None:
    """'2h' -> 120, '90m' -> 90, '2d' -> 2880; None when not given."""
    if text is None:
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise typer.BadParameter(f"{what} {text!r} is not a duration like 90m, 2h or 2d")
    return int(match.group(1)) * _MINUTES[match.group(2)]
