"""Builds the engine once per CLI invocation, from the environment and global flags."""

import sys
from typing import TYPE_CHECKING

from typer._click.exceptions import UsageError

from engine.cli.options import overridden, settings
from engine.cli.output import console, errors, fail
from engine.composition import (
    DatabaseBusy,
    build_engine,
    carrier_catalog,
    fresh_read_side,
    with_carriers,
)

if TYPE_CHECKING:
    from engine.carrier_catalog import CarrierCatalog, CarrierRefused
    from engine.composition import Engine
    from engine.reading import Reads


def engine(**more) -> "Engine":
    """The engine a command runs on; embedded, it also sends to connected carriers."""
    return with_carriers(build_engine(settings(**more)))


def write_side(**more) -> "Engine":
    """The engine to read the write side's state from (a policy): it records nothing, so
    it is built without the links to connected carriers."""
    return build_engine(settings(**more))


def catalog() -> "CarrierCatalog":
    """The configured carriers; a carriers file that cannot be read stops the command (exit 2)."""
    from engine.carrier_catalog import CatalogError

    try:
        return carrier_catalog(settings())
    except CatalogError as error:
        raise UsageError(str(error)) from None


def refused_carrier(error: "CarrierRefused") -> UsageError:
    """A request naming a carrier or an action the catalog refuses, naming the option."""
    option = {"carrier": "--carrier", "action": "--action", "carriers": "--carriers"}
    return UsageError(f"invalid input: {option.get(error.field, error.field)}: {error.message}")


def reader(**more) -> "Engine":
    """An engine to read from: in embedded mode caught up first with what others recorded.

    Projections named with --projections are read as they are: that flag is how a view
    built by `replay --into` (as of a past time) is looked at, and catching it up would
    turn it into the present.
    """
    built = build_engine(settings(**more))  # reading sends nothing to carriers
    if built.settings.embedded and not overridden("projections"):
        try:
            built.catch_up_and_mark()
        except DatabaseBusy as error:
            # Reading what is there beats failing: say it may lag, then show it.
            errors.print(f"warning: the projections may lag ({error})")
    return built


def read_side(**more) -> "Reads":
    """What the queries (list, show, stats) read: in embedded mode, when the projections
    already hold everything the event store has, the projections alone, without building
    the write side; otherwise `reader`'s engine, caught up first."""
    chosen = settings(**more)
    if chosen.embedded and not overridden("projections"):
        fresh = fresh_read_side(chosen)
        if fresh is not None:
            return fresh
    return reader(**more)


def confirm(question: str, yes: bool, declined: str, json: bool = False) -> None:
    """Ask on the terminal; exit 1 saying `declined` when the answer is not yes.

    With nobody to answer (stdin closed, or at its end like </dev/null) it is a usage
    error (exit 2): a script must say --yes rather than have a cancel hang or guess.
    """
    if yes:
        return
    out = errors if json else console  # with --json, stdout carries the JSON only
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        raise UsageError("confirmation needed: pass --yes (there is no terminal to ask)")
    out.print(f"{question} [y/N] ", end="")
    answer = stdin.readline()
    if not answer:
        out.print()
        raise UsageError("confirmation needed: pass --yes (there is no terminal to ask)")
    if answer.strip().lower() not in ("y", "yes"):
        fail(declined, json, 1, "declined")
