"""Walks the event store and its chain in position order; names the first broken event."""

from collections.abc import Callable, Iterator
from uuid import UUID

from audit.canonical import (
    GENESIS,
    Malformed,
    event_hash,
    log_hash,
    record_digest,
    stored_document,
)
from audit.chain import ChainLink, Plain, as_stored
from audit.verdict import Anchor, Problem, Verdict


def _notifications(recorder, batch: int) -> Iterator:
    after = 0
    while page := recorder.select_notifications(start=after, limit=batch, inclusive_of_start=False):
        yield from page
        after = page[-1].id


def _links(recorder, batch: int) -> Iterator[ChainLink]:
    after = 0
    while page := recorder.chain_links(after, batch):
        yield from page
        after = page[-1].position


def _pairs(recorder, batch: int) -> Iterator[tuple[int, object | None, ChainLink | None]]:
    """(position, stored event or None, link or None), merged by position."""
    events, links = _notifications(recorder, batch), _links(recorder, batch)
    event, link = next(events, None), next(links, None)
    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link.position):
            assert event is not None  # the loop goes on while one of them is left
            yield event.id, event, None
            event = next(events, None)
        elif event is None or link.position < event.id:
            yield link.position, None, link
            link = next(links, None)
        else:
            yield event.id, event, link
            event, link = next(events, None), next(links, None)


def _readable(plain: Plain) -> Plain:
    """`plain`, with bytes it cannot decrypt or decompress reported as damaged."""

    def read(state: bytes) -> bytes:
        try:
            return plain(state)
        except Exception as error:  # noqa: BLE001 - any failure means the bytes changed
            raise Malformed(f"its stored state cannot be decoded ({error})") from None

    return read


class _Walk:
    def __init__(self, anchor: Anchor | None, plain: Plain = as_stored) -> None:
        self.plain = _readable(plain)
        self.last: dict[UUID, tuple[int, str]] = {}
        self.prev_log = GENESIS
        self.anchor = anchor
        self.verdict = Verdict()

    def check(self, position: int, event, link: ChainLink | None) -> Problem | None:
        def problem(check: str, message: str) -> Problem:
            if event is not None:
                aggregate, version = event.originator_id, event.originator_version
                topic = event.topic
            else:
                assert link is not None  # a position has its event, its link or both
                aggregate, version, topic = link.aggregate_id, link.version, None
            return Problem(check, message, position, str(aggregate), version, topic)

        if link is None:
            return problem(
                "unchained",
                f"the event at position {position} has no chain link: "
                "it was written around the engine",
            )
        if event is None:
            return problem(
                "missing_event",
                f"the event recorded at position {position} "
                f"(aggregate {link.aggregate_id} version {link.version}) is gone "
                "from the store: it was deleted",
            )
        if (event.originator_id, event.originator_version) != (link.aggregate_id, link.version):
            return problem(
                "moved",
                f"position {position} holds aggregate {event.originator_id} "
                f"version {event.originator_version}, but the chain recorded "
                f"{link.aggregate_id} version {link.version} there",
            )
        last_version, last_hash = self.last.get(link.aggregate_id, (0, GENESIS))
        if link.version != last_version + 1:
            return problem(
                "version_gap",
                f"version {link.version} follows version "
                f"{last_version}: the events in between were deleted",
            )
        if link.prev_hash != last_hash:
            return problem(
                "broken_link",
                "its link does not name the hash of the "
                "aggregate's previous event: the chain was altered",
            )
        try:
            document = stored_document(
                event.topic,
                event.originator_id,
                event.originator_version,
                self.plain(event.state),
                position,
            )
        except Malformed as error:
            return problem("malformed", f"the event at position {position} is damaged: {error}")
        if event_hash(link.prev_hash, document) != link.event_hash:
            return problem(
                "event_hash",
                f"the event at position {position} is not what was "
                "recorded: its content or its recorded hash was changed",
            )
        raw = record_digest(event.topic, event.originator_id, event.originator_version, event.state)
        if log_hash(self.prev_log, link.event_hash, raw) != link.log_hash:
            return problem(
                "log_hash",
                f"the log hash at position {position} does not follow "
                "from the one before it: an event before it was deleted, or this "
                "event's stored bytes or the chain were changed",
            )
        return self._anchored(link, problem)

    def _anchored(self, link: ChainLink, problem) -> Problem | None:
        anchor = self.anchor
        if anchor is None or link.position < anchor.position:
            return None
        self.anchor = None
        if link.position > anchor.position:
            return problem(
                "anchor",
                f"the anchor names position {anchor.position}, which the "
                "chain no longer has: events were deleted and the chain rewritten",
            )
        if link.log_hash != anchor.log_hash:
            return problem(
                "anchor",
                f"the log hash at position {anchor.position} differs from "
                "the anchor kept outside the store: the chain was rewritten",
            )
        return None

    def advance(self, link: ChainLink, held: bool = True) -> None:
        self.last[link.aggregate_id] = (link.version, link.event_hash)
        self.prev_log = link.log_hash
        self.verdict.checked += held
        self.verdict.head = Anchor(link.position, link.log_hash)


def _max_position(recorder) -> int:
    if hasattr(recorder, "max_position"):
        return recorder.max_position()
    return recorder.max_notification_id() or 0


def verify_store(
    recorder,
    *,
    anchor: Anchor | None = None,
    batch: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    every: bool = False,
    up_to: int | None = None,
) -> Verdict:
    """Recompute every link from the stored events; stop at the first that does not hold.

    `recorder` is the event store's (or anything with its `select_notifications`,
    `chain_links`, `chain_head`, `max_position` and, when the store compresses or
    encrypts, `plain_state`).

    `up_to`: the last position to walk; by default the store's end when the walk begins.
    Events and links are read in separate pages, so an event recorded while they are
    read must not pass for an event without its link, or a link without its event.

    With `every`, go on and list every event that does not hold. Past a bad event the
    walk goes on from that event's recorded link, so each problem is named at its own
    event rather than again at every event after it.
    """
    if not getattr(recorder, "chained", hasattr(recorder, "chain_links")):
        raise TypeError("this event store keeps no hash chain (an in-memory store?)")
    if up_to is None:
        # Both ends: an event written around the engine after the last link is still walked.
        head = recorder.chain_head()
        up_to = max(head.position if head else 0, _max_position(recorder))
    walk = _Walk(anchor, getattr(recorder, "plain_state", as_stored))
    for position, event, link in _pairs(recorder, batch):
        if position > up_to:
            break
        found = walk.check(position, event, link)
        if found is not None:
            walk.verdict.found(found)
            if not every:
                return walk.verdict
            if link is not None:
                walk.advance(link, held=False)
            continue
        walk.advance(link)  # type: ignore[arg-type]
        if on_progress and walk.verdict.checked % batch == 0:
            on_progress(batch)
    if walk.anchor is not None:
        walk.verdict.found(
            Problem(
                "anchor",
                f"the store ends before the anchor's position {walk.anchor.position}: "
                "events were deleted from its end",
                walk.anchor.position,
            )
        )
    return walk.verdict
