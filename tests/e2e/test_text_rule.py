"""One rule for free text at both front doors: no C1 controls, no bidirectional overrides.

The HTTP bodies and the CLI's options take it from `domain.text`; a refused character
anywhere in a note, an address or a code stops the command before anything is recorded.
"""

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.bodies import CancelBody, InterceptRequestBody
from api.errors import _message
from domain.text import REFUSED_CHARACTERS, REFUSED_TEXT_MESSAGE, input_text
from engine.cli.main import main
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b

REFUSED = sorted(REFUSED_CHARACTERS)
texts = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(alphabet="abc xyz", max_size=5),
    st.sampled_from(REFUSED),
    st.text(alphabet="abc xyz", max_size=5),
)


def test_the_rule_names_c1_controls_and_bidi_overrides():
    assert {"\u009b", "\u202e", "\u2066", "\x85", "\x7f"} <= REFUSED_CHARACTERS
    assert not {"\t", "\n", "\r", "é", "中", "\u200e"} & REFUSED_CHARACTERS
    assert input_text("line one\nline two\tend") == "line one\nline two\tend"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("text") / "var"
    engine = build_engine(Settings(home=home))
    engine.execute(b.policy(min_amount_minor=100))
    iid = str(engine.execute(b.request(tracking_no="ZT9")).state.id)
    (home / "shot.png").write_bytes(b"screenshot")
    return home, iid, engine


def run(home: Path, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_home = sys.argv, os.environ.get("INTERCEPT_HOME")
    sys.argv, os.environ["INTERCEPT_HOME"] = ["intercept", *argv], str(home)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        sys.argv = old_argv
        if old_home is None:
            os.environ.pop("INTERCEPT_HOME")
        else:
            os.environ["INTERCEPT_HOME"] = old_home
    return code, out.getvalue(), err.getvalue()


def commands(iid: str, shot: str, field: str, text: str) -> list[str]:
    request = {
        "--merchant": "m1",
        "--order": "o2",
        "--tracking": "ZT2",
        "--carrier": "ZTO",
        "--amount": "2.00",
        "--reason": "buyer_refund",
        "--note": "fine",
    }
    if field == "--address":
        request.update(
            {
                "--action": "redirect",
                "--recipient-name": "Li Lei",
                "--recipient-phone": "13800138000",
                "--province": "Zhejiang",
                "--city": "Hangzhou",
                "--district": "Xihu",
            }
        )
    request[field] = text
    if field in ("--note", "--address", "--order", "--tracking"):
        return ["request", *(part for pair in request.items() for part in pair)]
    if field == "cancel --note":
        return ["cancel", iid, "--reason", "other", "--note", text, "--yes"]
    return ["evidence", iid, "--kind", "other", "--file", shot, "--note", text]


FIELDS = ["--note", "--address", "--order", "--tracking", "cancel --note", "evidence --note"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts, field=st.sampled_from(FIELDS), as_json=st.booleans())
def test_the_cli_refuses_them_with_exit_2_naming_the_option(home, text, field, as_json):
    path, iid, engine = home
    before = engine.app.recorder.max_notification_id()
    argv = commands(iid, str(path / "shot.png"), field, text) + (["--json"] if as_json else [])
    code, out, err = run(path, argv)
    assert code == 2, (argv, out, err)
    flag = field.split()[-1]
    said = json.loads(out)["error"]["message"] if as_json else err
    assert flag in said
    if flag in ("--note", "--address"):
        assert REFUSED_TEXT_MESSAGE in " ".join(said.split())
    else:
        assert "letters, digits" in said
    assert all(c not in said for c in REFUSED_CHARACTERS - {"\n", "\r"})  # never echoed raw
    assert engine.app.recorder.max_notification_id() == before


@settings(max_examples=100, deadline=None)
@given(text=texts)
def test_the_http_bodies_refuse_them_in_the_same_words(text):
    for make in (
        lambda: CancelBody(reason="other", note=text),
        lambda: InterceptRequestBody(
            order_id="o1",
            tracking_no="ZT1",
            carrier="ZTO",
            amount_minor=100,
            request_reason="r",
            action="redirect",
            recipient={
                **{
                    "name": "Li Lei",
                    "phone": "13800138000",
                    "province": "Zhejiang",
                    "city": "Hangzhou",
                    "district": "Xihu",
                    "address": "Room 1",
                },
                "address": text,
            },
        ),
    ):
        with pytest.raises(ValidationError) as refused:
            make()
        assert [_message(e) for e in refused.value.errors()] == [REFUSED_TEXT_MESSAGE]
    with pytest.raises(ValueError, match="bidirectional overrides"):
        input_text(text)
