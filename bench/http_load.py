"""A light HTTP/1.1 load client: raw keep-alive sockets, requests built before the clock starts.

An HTTP client library costs more per request than the servers measured here
(httpx about 1.9 ms), so it would measure itself. This one writes prebuilt bytes
on `c` keep-alive connections, one request in flight on each, and reads each
answer by its Content-Length, all from one `selectors` loop in its own process.
It reports its own CPU time per request, so a reader can see it is not the bound.

Run as `python -m bench.http_load` with a JSON plan on stdin; prints a JSON result.
"""

import json
import resource
import selectors
import socket
import sys
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Connection:
    def __init__(self, host: str, port: int, requests: list[bytes]) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.requests = requests
        self.next = 0
        self.buffer = b""
        self.sent_at = 0.0

    def send(self) -> bool:
        if self.next >= len(self.requests):
            return False
        self.sent_at = time.perf_counter()
        self.sock.sendall(self.requests[self.next])  # small: fits the socket buffer at once
        self.next += 1
        return True

    def answer(self) -> tuple[int, bytes] | None:
        """(status, body) once a whole answer has arrived, else None."""
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buffer[:head_end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return None
        status = int(head[9:12])
        body = self.buffer[head_end + 4 : end]
        self.buffer = self.buffer[end:]
        return status, body


def run(host: str, ports: list[int], per_connection: list[list[bytes]]) -> dict:
    """Each connection sends its requests in order; connections go to the ports in turn."""
    connections = [
        _Connection(host, ports[i % len(ports)], requests)
        for i, requests in enumerate(per_connection)
    ]
    selector = selectors.DefaultSelector()
    latencies: list[float] = []
    failures: list[str] = []
    cpu, started = _cpu(), time.perf_counter()
    for conn in connections:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        conn.send()
    open_ = len(connections)
    while open_:
        for key, _ in selector.select():
            conn = key.data
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed a keep-alive connection")
            conn.buffer += chunk
            while (got := conn.answer()) is not None:
                latencies.append(time.perf_counter() - conn.sent_at)
                status, body = got
                if status >= 300 and len(failures) < 5:
                    failures.append(f"{status} {body[:200].decode(errors='replace')}")
                if not conn.send():
                    selector.unregister(conn.sock)
                    conn.sock.close()
                    open_ -= 1
    seconds = time.perf_counter() - started
    count = len(latencies)
    return {
        "requests": count,
        "seconds": seconds,
        "client_cpu_s": _cpu() - cpu,
        "latencies_s": latencies,
        "failures": failures,
    }


def main() -> None:
    plan = json.load(sys.stdin)
    per_connection = [[r.encode("latin-1") for r in conn] for conn in plan["connections"]]
    print(json.dumps(run(plan["host"], plan["ports"], per_connection)))


if __name__ == "__main__":
    main()
