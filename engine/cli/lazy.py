"""The top-level command group, whose commands are imported only when one is run.

Scripts call the CLI in loops: building every command would import every module the
commands use (the write side, Kafka's client, the web stack) before running one. The
group knows each command by its name, where it is (`module:attribute`, a Typer app or a
command function) and its one-line help; `--help` lists them from that alone.
"""

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    target: str
    """`module:attribute`: a `typer.Typer` app (a group) or a command function."""
    summary: str
    """What `intercept --help` says of it: the first paragraph of the command's own help
    (a test holds the two equal)."""

    def load(self, name: str) -> Command:
        module, attribute = self.target.split(":")
        found = getattr(importlib.import_module(module), attribute)
        # Built as `app.add_typer` / `app.command` would build it inside the full app.
        holder = typer.Typer()
        holder.callback()(_nothing)
        if isinstance(found, typer.Typer):
            holder.add_typer(found, name=name)
        else:
            holder.command(name)(found)
        group = typer.main.get_group(holder)
        return group.commands[name]


def _nothing() -> None:
    """Makes the holder a group, so that its one command keeps its name."""


class Commands(Mapping[str, Command]):
    """The commands by name, each imported the first time it is asked for."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries = entries
        self._loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            self._loaded[name] = self.entries[name].load(name)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def lazy_group(entries: Mapping[str, Entry]) -> type[TyperGroup]:
    """The group class for `typer.Typer(cls=...)`, over these entries, in their order."""

    class LazyGroup(TyperGroup):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.commands = Commands(entries)  # type: ignore[assignment]
            self._listing = False

        def list_commands(self, ctx: Context) -> list[str]:
            return list(entries)

        def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
            if self._listing:  # the help lists names and summaries: import nothing
                entry = entries.get(cmd_name)
                if entry is None:
                    return None
                # As short help, so that the listing shows the whole summary, never cut.
                return TyperCommand(cmd_name, help=entry.summary, short_help=entry.summary)
            return self.commands.get(cmd_name)

        def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

    return LazyGroup
