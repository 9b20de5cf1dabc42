"""A command that touches no server loads no client for one: the CLI starts light.

Kafka's client, the web stack and the metrics server are imported by the commands
that use them, when they run; the top-level group imports only the command run
(engine/cli/lazy.py), and `--help` lists them all from the registry alone. Time is the
benchmark's to measure (bench/cli.py); this holds what is imported.
"""

import inspect
import json
import pkgutil
import subprocess
import sys
from importlib import import_module

import pytest
import typer
from typer.models import ParameterInfo

import engine.cli
from engine.cli.main import COMMANDS

HEAVY = ("kafka", "fastapi", "starlette", "uvicorn", "prometheus_client", "yaml", "psycopg")
# The write side and the ciphers: what the help and the keys need none of.
WRITE_SIDE = (
    "domain.commands",
    "domain.events",
    "engine.usecases",
    "engine.application",
    "engine.privacy",
    "engine.webhooks",
    "eventsourcing",
    "cryptography",
)

_PROBE = """
import contextlib, io, json, sys
sys.argv = ["intercept", *sys.argv[1:]]
from engine.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules(tmp_path, *argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        env={"INTERCEPT_HOME": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return set(json.loads(done.stdout))


def _loaded(tmp_path, *argv: str) -> set[str]:
    return {name.split(".")[0] for name in _modules(tmp_path, *argv)}


def _within(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("policy", "show", "m1"),
        ("list",),
        ("keys", "list"),
        ("show", "nope"),
        ("stats",),
    ],
)
def test_a_light_command_imports_no_client_of_a_server(tmp_path, argv):
    loaded = _loaded(tmp_path, *argv)
    assert "engine" in loaded  # the probe ran the CLI
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_sees_what_a_serving_command_loads(tmp_path):
    # An address that cannot be bound fails at once, but only after uvicorn was loaded.
    loaded = _loaded(tmp_path, "serve", "--host", "256.0.0.1")
    assert "uvicorn" in loaded


@pytest.mark.parametrize("argv", [("--help",), ("keys", "list"), ()])
def test_the_help_and_the_keys_build_no_write_side(tmp_path, argv):
    modules = _modules(tmp_path, *argv)
    assert "engine.cli.main" in modules
    assert not _within(modules, WRITE_SIDE), _within(modules, WRITE_SIDE)
    # Only the command run is imported: the help imports no command module at all.
    commands = {m for m in modules if m.startswith("engine.cli.")} - {
        "engine.cli.main",
        "engine.cli.lazy",
        "engine.cli.options",
        "engine.cli.as_json",
        "engine.cli.context",
        "engine.cli.output",
        "engine.cli.keys",
        "engine.cli.parse",
    }
    assert not commands, sorted(commands)


def _first_paragraph(command) -> str:
    return inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].strip()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_help_says_of_each_command_what_its_own_help_says(name):
    assert COMMANDS[name].summary == _first_paragraph(COMMANDS[name].load(name))


def test_the_help_lists_every_command_with_its_summary():
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
    ).stdout
    listing = out.split("\nCommands:\n", 1)[1]
    # Each command on a line of its own, its summary after it, folded to the width.
    listed = [line.split()[0] for line in listing.splitlines() if line[2:3] != " "]
    assert listed == list(COMMANDS)
    words = " ".join(listing.split())
    for name, entry in COMMANDS.items():
        assert f"{name} {' '.join(entry.summary.split())}" in words, name


def _registered(app: typer.Typer) -> tuple[set, set]:
    """The command functions and Typer apps an app reaches, itself included."""
    functions = {c.callback for c in app.registered_commands}
    apps = {id(app)}
    for group in app.registered_groups:
        more_functions, more_apps = _registered(group.typer_instance)
        functions |= more_functions
        apps |= more_apps
    return functions, apps


def _is_command(function) -> bool:
    """A function whose parameters are typer's options or arguments is a command."""
    return any(
        isinstance(p.default, ParameterInfo)
        for p in inspect.signature(function).parameters.values()
    )


