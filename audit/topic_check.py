"""Verifies the published events from the Kafka messages alone: no database needed.

Each message carries its event's hash, the previous hash of the same intercept and the
log hash. Every message's hash is recomputed from its own fields, and each intercept's
versions must run 1, 2, 3, ... each naming the hash before it. Redeliveries (at least
once) must repeat the first copy exactly.

A message that is not an event at all (someone else's, or garbage) is reported as
foreign and one without hashes as unhashed; neither is tampering with a recorded event,
and the check goes on past both.
"""

from collections.abc import Iterable
from typing import Any

import orjson

from audit.canonical import GENESIS, Malformed, event_hash, published_document
from audit.verdict import UNVERIFIABLE, Anchor, Problem, Verdict


class TopicCheck:
    def __init__(self) -> None:
        self.hashes: dict[str, list[str]] = {}  # intercept -> event hash per version
        self.verdict = Verdict()

    def offer(self, record) -> Problem | None:
        """Check one record (anything with topic, partition, offset and value)."""
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            message = orjson.loads(record.value)
            if not isinstance(message, dict):
                raise Malformed("the message is not a JSON object")
            if not {"event_type", "intercept_id", "version"} <= message.keys():
                raise Malformed("it names no event_type, intercept_id and version")
        except (orjson.JSONDecodeError, TypeError, Malformed) as error:
            return Problem(
                "foreign",
                f"record {where} is not an event message of this engine: {error}",
                where=where,
            )
        found = self._check(message, where)
        if found is None:
            self.verdict.checked += 1
            self._note_head(message)
        return found

    def take(self, record) -> bool:
        """Check one record into the verdict; True when it was tampered with."""
        found = self.offer(record)
        if found is None:
            return False
        if found.check in UNVERIFIABLE:
            self.verdict.unverifiable.append(found)
            return False
        self.verdict.found(found)
        return True

    def _check(self, message: dict[str, Any], where: str) -> Problem | None:
        def problem(check: str, text: str) -> Problem:
            return Problem(
                check,
                f"record {where}: {text}",
                _int(message.get("position")),
                message.get("intercept_id"),
                _int(message.get("version")),
                message.get("event_type"),
                where,
            )

        claimed, prev = message.get("event_hash"), message.get("prev_hash")
        if not isinstance(claimed, str) or not isinstance(prev, str):
            return problem(
                "unhashed",
                "it carries no hashes (published before tamper evidence, or not by this engine)",
            )
        try:
            document = published_document(message)
        except Malformed as error:
            return problem("malformed", str(error))
        if event_hash(prev, document) != claimed:
            return problem(
                "event_hash",
                "its content does not match its hash: it was changed after it was recorded",
            )
        known = self.hashes.setdefault(str(message["intercept_id"]), [])
        version = message["version"]
        if not isinstance(version, int) or version < 1:
            return problem("malformed", "its version is not a positive integer")
        if version <= len(known):
            if known[version - 1] != claimed:
                return problem(
                    "redelivery_differs",
                    f"version {version} was delivered before with a different hash",
                )
            self.verdict.redeliveries += 1
            return None
        if version > len(known) + 1:
            return problem(
                "version_gap",
                f"version {version} follows version {len(known)}: "
                "the versions in between are missing from the topic",
            )
        if prev != (known[-1] if known else GENESIS):
            return problem(
                "broken_link", "it does not name the hash of the intercept's previous event"
            )
        known.append(claimed)
        return None

    def _note_head(self, message: dict[str, Any]) -> None:
        head, position = self.verdict.head, message.get("position")
        if (
            isinstance(message.get("log_hash"), str)
            and isinstance(position, int)
            and (head is None or position > head.position)
        ):
            self.verdict.head = Anchor(position, message["log_hash"])


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def verify_records(records: Iterable, every: bool = False) -> Verdict:
    """Stop at the first tampered record, or with `every` go on and list them all.

    Foreign and unhashed messages are listed as such and never stop the check. The
    verdict's head is the newest log hash seen.
    """
    check = TopicCheck()
    for record in records:
        if check.take(record) and not every:
            break
    return check.verdict
