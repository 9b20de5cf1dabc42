"""`intercept show ID --as-of TIME | --occurred-as-of TIME`: one intercept at a moment."""

from typing import TYPE_CHECKING
from uuid import UUID

import typer

from engine.cli import context, parse
from engine.cli.output import fail

if TYPE_CHECKING:
    from engine.usecases import Cutoff

AS_OF = typer.Option(
    None,
    "--as-of",
    help=("As the engine knew it at this time (recorded_at), ISO 8601; read from the event store."),
)
OCCURRED_AS_OF = typer.Option(
    None,
    "--occurred-as-of",
    help=(
        "What had happened by this time by the merchant's and carrier's own clocks (occurred_at)."
    ),
)


def cutoff(as_of: str | None, occurred_as_of: str | None) -> "Cutoff | None":
    if as_of and occurred_as_of:
        raise typer.BadParameter("use either --as-of or --occurred-as-of, not both")
    if not (as_of or occurred_as_of):
        return None
    # A moment in the past is read from the event store's own history: only then is the
    # write side built (`show` without a cutoff reads the projections alone).
    from engine import usecases

    if as_of:
        return usecases.Cutoff(parse.instant(as_of, "--as-of"), "recorded")
    if occurred_as_of:
        return usecases.Cutoff(parse.instant(occurred_as_of, "--occurred-as-of"), "occurred")
    return None


def intercept_at(
    intercept: str, at: "Cutoff", json: bool = False
) -> tuple[dict | None, list[dict]]:
    """The row and timeline at the cutoff, folded from the event store's own history."""
    from engine import usecases

    try:
        iid = UUID(intercept)
    except ValueError:
        raise typer.BadParameter(f"{intercept!r} is not an intercept id") from None
    try:
        return usecases.intercept_as_of(context.engine(), iid, at)
    except usecases.Unreadable as error:
        fail(
            f"a stored event of {iid} cannot be read ({error}); run `intercept audit verify`",
            json,
            kind="unreadable",
        )
