"""Every command leaves the home private, not only `intercept serve`: the databases hold
every merchant's orders and addresses."""

import os
import stat

import pytest

from tests.e2e.cli import intercept, request_args

REQUEST = request_args(amount="1.00")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def databases(home):
    names = [
        f"{db}{suffix}" for db in ("events.db", "projections.db") for suffix in ("", "-wal", "-shm")
    ]
    return {name: mode(home / name) for name in names if (home / name).exists()}


@pytest.mark.parametrize(
    "command",
    [["migrate"], REQUEST, ["demo"], ["policy", "show", "m1"]],
    ids=["migrate", "request", "demo", "policy-show"],
)
def test_a_command_leaves_the_home_0700_and_its_databases_0600(tmp_path, command):
    home = tmp_path / "var"
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless made otherwise
    try:
        run = intercept(home, *command)
    finally:
        os.umask(old)
    assert run.code in (0, 3), run.err  # a refusal (no policy) still opened the stores
    if command == ["demo"]:
        home = home / "demo"  # the demo's own home, inside the configured one
    assert mode(home) == 0o700
    found = databases(home)
    assert {"events.db", "projections.db"} <= found.keys()
    assert set(found.values()) == {0o600}, found


def test_files_left_readable_by_an_earlier_version_are_narrowed(tmp_path):
    home = tmp_path / "var"
    assert intercept(home, "migrate").code == 0
    os.chmod(home, 0o755)
    for name in databases(home):
        os.chmod(home / name, 0o644)
    assert intercept(home, *REQUEST).code in (0, 3)
    assert mode(home) == 0o700
    assert set(databases(home).values()) == {0o600}
