"""Scenario 6: commands over HTTP, `intercept serve` against a bare FastAPI app.

Both servers get the same requests: a merchant's intercept request (POST
/v1/intercepts with its Idempotency-Key) then its cancel, with the same body
and bearer header, from bench/http_load.py on `c` keep-alive connections. The
engine decides and durably records each; the bare app (bench/http_bare.py)
only parses and answers. Engine and baseline take turns in every repeat.
On PostgreSQL (or with --http-two-servers), two engine servers on the same store share
the load too: the one multi-process figure, beside the like-for-like one-process rows.
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

from bench import workload
from bench.backends import Backend
from bench.measure import Rate, percentiles
from domain.ids import intercept_id
from engine.composition import build_engine, open_key_store
from engine.grant import KeyGrant

MERCHANT = workload.MERCHANTS[0]
INTERCEPT = str(Path(sys.executable).with_name("intercept"))


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU the processes used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


@contextmanager
def _server(argv: list[str], env: dict[str, str], port: int, log: Path):
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_listening(port, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _engine_server(settings, log: Path):
    port = _free_port()
    env = {**os.environ, **settings.as_env()}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    argv = [INTERCEPT, "serve", "--port", str(port), "--log-level", "warning"]
    return port, _server(argv, env, port, log)


def _bare_server(key: str, log: Path):
    port = _free_port()
    argv = [sys.executable, "-m", "bench.http_bare", str(port), key]
    return port, _server(argv, dict(os.environ), port, log)


def _raw(method: str, path: str, key: str, body: dict, idempotency: str | None = None) -> str:
    payload = json.dumps(body, separators=(",", ":"))
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    if idempotency is not None:
        lines.append(f"Idempotency-Key: {idempotency}")
    return "\r\n".join(lines) + "\r\n\r\n" + payload


def commands(key: str, run: str, connections: int, pairs: int) -> list[list[str]]:
    """Per connection: `pairs` requests, each followed by its cancel (2 * pairs commands)."""
    plan = []
    for c in range(connections):
        mine = []
        for n in range(pairs):
            ikey = f"{run}-{c}-{n}"
            body = {
                "order_id": f"o-{ikey}",
                "tracking_no": f"T{ikey}",
                "carrier": "ZTO",
                "amount_minor": 19_900,
                "request_reason": "buyer_refund",
            }
            iid = intercept_id(MERCHANT, ikey)
            mine.append(_raw("POST", "/v1/intercepts", key, body, ikey))
            mine.append(
                _raw("POST", f"/v1/intercepts/{iid}/cancel", key, {"reason": "misoperation"})
            )
        plan.append(mine)
    return plan


def load(ports: list[int], connections: list[list[str]]) -> dict:
    plan = json.dumps({"host": "127.0.0.1", "ports": ports, "connections": connections})
    done = subprocess.run(
        [sys.executable, "-m", "bench.http_load"],
        input=plan.encode(),
        capture_output=True,
        check=True,
    )
    result = json.loads(done.stdout)
    if result["failures"]:
        raise RuntimeError(f"HTTP load failed on port(s) {ports}: {result['failures']}")
    return result


def _batch_sizes(port: int) -> tuple[float, float]:
    """(batches, commands) the server's writer recorded so far, from its /metrics."""
    with closing(socket.create_connection(("127.0.0.1", port))) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        text = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    found = {}
    for line in text.splitlines():
        for name in (
            "intercept_api_batch_size_commands_count",
            "intercept_api_batch_size_commands_sum",
        ):
            if line.startswith(name + " "):
                found[name] = float(line.split()[1])
    return (
        found.get("intercept_api_batch_size_commands_count", 0.0),
        found.get("intercept_api_batch_size_commands_sum", 0.0),
    )


def prepare(backend: Backend) -> tuple:
    """Fresh storage with the merchants' policies and a merchant key: (settings, key)."""
    settings = backend.settings("http")
    key = open_key_store(settings).create(KeyGrant(role="merchant", merchant_id=MERCHANT)).key
    with closing(build_engine(settings)) as engine:
        for command in workload.policies():
            engine.execute(command)
    return settings, key


