"""`intercept export`: the package center's rows to a CSV or Parquet file, streamed."""

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domain.vocabulary import AfterSaleStatus, Status
from engine import exports, usecases
from engine.cli import context, parse
from engine.cli.output import errors
from engine.composition import system_clock


def export(
    output: Path = typer.Option(..., "--output", "-o", help="The file to write."),
    format: str = typer.Option("csv", "--format", help="csv or parquet."),
    bom: bool = typer.Option(
        False, "--bom", help="CSV: start with a UTF-8 byte order mark, so Excel reads Chinese text."
    ),
    merchant: str = typer.Option(None, help="Merchant id (all merchants when omitted)."),
    days: int = typer.Option(
        None, min=1, max=3650, help="Requested within the last N days (default 90)."
    ),
    since: str = typer.Option(None, help="Requested at or after (ISO 8601 with timezone)."),
    until: str = typer.Option(None, help="Requested before (ISO 8601 with timezone)."),
    status: Status = typer.Option(None),
    carrier: str = typer.Option(None),
    after_sale_status: AfterSaleStatus = typer.Option(None),
    conflicts: bool = typer.Option(False, "--conflicts", help="Only intercepts with a conflict."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Write the package center's rows (the list's filters), newest first, one page in memory."""
    if format not in ("csv", "parquet"):
        raise typer.BadParameter(f"--format {format}: expected csv or parquet")
    if days is not None and (since or until):
        raise typer.BadParameter("use either --days or --since/--until, not both")
    if bom and format != "csv":
        raise typer.BadParameter("--bom is for CSV only")
    try:
        exports.check_format(format)
    except exports.ExportUnavailable as error:
        errors.print(f"error: {error}")
        raise typer.Exit(2) from None
    request = usecases.ListRequest(
        merchant_id=merchant,
        days=days,
        since=parse.instant(since, "--since") if since else None,
        until=parse.instant(until, "--until") if until else None,
        status=status.value if status else None,
        carrier=carrier.upper() if carrier else None,
        after_sale_status=after_sale_status.value if after_sale_status else None,
        conflicts_only=conflicts,
    )
    engine = context.reader()
    now = system_clock()
    total = exports.count(engine, request, now)
    rows = exports.rows(engine, request, now)
    # Written beside the target and renamed into place: a failed export leaves no half file.
    partial = output.with_name(f".{output.name}.partial")
    progress = Progress(
        TextColumn(f"exporting to {output}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("rows", total=total)
            advance = lambda n: progress.advance(task, n)  # noqa: E731
            if format == "csv":
                # newline="": the CSV writer's own CRLF line ends, untranslated.
                with partial.open("w", encoding="utf-8", newline="") as out:
                    exports.write_csv(rows, out, bom=bom, progress=advance)
            else:
                exports.write_parquet(rows, partial, progress=advance)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    errors.print(f"{total} rows written to {output} ({format})")
