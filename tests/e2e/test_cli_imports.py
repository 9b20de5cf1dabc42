"""A command that touches no server loads no client for one: the CLI starts light.

Kafka's client, the web stack and the metrics server are imported by the commands
that use them, when they run. Time is the benchmark's to measure (bench/cli.py);
this holds what is imported.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("kafka", "fastapi", "starlette", "uvicorn", "prometheus_client", "yaml", "psycopg")

_PROBE = """
import contextlib, io, json, sys
sys.argv = ["intercept", *sys.argv[1:]]
from engine.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded(tmp_path, *argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        env={"INTERCEPT_HOME": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("policy", "show", "m1"), ("list",), ("keys", "list"), ("show", "nope")],
)
def test_a_light_command_imports_no_client_of_a_server(tmp_path, argv):
    loaded = _loaded(tmp_path, *argv)
    assert "engine" in loaded  # the probe ran the CLI
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_sees_what_a_serving_command_loads(tmp_path):
    # An address that cannot be bound fails at once, but only after uvicorn was loaded.
    loaded = _loaded(tmp_path, "serve", "--host", "256.0.0.1")
    assert "uvicorn" in loaded
