"""Printing results for people (rich) and machines (--json, engine/cli/as_json.py).

Data is never markup: every console here is made with markup off, so a note such as
`[/bold] x` or `[link=...]` prints as typed wherever it appears (tables included).
Piped output is never wrapped or cut: only a terminal's width limits what is shown.
"""

import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.cli.as_json import emit_json as emit_json  # the commands print from here

# Wide enough that no line of ours is ever folded when the reader is a program.
_PIPE_WIDTH = 100_000


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty()
    return Console(
        stderr=stderr,
        markup=False,  # data is never markup
        highlight=False,  # no colouring of digits inside ids and tracking numbers
        emoji=False,  # ":smile:" in a note stays as typed
        soft_wrap=True,  # a line is as long as it is; the terminal folds it if it must
        width=_PIPE_WIDTH if piped else None,
    )


console = _console(stderr=False)
errors = _console(stderr=True)

STATUS_STYLES = {
    "requested": "cyan",
    "accepted": "blue",
    "intercepted": "green",
    "cancelled": "yellow",
    "failed": "red",
}
CONFLICT_STYLE = "bold red"


def money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return ""
    text = f"{minor // 100}.{minor % 100:02d}"
    return f"{text} {currency}".strip()


def when(value: str | datetime | None) -> str:
    """One form for every time shown to people: ISO 8601 to the second, in UTC, with its Z."""
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else _parse(value)
    if moment is None:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def status(value: str | None) -> Text:
    """A status in its own colour (on a terminal; plain when piped or with NO_COLOR)."""
    return Text(value or "", style=STATUS_STYLES.get(value or "", ""))


def conflict(value: str | None) -> Text:
    return Text(value or "", style=CONFLICT_STYLE if value else "")


def line(*parts: str | Text, sep: str = "  ") -> Text:
    """One output line from plain text and styled parts; nothing in it is read as markup."""
    out = Text()
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(part if isinstance(part, Text) else Text(str(part)))
    return out


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    """A table whose unbroken values (ids, times, key ids) are never cut or folded."""
    cells = [
        [v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in r] for r in rows
    ]
    t = Table(title=Text(title), title_justify="left")
    for i, column in enumerate(columns):
        values = [row[i].plain for row in cells if i < len(row)]
        unbroken = all(" " not in v for v in values)
        longest = max((len(v) for v in values), default=0)
        t.add_column(
            Text(column),
            no_wrap=unbroken,
            min_width=min(longest, 64) if unbroken else None,
            overflow="fold",
        )
    for row in cells:
        t.add_row(*row)
    return t


def fail(message: str, json: bool, code: int = 1, kind: str = "not_found") -> NoReturn:
    """An outcome that is not a success: JSON with --json, otherwise a line on stderr."""
    import typer

    if json:
        emit_json({"error": {"type": kind, "rule": None, "message": message}})
    else:
        errors.print(f"error: {message}", style="red")
    raise typer.Exit(code)
