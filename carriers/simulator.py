"""A carrier simulator: real HTTP carrier endpoints on loopback, in all three protocols.

It stands in for carriers nobody can reach from here. It follows the published
protocols as far as docs/carriers.md cites them, and decides like a carrier would:
it accepts or rejects a request by the parcel's stage, stops the parcel at a scan
after a delay or fails (too late), honours a cancel that arrives before that scan
(one that arrives after answers the success), sends the parcel back (returning, then
returned; a redirect is delivered at the new address), and pushes signed callbacks to
the engine, some repeated and some out of order, retrying those not acknowledged.

Everything it decides comes from the seed and the parcel's carrier and tracking number,
never from the order requests arrive in, so the same seed gives the same carrier.
It remembers every request id (a resend is answered as the first time) and reports
what it has seen, so tests can check that no request reached it twice under different
ids. Time is whatever `clock` says: the wall clock when it serves on its own, the
demo's simulated clock when the demo drives it (`deliver_due`).
"""

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

from carriers import aggregator, direct, generic
from carriers.protocol import BadCallback, Connection, Push

log = logging.getLogger("intercept.simulator")

STAGES: tuple[tuple[str, float], ...] = (
    ("in_transit", 0.66),
    ("out_for_delivery", 0.12),
    ("not_picked_up", 0.07),
    ("signed", 0.05),
    ("not_a_platform_waybill", 0.03),
    ("conditions_not_met", 0.03),
    ("already_intercepted_other_channel", 0.04),
)
"""How often a simulated parcel is at each stage (or refused for another reason)."""

_REFUSED_AT: Mapping[str, tuple[str, str]] = {
    "not_picked_up": ("not_picked_up", "not picked up yet: cancel the shipment instead"),
    "signed": ("already_signed", "already signed for: too late to intercept"),
    "not_a_platform_waybill": ("not_a_platform_waybill", "not a waybill of this platform"),
    "conditions_not_met": ("conditions_not_met", "does not meet the intercept conditions"),
    "already_intercepted_other_channel": (
        "already_intercepted_other_channel",
        "already intercepted through another channel",
    ),
}
_STAGE_SEEN: Mapping[str, str] = {
    "not_a_platform_waybill": "unknown",
    "conditions_not_met": "in_transit",
    "already_intercepted_other_channel": "in_transit",
}
_DECISIONS = frozenset({"confirmed", "failed", "released"})
FEE_MINOR = 300
"""What the simulated carriers quote for an intercept (fen), charged only on success."""


@dataclass(frozen=True)
class Timing:
    """How long the simulated carrier takes, in seconds of its clock."""

    scan: tuple[float, float] = (1800.0, 12 * 3600.0)
    """From acceptance to the scan that stops the parcel (or finds it too late)."""
    lag: tuple[float, float] = (5.0, 600.0)
    """From an event to its callback."""
    returning_after: float = 2 * 3600.0
    returned_after: float = 30 * 3600.0
    retry_after: float = 1800.0
    """kuaidi100 retries an unacknowledged callback after 30 minutes, 3 times."""
    retries: int = 3
    repeat: float = 0.15
    """The share of callbacks sent twice."""
    reorder: float = 0.1
    """The share of callbacks held back past the next one (`hold` seconds more). A carrier's
    decision (confirmed, failed, released) is not held back by this behind the return
    journey that follows it; `overtaken` is the share whose confirmation is."""
    hold: float = 3 * 3600.0
    overtaken: float = 0.1
    """The share of successes whose confirmation arrives after the first step of the return
    journey (held back past it): carriers' callbacks come from different systems, and the
    engine takes the journey step as the success."""

    def scaled(self, factor: float) -> "Timing":
        return Timing(
            scan=(self.scan[0] * factor, self.scan[1] * factor),
            lag=(self.lag[0] * factor, self.lag[1] * factor),
            returning_after=self.returning_after * factor,
            returned_after=self.returned_after * factor,
            retry_after=self.retry_after * factor,
            retries=self.retries,
            repeat=self.repeat,
            reorder=self.reorder,
            hold=self.hold * factor,
            overtaken=self.overtaken,
        )


