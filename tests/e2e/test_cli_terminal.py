"""The CLI on a terminal: colour for status and conflicts, none with NO_COLOR, nothing cut."""

import os
import pty
import re
import subprocess

from tests.e2e.cli import INTERCEPT, intercept

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(home, *args: str, columns: int = 80, env: dict | None = None) -> str:
    """Run with stdout on a pseudo-terminal `columns` wide; returns what it showed."""
    leader, follower = pty.openpty()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")},
        "INTERCEPT_HOME": str(home),
        "COLUMNS": str(columns),
        "TERM": "xterm-256color",
        **(env or {}),
    }
    environment.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    process = subprocess.Popen(
        [INTERCEPT, *args], stdout=follower, stderr=subprocess.PIPE, env=environment
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def _home(tmp_path):
    home = tmp_path / "var"
    assert (
        intercept(home, "policy", "set", "m1", "--max-amount", "99", "--carriers", "ZTO").code == 0
    )
    run = intercept(
        home,
        *("request", "--merchant", "m1", "--order", "o123", "--tracking", "ZT0123456789"),
        *("--carrier", "ZTO", "--amount", "19.00", "--reason", "r", "--json"),
    )
    return home, run.json()["intercept_id"]


def test_status_has_its_colour_on_a_terminal_and_none_with_no_color(tmp_path):
    home, iid = _home(tmp_path)
    coloured = on_terminal(home, "list")
    assert re.search(r"\x1b\[[0-9;]*m\s*requested", coloured), coloured
    # No highlighting inside ids: the tracking number and the id come out whole and plain.
    assert "ZTO ZT0123456789" in coloured and iid in coloured
    plain = on_terminal(home, "list", env={"NO_COLOR": "1"})
    row = next(line for line in plain.splitlines() if iid in line)
    assert not _ANSI.search(row) and "requested" in row  # NO_COLOR: no colour (dim may stay)


def test_a_narrow_terminal_cuts_no_id_time_or_key_id(tmp_path):
    home, iid = _home(tmp_path)
    shown = _ANSI.sub("", on_terminal(home, "show", iid, columns=50))
    assert iid in shown
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown)
    made = intercept(home, "keys", "create", "--role", "auditor", "--json").json()
    listed = _ANSI.sub("", on_terminal(home, "keys", "list", columns=50))
    assert made["key_id"] in listed, listed


def test_the_demo_colours_its_conflicts_on_a_terminal(tmp_path):
    shown = on_terminal(tmp_path / "var", "demo", "--orders", "200", columns=200)
    assert re.search(r"\x1b\[[0-9;]*m\s*intercepted_after_cancel", shown), shown[-2000:]
