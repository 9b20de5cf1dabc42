"""Running the `intercept` command as a user would: a real process, real files."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INTERCEPT = str(Path(sys.executable).with_name("intercept"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def intercept(
    home: Path,
    *args: str,
    stdin: str | None = None,
    env: dict | None = None,
    closed: bool = False,
) -> Run:
    """`closed`: run with no stdin at all (fd 0 closed), as from a service manager."""
    environment = {**os.environ, "INTERCEPT_HOME": str(home), "COLUMNS": "200", **(env or {})}
    if "KAFKA_BOOTSTRAP_SERVERS" not in (env or {}):
        environment.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # embedded unless asked otherwise
    done = subprocess.run(
        [INTERCEPT, *args],
        input=None if closed else stdin,
        stdin=None if not closed else subprocess.DEVNULL,
        preexec_fn=(lambda: os.close(0)) if closed else None,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    return Run(done.returncode, done.stdout, done.stderr)


ORDINARY_REQUEST = {
    "merchant": "m1",
    "order": "o1",
    "tracking": "ZT1",
    "carrier": "ZTO",
    "amount": "199.00",
    "reason": "buyer_refund",
}


def request_args(**changes: str) -> list[str]:
    """`intercept request`'s arguments for one ordinary request, changed by option name
    (`tracking="ZT9"`, `quoted_fee="3.50"`), so a test spells out only what it varies."""
    options = {**ORDINARY_REQUEST, **changes}
    return [
        "request",
        *[
            part
            for name, value in options.items()
            for part in (f"--{name.replace('_', '-')}", value)
        ],
    ]
