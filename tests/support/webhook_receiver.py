"""A real HTTP receiver on loopback for webhook tests: records every request it gets.

`behaviour(n)` says how to answer the n-th request (0-based): "ok" (204), "fail" (500),
"redirect" (302 to another path, which records a hit if ever followed), or "slow" (answers
after longer than the dispatcher's timeout).
"""

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int
    server: http.server.ThreadingHTTPServer
    behaviour: Callable[[int], str]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)


def start(behaviour: Callable[[int], str] = lambda n: "ok", slow_seconds: float = 3) -> Receiver:
    holder: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            receiver: Receiver = holder["receiver"]
            with receiver.lock:
                n = len(receiver.received)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            how = receiver.behaviour(n)
            if how == "slow":
                time.sleep(slow_seconds)
            if how == "fail":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"x" * 100_000)  # more than the dispatcher reads
                return
            if how == "redirect":
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server.server_address[1], server, behaviour)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
