"""`intercept migrate`: create or upgrade the tables, explicitly, before processes start."""

import typer

from engine.cli import context
from engine.cli.output import console, emit_json
from engine.composition import migrate_storage


def migrate(json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create or upgrade the event store and projection tables. Safe to run again."""
    done = migrate_storage(context.settings())
    if json:
        return emit_json(done)
    schema = done["projections_schema"]
    change = (
        "already current"
        if schema["before"] == schema["after"]
        else f"upgraded from {schema['before']}"
    )
    console.print(f"projection schema version {schema['after']} ({change}); event store ready")
