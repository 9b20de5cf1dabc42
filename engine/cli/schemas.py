"""`intercept schemas export`: write the event contracts (JSON Schemas, AsyncAPI) to schemas/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine.cli.output import console, emit_json, errors

if TYPE_CHECKING:
    from engine.schema_evolution import Review

app = typer.Typer(help="The published event contracts under schemas/.", no_args_is_help=True)


@app.command()
def export(
    out: Path = typer.Option(None, help="The schemas folder to write.", show_default="schemas/"),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if out of date."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Write a JSON Schema per event type and version, the envelope's, and asyncapi.yaml.

    A change that breaks a published version is refused (exit 3) with what to do instead.
    """
    # Loaded here: making the contracts builds every schema, which no other command needs.
    from engine.event_contracts import PUBLISHED, contract_files
    from engine.schema_evolution import review

    out = out or PUBLISHED
    files = contract_files()
    found = review(out, files)
    if found.refused:
        _refuse(found, json)
    if check:
        return _report_check(found, out, json)
    for name in (*found.missing, *found.outdated):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
    if json:
        return emit_json({"written": found.missing + found.outdated, "folder": str(out)})
    for name in found.missing + found.outdated:
        console.print(f"wrote {out / name}", markup=False)
    if found.current:
        console.print(f"{out}: all {len(files)} files already current", markup=False)


def _refuse(found: Review, json: bool) -> None:
    messages = [
        f"{name} is published but no class makes it any more: a published version "
        "cannot be withdrawn; keep its payload in the event's `past_payloads`"
        for name in found.withdrawn
    ]
    for name, problems in found.breaking.items():
        event_type, version = Path(name).stem.rsplit(".v", 1)
        messages.append(
            f"{name} would break its readers: {'; '.join(problems)}. "
            + _remedy(event_type, int(version))
        )
    if json:
        emit_json(
            {
                "error": {
                    "type": "refused",
                    "rule": "schema_evolution",
                    "message": "; ".join(messages),
                    "messages": messages,
                }
            }
        )
    else:
        for message in messages:
            errors.print(f"error: {message} [rule: schema_evolution]", markup=False, soft_wrap=True)
    raise typer.Exit(3)


def _report_check(found: Review, out: Path, json: bool) -> None:
    stale = found.missing + found.outdated
    if json:
        emit_json({"current": found.current, "stale": stale})
    elif stale:
        for name in stale:
            state = "missing" if name in found.missing else "out of date"
            errors.print(
                f"{out / name} is {state}: run `intercept schemas export`",
                markup=False,
                soft_wrap=True,
            )
    else:
        console.print("all contract files are current", markup=False)
    if stale:
        raise typer.Exit(1)


def _remedy(event_type: str, version: int) -> str:
    from engine.schema_evolution import remedy

    return remedy(event_type, version)
