"""One leader at a time: a lock held for as long as a reader of the log acts on it.

Any number of relays, webhook dispatchers, carrier gateways or automation loops may run
against one event store. For each role, the one that takes the role's lock acts; the
others try again every `retry_every` seconds and take over when the holder dies, because
the lock dies with it:

- SQLite: an exclusive `flock` on a file beside the event store. The kernel drops it
  the moment the holder's process ends, however it ends.
- PostgreSQL: a session advisory lock on a connection of its own. The server drops it
  when that session ends; a killed process's socket closes at once, so the standby
  takes over on its next try.

The holder renews (checks) the lock every `renew_every` seconds, between batches: a
relay whose PostgreSQL lock session broke stops publishing before its next batch after
that check; the standby can only take the lock once that session is gone. What a leader has sent but not
recorded is sent again by the next one: that, at most one batch, is the resend window.
"""

import contextlib
import fcntl
import logging
import os
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    def acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who leads, for an operator looking
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None  # a flock lasts as long as its descriptor

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_key(topic: str, role: str = "relay") -> int:
    """A stable 63-bit key per role and topic: relays of different topics, and the other
    roles (`ROLES`) of one store, do not exclude each other."""
    return zlib.crc32(f"intercept.{role}:{topic}".encode()) | (1 << 40)


ROLES = ("relay", "webhooks", "automation", "carrier-gateway")
"""The readers of the log of which one process at a time may act: the relay publishes,
the webhook dispatcher delivers, the automation loop decides rules and deadlines, the
carrier gateway sends to carriers."""


class AdvisoryLock:
    def __init__(self, url: str, key: int, timeout: float = 5.0) -> None:
        self.url = url
        self.key = key
        self.timeout = timeout
        self._conn: Any = None  # a psycopg connection while the lock is held

    def acquire(self) -> bool:
        if self._conn is not None and self.held():
            return True
        import psycopg  # only where PostgreSQL is configured

        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.timeout))
            )
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except psycopg.Error as error:
            log.warning("leader lock: database unreachable: %s", str(error).splitlines()[0])
            return False
        if got and got[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND objid = %s",
                (self.key & 0xFFFFFFFF,),
            ).fetchone()
            if row and row[0]:
                return True
        except Exception as error:  # noqa: BLE001 - a broken session holds nothing
            log.warning("leader lock: session lost: %s", str(error).splitlines()[0])
        self.release()
        return False

    def release(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        # Unlocked before the close: the server ends a closed session on its own time, and
        # until then another process asking for the lock would be refused.
        with contextlib.suppress(Exception):  # a broken session holds nothing to unlock
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        conn.close()


def run_as_leader(
    lock: LeaderLock,
    relay,
    stop: threading.Event,
    on_leading=lambda leading: None,
    retry_every: float = 0.5,
    idle_wait: float = 0.01,
    check_every: float = 5.0,
    renew_every: float = 1.0,
    republish: bool = False,
) -> None:
    """Stand by until the lock is ours, publish while it stays ours, stand by again if lost.

    `republish`: start over from the first event, once, when the lock is first ours; never
    while another relay leads, whose position it would pull back under it.
    """
    standing_by_said = False
    try:
        while not stop.is_set():
            if not lock.acquire():
                if not standing_by_said:
                    log.info("relay standing by: another relay publishes to %s", relay.topic)
                    standing_by_said = True
                on_leading(False)
                stop.wait(retry_every)
                continue
            standing_by_said = False
            on_leading(True)
            if republish:
                relay.republish()
                republish = False
            relay.check_topic()
            position = relay.positions.get(relay.topic)
            log.info(
                "relaying to %s from position %d (this relay leads)",
                relay.topic,
                position,
                extra={"counts": {"position": position}},
            )
            last_check = last_renew = time.monotonic()
            while not stop.is_set():
                if time.monotonic() - last_renew > renew_every:
                    if not lock.held():
                        break
                    last_renew = time.monotonic()
                if relay.publish_once():
                    continue
                if time.monotonic() - last_check > check_every:
                    relay.check_topic()
                    last_check = time.monotonic()
                stop.wait(idle_wait)
            on_leading(False)
            if not stop.is_set():
                log.warning("relay lost its lock: standing by")
    finally:
        lock.release()
        on_leading(False)
        log.info(
            "relay stopped after publishing %d records",
            relay.published,
            extra={"counts": {"events_published": relay.published}},
        )


class Leadership:
    """Runs a step only while this process holds its role's lock.

    `guard(step)` is the step as the automation loop calls it: without the lock it tries
    to take it (at most every `retry_every` seconds) and does nothing; with it, it checks
    every `renew_every` seconds that the lock is still its own, then runs the step. The
    loop around it (engine.loops.run_loop) is the same whether this process leads
    or stands by, so a standby takes over within `retry_every` of the holder's death.
    """

    def __init__(
        self,
        lock: LeaderLock,
        role: str,
        on_leading=lambda leading: None,
        retry_every: float = 0.5,
        renew_every: float = 1.0,
    ) -> None:
        self.lock, self.role, self.on_leading = lock, role, on_leading
        self.retry_every, self.renew_every = retry_every, renew_every
        self._now = time.monotonic
        self.leading = False
        self._tried = self._renewed = float("-inf")
        self._standby_said = False

    def leads(self) -> bool:
        now = self._now()
        if self.leading:
            if now - self._renewed > self.renew_every:
                self._renewed = now
                if not self.lock.held():
                    self._set(False)
                    log.warning("%s lost its lock: standing by", self.role)
            return self.leading
        if now - self._tried < self.retry_every:
            return False
        self._tried = now
        if self.lock.acquire():
            self._renewed = now
            self._set(True)
            log.info("%s leads (pid %d)", self.role, os.getpid())
        elif not self._standby_said:
            log.info("%s standing by: another process leads", self.role)
            self._standby_said = True
        return self.leading

    def _set(self, leading: bool) -> None:
        self.leading = leading
        self._standby_said = False
        self.on_leading(leading)

    def guard(self, step):
        def led() -> int:
            return step() if self.leads() else 0

        led.__qualname__ = getattr(step, "__qualname__", self.role)
        return led

    def release(self) -> None:
        if self.leading:
            self._set(False)
        self.lock.release()