@dataclass(frozen=True)
class SimulatedCarrier:
    code: str
    protocol: str
    connection: Connection
    """The same credentials the engine's carrier settings hold for this carrier."""


@dataclass
class Task:
    carrier: str
    tracking_no: str
    request_id: str
    task_no: str
    action: str
    accepted_at: datetime
    scan_at: datetime
    outcome: str
    reason: str | None
    cancel: dict[str, Any] | None = None
    decided_due: datetime | None = None
    """When the callback with the carrier's decision goes out: the return journey's
    callbacks follow it, as a carrier reports its own steps in order."""
    overtaken: bool = False
    """Its confirmation's callback goes out after the return journey's first step."""


@dataclass(order=True)
class Pending:
    due: datetime
    order: tuple[str, str, int]
    report: str = field(compare=False)
    reason: str | None = field(compare=False)
    at: datetime = field(compare=False)
    task: Task = field(compare=False)
    tries: int = field(default=0, compare=False)


def _fraction(*parts: object) -> float:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Simulator:
    def __init__(
        self,
        carriers: Mapping[str, SimulatedCarrier],
        clock: Callable[[], datetime],
        seed: int = 7,
        timing: Timing | None = None,
        stages: Mapping[str, str] | None = None,
        flaky: int = 0,
        push: bool = True,
        deliver: Callable[[str, Mapping[str, str], bytes], int] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.carriers = dict(carriers)
        self.clock = clock
        self.seed = seed
        self.timing = timing or Timing()
        self.stages = dict(stages or {})
        self.flaky = flaky
        """Answer the first `flaky` calls of each request id with a 503, to exercise retries."""
        self.push = push
        self.latency = latency
        """Seconds each call takes before it is answered, as a distant carrier's would."""
        self.deliver = deliver
        """Hands a signed callback (url, headers, body) over and returns the HTTP status; by
        default it is POSTed to the url."""
        self.tasks: dict[tuple[str, str], Task] = {}  # (carrier, request id)
        self.parcels: dict[tuple[str, str], Task] = {}  # (carrier, tracking no)
        self.cancels: dict[tuple[str, str], dict[str, Any]] = {}  # (carrier, cancel request id)
        self.calls: dict[tuple[str, str, str, str], int] = {}  # carrier, tracking, action, id
        self.attempts: dict[str, int] = {}
        self.outbox: list[Pending] = []
        self.delivered: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._client = httpx.Client(timeout=5.0)

    # ---- what a parcel is like ------------------------------------------------

    def stage_of(self, carrier: str, tracking_no: str) -> str:
        if tracking_no in self.stages:
            return self.stages[tracking_no]
        x = _fraction(self.seed, carrier, tracking_no, "stage")
        for stage, share in STAGES:
            if x < share:
                return stage
            x -= share
        return STAGES[0][0]

    def _rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(map(str, (self.seed, *parts))))

    # ---- the carrier's endpoints -------------------------------------------

    def handle(
        self, code: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        carrier = self.carriers.get(code.upper())
        if carrier is None:
            return 404, "application/json", orjson.dumps({"error": f"no carrier {code}"})
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            return _serve(self, carrier, path, headers, body)

    def _flaky(self, request_id: str) -> bool:
        seen = self.attempts.get(request_id, 0)
        self.attempts[request_id] = seen + 1
        return seen < self.flaky

    def request(self, carrier: SimulatedCarrier, call: Mapping[str, Any]) -> tuple[str, Any]:
        """('accepted', task) or ('rejected', (code, message)) for one request call."""
        request_id, tracking = str(call["request_id"]), str(call["tracking_no"])
        action = str(call.get("action") or "return_to_sender")
        key = (carrier.code, tracking, "request", request_id)
        self.calls[key] = self.calls.get(key, 0) + 1
        known = self.tasks.get((carrier.code, request_id))
        if known is not None:
            return "accepted", known  # a resend: the same request, the same answer
        earlier = self.parcels.get((carrier.code, tracking))
        if earlier is not None:
            if earlier.outcome == "confirmed" and self.clock() >= earlier.scan_at:
                return "rejected", (
                    "already_intercepted_same_channel",
                    "already intercepted through this channel",
                )
            if earlier.cancel is None and self.clock() < earlier.scan_at:
                return "rejected", ("conditions_not_met", "an intercept is already under way")
        stage = self.stage_of(carrier.code, tracking)
        if stage in _REFUSED_AT:
            return "rejected", _REFUSED_AT[stage]
        now = self.clock()
        rng = self._rng(carrier.code, tracking, request_id)
        success = rng.random() < (0.85 if stage == "in_transit" else 0.35)
        reason = (
            None
            if success
            else ("too_late_out_for_delivery" if stage == "out_for_delivery" else "other")
        )
        task = Task(
            carrier=carrier.code,
            tracking_no=tracking,
            request_id=request_id,
            task_no=f"{carrier.code}T{hashlib.sha256(f'{self.seed}/{request_id}'.encode()).hexdigest()[:12].upper()}",
            action=action,
            accepted_at=now,
            scan_at=now + timedelta(seconds=rng.uniform(*self.timing.scan)),
            outcome="confirmed" if success else "failed",
            reason=reason,
        )
        self.tasks[(carrier.code, request_id)] = task
        self.parcels[(carrier.code, tracking)] = task
        self._schedule(task, "accepted", None, now, rng)
        self._schedule(task, task.outcome, task.reason, task.scan_at, rng)
        if success:
            after = task.scan_at + timedelta(seconds=self.timing.returning_after)
            if action == "redirect":
                self._schedule(task, "delivered_to_new_address", None, after, rng)
            else:
                self._schedule(task, "returning", None, after, rng)
                done = task.scan_at + timedelta(seconds=self.timing.returned_after)
                self._schedule(task, "returned", None, done, rng)
        return "accepted", task

    def cancel(self, carrier: SimulatedCarrier, call: Mapping[str, Any]) -> dict[str, Any]:
        """The report a cancel is answered with: released, or the outcome it came too late for."""
        cancel_id, tracking = str(call["request_id"]), str(call.get("tracking_no") or "")
        task = self.parcels.get((carrier.code, tracking))
        if task is None and call.get("carrier_ref"):
            task = next((t for t in self.tasks.values() if t.task_no == call["carrier_ref"]), None)
        key = (carrier.code, task.tracking_no if task else tracking, "cancel", cancel_id)
        self.calls[key] = self.calls.get(key, 0) + 1
        if (carrier.code, cancel_id) in self.cancels:
            return self.cancels[(carrier.code, cancel_id)]
        now = self.clock()
        if task is None:
            answer = {"report": "failed", "reason": "other", "at": now}
        elif task.cancel is not None:
            answer = task.cancel
        elif now < task.scan_at:
            answer = {"report": "released", "reason": None, "at": now}
            task.cancel = answer
            # The parcel goes on to the buyer: the scan and the return never happen.
            self.outbox = [p for p in self.outbox if p.task is not task or p.report == "accepted"]
            self._schedule(task, "released", None, now, self._rng(task.request_id, "cancel"))
        else:
            # Too late: the scan already stopped the parcel (or found it too late).
            answer = {"report": task.outcome, "reason": task.reason, "at": task.scan_at}
            task.cancel = answer
        self.cancels[(carrier.code, cancel_id)] = answer
        return answer

    def quote(
        self, carrier: SimulatedCarrier, tracking: str
    ) -> tuple[str, bool, str | None, int | None]:
        stage = self.stage_of(carrier.code, tracking)
        earlier = self.parcels.get((carrier.code, tracking))
        if (
            earlier is not None
            and earlier.outcome == "confirmed"
            and self.clock() >= earlier.scan_at
        ):
            return "in_transit", False, "already_intercepted_same_channel", None
        if stage in _REFUSED_AT:
            return _STAGE_SEEN.get(stage, stage), False, _REFUSED_AT[stage][0], None
        return stage, True, None, FEE_MINOR

    # ---- callbacks ---------------------------------------------------------

    def _schedule(
        self, task: Task, report: str, reason: str | None, at: datetime, rng: random.Random
    ) -> None:
        if not self.push or self.carriers[task.carrier].connection.callback_url is None:
            return
        n = len([p for p in self.outbox if p.task is task]) + len(
            [d for d in self.delivered if d["task_no"] == task.task_no]
        )
        lag = rng.uniform(*self.timing.lag)
        if rng.random() < self.timing.reorder and report not in _DECISIONS:
            lag += self.timing.hold  # held back: a later event overtakes it
        overtaken = (
            report == "confirmed"
            # Its own draw, so the other callbacks' times stay what the seed gave them before.
            and self._rng(task.request_id, "overtaken").random() < self.timing.overtaken
        )
        if overtaken:
            task.overtaken = True
            # Past the journey's first step however long that one's own lag or hold is.
            lag += self.timing.returning_after + self.timing.lag[1] + self.timing.hold
        due = at + timedelta(seconds=lag)
        if report in _DECISIONS and not overtaken:
            task.decided_due = due
        elif report != "accepted" and task.decided_due is not None:
            due = max(due, task.decided_due + timedelta(seconds=1))
        self.outbox.append(
            Pending(due, (task.carrier, task.tracking_no, n), report, reason, at, task)
        )
        if rng.random() < self.timing.repeat:
            again = due + timedelta(seconds=rng.uniform(*self.timing.lag))
            self.outbox.append(
                Pending(again, (task.carrier, task.tracking_no, n + 100), report, reason, at, task)
            )

    def deliver_due(self, now: datetime | None = None) -> int:
        """Push every callback due by `now` (default: the clock), oldest first; returns how many."""
        sent = 0
        while True:
            with self._lock:
                moment = now or self.clock()
                due = sorted(p for p in self.outbox if p.due <= moment)
                if not due:
                    return sent
                pending = due[0]
                self.outbox.remove(pending)
            ok = self._post(pending)
            sent += 1
            with self._lock:
                if not ok and pending.tries < self.timing.retries:
                    pending.tries += 1
                    pending.due = pending.due + timedelta(seconds=self.timing.retry_after)
                    self.outbox.append(pending)

    def next_due(self) -> datetime | None:
        with self._lock:
            return min((p.due for p in self.outbox), default=None)

    def _post(self, p: Pending) -> bool:
        carrier = self.carriers[p.task.carrier]
        conn = carrier.connection
        t = p.task
        push = Push(
            report=p.report,
            reason=p.reason,
            carrier=t.carrier,
            tracking_no=t.tracking_no,
            task_no=t.task_no,
            request_id=t.request_id,
            at=p.at,
            sent_at=self.clock().timestamp(),
        )
        headers, body = _WIRES[carrier.protocol].callback(conn, push)
        try:
            if self.deliver is not None:
                status = self.deliver(str(conn.callback_url), headers, body)
            else:
                response = self._client.post(str(conn.callback_url), content=body, headers=headers)
                status = response.status_code
        except httpx.HTTPError as error:
            log.warning("callback to %s failed: %s", conn.callback_url, type(error).__name__)
            status = 0
        self.delivered.append(
            {"carrier": t.carrier, "task_no": t.task_no, "report": p.report, "status": status}
        )
        return 200 <= status < 300

    # ---- what it has seen ---------------------------------------------------

    def seen(self) -> dict[str, Any]:
        """Every request id per parcel and action, how often each came, and any parcel that
        came under two ids for one action (a resend must reuse its id)."""
        with self._lock:
            ids: dict[tuple[str, str, str], list[str]] = {}
            for (carrier, tracking, action, request_id), _ in sorted(self.calls.items()):
                ids.setdefault((carrier, tracking, action), []).append(request_id)
            return {
                "requests": [
                    {"carrier": c, "tracking_no": t, "action": a, "request_id": r, "times": n}
                    for (c, t, a, r), n in sorted(self.calls.items())
                ],
                "under_two_ids": [
                    {"carrier": c, "tracking_no": t, "action": a, "request_ids": rs}
                    for (c, t, a), rs in sorted(ids.items())
                    if len(rs) > 1
                ],
                "callbacks_delivered": len(self.delivered),
                "callbacks_waiting": len(self.outbox),
            }

    def close(self) -> None:
        self._client.close()


# ---- the carriers file naming it -----------------------------------------------


def simulated_carriers_file(
    protocols: Mapping[str, str],
    simulator_port: int,
    callback_base: str,
    secret_env: Callable[[str], str],
    timeout: float | None = None,
) -> str:
    """A carriers file (engine/carrier_catalog.py) connecting each carrier code, in the
    protocol named beside it, to the simulator on loopback; callbacks go to `callback_base`."""
    lines = []
    for code, protocol in protocols.items():
        lines += [
            "[[carrier]]",
            f'code = "{code}"',
            f'name = "{code} (simulated)"',
            f'adapter = "{protocol}"',
            "[carrier.capabilities]",
            "quotes_fees = true",
            "[carrier.connection]",
            f'base_url = "http://127.0.0.1:{simulator_port}/{code}"',
            f'secret_env = "{secret_env(code)}"',
            f'callback_url = "{callback_base}/v1/carriers/{code}/callback"',
            *([f"timeout = {timeout}"] if timeout is not None else []),
            "",
        ]
    return "\n".join(lines)


# ---- each protocol's endpoints -------------------------------------------------


def _json(status: int, body: Any) -> tuple[int, str, bytes]:
    return status, "application/json", orjson.dumps(body)


_WIRES: Mapping[str, Any] = {"direct": direct, "aggregator": aggregator, "generic": generic}
"""Each protocol's carrier side (its module): how it reads a call and words each answer."""


def _serve(
    sim: Simulator, carrier: SimulatedCarrier, path: str, headers: Mapping[str, str], body: bytes
) -> tuple[int, str, bytes]:
    wire = _WIRES[carrier.protocol]
    try:
        call = wire.incoming(carrier.connection, path, headers, body, sim.clock())
    except BadCallback as refusal:
        return _json(401, wire.refused(str(refusal)))
    fields = call.fields
    if call.operation == "quote":
        return _json(200, wire.quoted(*sim.quote(carrier, str(fields["tracking_no"]))))
    if sim._flaky(str(fields["request_id"])):
        return _json(503, wire.BUSY)
    if call.operation == "request":
        kind, what = sim.request(carrier, fields)
        if kind == "rejected":
            return _json(200, wire.rejected(*what))
        return _json(200, wire.accepted(what.task_no, what.accepted_at))
    if call.operation == "cancel":
        a = sim.cancel(carrier, fields)
        return _json(200, wire.cancelled(a["report"], a["reason"], a["at"]))
    return _json(*wire.unknown(call.name))


# ---- serving it ------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: "SimulatorServer"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave as one segment, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the library's name
        log.debug(format, *args)

    def _answer(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", media)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the library's name
        if self.path.rstrip("/") == "/_simulator/seen":
            return self._answer(*_json(200, self.server.simulator.seen()))
        return self._answer(*_json(404, {"error": "no such endpoint"}))

    def do_POST(self) -> None:  # noqa: N802 - the library's name
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        code, _, rest = self.path.lstrip("/").partition("/")
        try:
            answer = self.server.simulator.handle(code, "/" + rest, dict(self.headers), body)
        except Exception as error:  # noqa: BLE001 - a malformed call is the caller's 400
            answer = _json(400, {"error": f"{type(error).__name__}: {error}"})
        self._answer(*answer)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that went away mid-answer (a killed gateway) is no error of the carrier's.
        log.debug("connection from %s ended early", client_address)

    def __init__(self, simulator: Simulator, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.simulator = simulator

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def base_url(self, carrier: str) -> str:
        return f"http://127.0.0.1:{self.port}/{carrier}"

    def start(self) -> "SimulatorServer":
        threading.Thread(target=self.serve_forever, name="simulator", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.simulator.close()


def push_callbacks(simulator: Simulator, stop: threading.Event, every: float = 0.05) -> None:
    """Serving on its own: push callbacks as they fall due on the simulator's clock."""
    while not stop.is_set():
        simulator.deliver_due()
        stop.wait(every)
