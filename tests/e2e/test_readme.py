"""The README's CLI and HTTP examples run in order, as written, on a fresh home."""

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (shutil.which("jq") and shutil.which("curl")), reason="needs jq, curl")
def test_the_readme_examples_run_in_order(tmp_path):
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    cli = next(b for b in blocks if "intercept policy set m1" in b and "ID=$(" in b)
    http = next(b for b in blocks if "keys create --role merchant" in b)
    with socket.socket() as probe:  # the README's 8000 may be taken on this machine
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    venv = Path(sys.executable).parent.parent
    script = (cli + http).replace(". .venv/bin/activate", f". {venv}/bin/activate")
    script = script.replace(":8000", f":{port}").replace("--port 8000", f"--port {port}")
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "INTERCEPT_HOME": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '"tracking_no":"ZT124"' in done.stdout  # the HTTP example's own parcel
    assert "intercepted_after_cancel" in done.stdout
