"""A progress bar for long reads: events per second and time remaining, on stderr."""

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class EventsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        # Rich needs a few samples for its own speed; a short replay ends before them.
        elapsed = task.elapsed or 0
        speed = task.finished_speed or task.speed or (task.completed / elapsed if elapsed else 0)
        return Text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")


def events_progress(label: str, quiet: bool) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        EventsPerSecond(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )
