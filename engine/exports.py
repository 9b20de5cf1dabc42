"""Exports of the package center's rows: CSV (for Excel too) and Parquet.

Rows are read a page at a time (keyset pagination, newest first) and written as they
come, so an export of any size holds one page in memory. The columns are the row's
declaration (projections/row.py), in its order; money stays in integer minor units.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from engine import usecases
from projections.row import ROW

COLUMNS: tuple[str, ...] = tuple(c.name for c in ROW)
PAGE = 2000
BOM = "\ufeff"
"""Excel reads a CSV as UTF-8 only when it starts with this mark; without it, Chinese
text comes out garbled."""


class ExportUnavailable(RuntimeError):
    """The format's library is not installed: the message says how to install it."""


def rows(
    engine: usecases.Engine, request: usecases.ListRequest, now: datetime
) -> Iterator[dict[str, Any]]:
    """Every row the package center's filters select, newest first, a page at a time."""
    cursor = None
    while True:
        page = usecases.list_intercepts(engine, replace(request, limit=PAGE, cursor=cursor), now)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def count(engine: usecases.Engine, request: usecases.ListRequest, now: datetime) -> int:
    """How many rows the export will write (for a progress bar)."""
    return usecases.count_intercepts(engine, request, now)


def csv_chunks(rows: Iterable[dict[str, Any]], bom: bool = False) -> Iterator[str]:
    """The CSV text in pieces: the header, then a piece per page of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    head = buffer.getvalue()
    yield (BOM + head) if bom else head
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
        if n % PAGE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(
    rows: Iterable[dict[str, Any]],
    out: IO[str],
    bom: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> None:
    for chunk in csv_chunks(_counted(rows, progress), bom):
        out.write(chunk)


def _counted(rows: Iterable[dict[str, Any]], progress: Callable[[int], None]) -> Iterator[dict]:
    for row in rows:
        progress(1)
        yield row


def parquet_schema() -> Any:
    pa = _pyarrow()
    types = {"TEXT": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int64()}
    return pa.schema([pa.field(c.name, types[c.sql], nullable=c.nullable) for c in ROW])


def write_parquet(
    rows: Iterable[dict[str, Any]],
    path: Path,
    progress: Callable[[int], None] = lambda n: None,
) -> None:
    """A Parquet file written a row group per page: memory stays one page."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    schema = parquet_schema()
    with pq.ParquetWriter(path, schema) as writer:
        page: list[dict[str, Any]] = []
        for row in rows:
            page.append(row)
            if len(page) == PAGE:
                writer.write_table(pa.Table.from_pylist(page, schema=schema))
                progress(len(page))
                page = []
        if page:
            writer.write_table(pa.Table.from_pylist(page, schema=schema))
            progress(len(page))


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ExportUnavailable(
            "Parquet exports need pyarrow: pip install 'intercept[analytics]'"
        ) from None
    return pyarrow


def check_format(name: str) -> None:
    if name == "parquet":
        _pyarrow()
