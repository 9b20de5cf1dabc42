"""Fuzzing every command's input: a clear error, exit 2 or 3, and nothing recorded.

Most cases run the real `intercept` entry point in this process (a process
start costs ~1 s); a bounded sample runs as real processes too.
"""

import contextlib
import io
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli.main import main
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b
from tests.e2e.cli import intercept
from tests.faults.report import report
from tests.fuzz.bad_input import any_command


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One intercept to aim at, and a way to count what the store and projections hold."""
    home = tmp_path_factory.mktemp("fuzz") / "var"
    engine = build_engine(Settings(home=home))
    engine.execute(b.policy(min_amount_minor=100))
    iid = str(engine.execute(b.request(tracking_no="ZT9")).state.id)
    shot = home / "shot.png"
    shot.write_bytes(b"screenshot")
    tried: Counter = Counter()
    yield home, iid, str(shot), engine, tried
    report(
        "bad command input",
        cases=sum(tried.values()),
        **{k.replace(" ", "_"): v for k, v in sorted(tried.items())},
    )


def counts(engine) -> tuple[int, int]:
    events = engine.app.recorder.max_notification_id()
    rows = engine.db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"]
    return events, rows


def run_in_process(home: Path, argv: list[str]) -> tuple[int, str]:
    """Exit code and what was said about it: stderr, or a batch cancel's per-id results."""
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_home = sys.argv, os.environ.get("INTERCEPT_HOME")
    sys.argv, os.environ["INTERCEPT_HOME"] = ["intercept", *argv], str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        sys.argv = old_argv
        if old_home is None:
            os.environ.pop("INTERCEPT_HOME")
        else:
            os.environ["INTERCEPT_HOME"] = old_home
    return code, err.getvalue() + explained(argv, out.getvalue())


def explained(argv: list[str], out: str) -> str:
    # A batch cancel reports each id on stdout ("... refused: no intercept with id ...").
    return out if argv[0] == "cancel" and "refused" in out else ""


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bad_input_in_process_is_refused_clearly_and_records_nothing(store, data):
    home, iid, shot, engine, tried = store
    for argv in data.draw(st.lists(any_command(iid, shot), min_size=2, max_size=8)):
        before = counts(engine)
        code, err = run_in_process(home, argv)
        tried[f"{argv[0]} exit {code}"] += 1
        assert code in (2, 3), (argv, code, err)
        assert err.strip() and "Traceback" not in err, (argv, err)
        assert counts(engine) == before, argv


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bad_input_to_real_processes_is_refused_clearly_and_records_nothing(store, data):
    home, iid, shot, engine, tried = store
    argv = data.draw(any_command(iid, shot).filter(lambda a: not any("\x00" in x for x in a)))
    before = counts(engine)
    run = intercept(home, *argv)
    said = run.err + explained(argv, run.out)
    tried[f"{argv[0]} process exit {run.code}"] += 1
    assert run.code in (2, 3), (argv, run.code, said)
    assert said.strip() and "Traceback" not in said, (argv, said)
    assert counts(engine) == before, argv