@contextmanager
def engine_server(settings, log: Path):
    """`intercept serve` on the settings, listening: (port, pid)."""
    port, server = _engine_server(settings, log)
    with server as process:
        yield port, process.pid


def run(
    backend: Backend, pairs_c1: int, pairs_c16: int, repeats: int, two: bool | None = None
) -> dict:
    """`two`: also two servers on the same store (default: on PostgreSQL only). That row
    is the multi-process figure; every other row is one process against the bare app's one."""
    settings, key = prepare(backend)
    two = backend.name == "postgresql" if two is None else two
    rates = {
        name: Rate("commands/s")
        for name in (
            "engine_c1",
            "bare_c1",
            "engine_c16",
            "bare_c16",
            *(["engine_two_c16"] if two else []),
        )
    }
    latencies: dict[str, list[float]] = {name: [] for name in rates}
    client_cpu: dict[str, list[float]] = {name: [] for name in rates}
    batches: dict[str, list[float]] = {"engine_c1": [], "engine_c16": []}
    server_cpu: dict[str, list[float]] = {name: [] for name in rates}
    with ExitStack() as stack:
        logs = settings.home
        engine_port, engine_server = _engine_server(settings, logs / "serve-1.log")
        bare_port, bare_server = _bare_server(key, logs / "bare.log")
        engine_pid = stack.enter_context(engine_server).pid
        bare_pid = stack.enter_context(bare_server).pid
        ports = {"engine": [engine_port], "bare": [bare_port]}
        pids = {"engine": [engine_pid], "bare": [bare_pid]}
        if two:
            second_port, second = _engine_server(settings, logs / "serve-2.log")
            pids["engine_two"] = [engine_pid, stack.enter_context(second).pid]
            ports["engine_two"] = [engine_port, second_port]
        for target, at in ports.items():  # warm up: imports, connections, caches
            load(at, commands(key, f"warm-{target}", 2, 20))
        for repeat in range(repeats):
            for c, pairs in ((1, pairs_c1), (16, pairs_c16)):
                order = list(ports) if repeat % 2 == 0 else list(reversed(ports))
                for target in order:
                    if c == 1 and target == "engine_two":
                        continue
                    name = f"{target}_c{c}"
                    before = _batch_sizes(ports[target][0]) if target == "engine" else None
                    cpu = _cpu_seconds(pids[target])
                    result = load(ports[target], commands(key, f"{name}-{repeat}", c, pairs))
                    server_cpu[name].append((_cpu_seconds(pids[target]) - cpu) / result["requests"])
                    if before is not None:
                        after = _batch_sizes(ports[target][0])
                        batches[name].append((after[1] - before[1]) / (after[0] - before[0]))
                    rates[name].add(result["requests"], result["seconds"])
                    latencies[name].extend(result["latencies_s"])
                    client_cpu[name].append(result["client_cpu_s"] / result["requests"])
    out = {
        "rates": {name: rate.as_dict() for name, rate in rates.items()},
        "latency": {name: percentiles(ls) for name, ls in latencies.items() if ls},
        "client_cpu_us_per_request": {
            name: round(1e6 * sorted(v)[len(v) // 2], 1) for name, v in client_cpu.items()
        },
        "server_cpu_us_per_request": {
            name: round(1e6 * sorted(v)[len(v) // 2], 1) for name, v in server_cpu.items() if v
        },
        "commands_per_run": {"c1": 2 * pairs_c1, "c16": 32 * pairs_c16},
        "mean_batch_commands": {
            name: round(sorted(v)[len(v) // 2], 2) for name, v in batches.items() if v
        },
    }
    median = {name: rate.median for name, rate in rates.items()}
    ratios = {
        "engine_vs_bare_c1": median["engine_c1"] / median["bare_c1"],
        "engine_vs_bare_c16": median["engine_c16"] / median["bare_c16"],
        "engine_c16_vs_c1": median["engine_c16"] / median["engine_c1"],
    }
    if two:
        ratios["two_servers_vs_one_c16"] = median["engine_two_c16"] / median["engine_c16"]
    out["ratios"] = ratios
    out["p99_ms_c16"] = out["latency"]["engine_c16"]["p99_ms"]
    return out