def test_every_command_of_the_command_modules_is_registered():
    # Walking the modules, not the registry: a command written and not registered fails here.
    reached_functions: set = set()
    reached_apps: set = set()
    for entry in COMMANDS.values():
        module, attribute = entry.target.split(":")
        found = getattr(import_module(module), attribute)
        if isinstance(found, typer.Typer):
            functions, apps = _registered(found)
            reached_functions |= functions
            reached_apps |= apps
        else:
            reached_functions.add(found)
    missing = []
    for info in pkgutil.iter_modules(engine.cli.__path__):
        if info.name == "main":  # the top-level app itself, and its global options
            continue
        module = import_module(f"engine.cli.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, typer.Typer) and id(value) not in reached_apps:
                missing.append(f"{module.__name__}:{attribute} (a Typer app)")
            elif (
                inspect.isfunction(value)
                and value.__module__ == module.__name__
                and _is_command(value)
                and value not in reached_functions
            ):
                missing.append(f"{module.__name__}:{attribute}")
    assert not missing, f"commands not in engine/cli/main.py COMMANDS: {missing}"


def _recorded_elsewhere(home, order: str) -> None:
    """An intercept recorded in the event store and not projected: as another process
    whose catch-up failed would leave it."""
    from contextlib import closing
    from datetime import UTC, datetime

    from domain.commands import RequestIntercept
    from engine.composition import build_engine
    from engine.settings import Settings

    with closing(build_engine(Settings(home=home))) as engine:
        engine.app.execute(
            RequestIntercept(
                merchant_id="m1",
                order_id=order,
                tracking_no=f"ZT{order}",
                carrier="ZTO",
                amount_minor=1000,
                request_reason="buyer_refund",
                actor="ops",
                occurred_at=datetime.now(UTC),
                key=order,
            )
        )


def _orders(home) -> list[str]:
    from tests.e2e.cli import intercept

    listed = intercept(home, "list", "--json")
    assert listed.code == 0, listed.err
    return sorted(r["order_id"] for r in listed.json()["intercepts"])


def test_a_read_with_nothing_left_to_project_builds_no_write_side(tmp_path):
    from tests.e2e.cli import intercept

    home = tmp_path / "var"
    assert (
        intercept(home, "policy", "set", "m1", "--max-amount", "100", "--carriers", "ZTO").code == 0
    )
    _recorded_elsewhere(home, "100000001")
    assert _orders(home) == ["100000001"]  # caught up, and where the log stood noted
    (iid,) = [r["intercept_id"] for r in intercept(home, "list", "--json").json()["intercepts"]]
    # `show` of a timeline with no sealed value opens no key and builds no carrier link.
    light = (*WRITE_SIDE, "engine.carrier_gateway", "httpx")
    for argv in (("list",), ("stats",), ("list", "--json"), ("show", iid), ("show", iid, "--json")):
        modules = _modules(home.parent, *argv)
        assert not _within(modules, light), (argv, _within(modules, light))


def test_the_help_loads_neither_pydantic_nor_rich_nor_the_composition_root(tmp_path):
    # The listing is click's own: rich's panels come with the first command that runs.
    modules = _modules(tmp_path, "--help")
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & {"pydantic", "pydantic_core", "rich"}, sorted(loaded)
    assert "engine.composition" not in modules


def test_the_package_centers_reads_build_no_pydantic_model(tmp_path):
    # With no carriers file nothing is connected, and rows hold no sealed value: the list
    # and the figures are read from SQLite as stored (about 0.1 s of start-up saved).
    from tests.e2e.cli import intercept

    home = tmp_path / "var"
    assert intercept(home, "stats").code == 0  # a home with its projections made
    for argv in (("list",), ("stats",), ("list", "--json")):
        loaded = _loaded(tmp_path, *argv)
        assert not loaded & {"pydantic", "pydantic_core"}, argv


def test_what_another_process_recorded_is_read_all_the_same(tmp_path):
    from tests.e2e.cli import intercept

    # The light read must never show a stale package center: anything recorded after the
    # noted position sends the read through the catch-up, as before.
    home = tmp_path / "var"
    assert (
        intercept(home, "policy", "set", "m1", "--max-amount", "100", "--carriers", "ZTO").code == 0
    )
    _recorded_elsewhere(home, "200000001")
    assert _orders(home) == ["200000001"]
    assert _orders(home) == ["200000001"]  # now read light
    _recorded_elsewhere(home, "200000002")
    assert _orders(home) == ["200000001", "200000002"]
    modules = _modules(home.parent, "stats")
    assert not _within(modules, WRITE_SIDE)
