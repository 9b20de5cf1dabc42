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
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")


def events_progress(label: str, quiet: bool) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), EventsPerSecond(),
        TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), disable=quiet, transient=True,
    )
