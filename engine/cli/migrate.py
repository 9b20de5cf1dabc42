"""`intercept migrate`: create or upgrade the tables, explicitly, before processes start."""

import typer

from engine.cli import context
from engine.cli.output import console, emit_json
from engine.composition import migrate_storage
from engine.settings import masked


def migrate(json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create or upgrade the event store and projection tables. Safe to run again.

    On PostgreSQL it makes tables, not databases: create the event store's and the
    projections' databases first (e.g. `createdb intercept_events`); a missing one is named.
    """
    settings = context.settings()
    done = migrate_storage(settings)
    where = {
        "event_store_at": masked(settings.event_store or f"sqlite:///{settings.event_store_path}"),
        "projections_at": masked(settings.projections or f"sqlite:///{settings.projections_path}"),
    }
    if json:
        return emit_json({**done, **where})
    schema = done["projections_schema"]
    change = (
        "already current"
        if schema["before"] == schema["after"]
        else f"upgraded from {schema['before']}"
    )
    console.print(
        f"event store ready at {where['event_store_at']}; projections at "
        f"{where['projections_at']}: schema version {schema['after']} ({change})"
    )
