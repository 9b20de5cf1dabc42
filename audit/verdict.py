"""What a verification found: the first broken event, or how far the chain holds."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """The first event whose content, hash or link is wrong, and what is wrong with it."""

    check: str  # which guarantee failed, e.g. "event_hash" or "missing_event"
    message: str
    position: int | None = None
    aggregate_id: str | None = None
    version: int | None = None
    event_type: str | None = None
    where: str | None = None  # a Kafka record, "topic[partition]@offset"


@dataclass(frozen=True)
class Anchor:
    """A log hash at a position, kept outside the store to detect a rewritten chain."""

    position: int
    log_hash: str

    @classmethod
    def parse(cls, text: str) -> "Anchor":
        position, _, log_hash = text.partition(":")
        if (
            not position.isdigit()
            or len(log_hash) != 64
            or not all(c in "0123456789abcdef" for c in log_hash)
        ):
            raise ValueError(f"anchor {text!r} is not POSITION:LOG_HASH (64 hex digits)")
        return cls(int(position), log_hash)

    def __str__(self) -> str:
        return f"{self.position}:{self.log_hash}"


UNVERIFIABLE = ("foreign", "unhashed")
"""Messages the topic check cannot verify, reported as such rather than as tampering."""


@dataclass
class Verdict:
    checked: int = 0
    head: Anchor | None = None
    problem: Problem | None = None  # the first
    notes: list[str] = field(default_factory=list)
    # Every problem, the first one included, when asked to go on past it (--all).
    problems: list[Problem] = field(default_factory=list)
    # Topic messages that are not this engine's hashed events, by kind (UNVERIFIABLE).
    unverifiable: list[Problem] = field(default_factory=list)
    redeliveries: int = 0

    @property
    def ok(self) -> bool:
        """Nothing tampered with, and no event message that escapes the check.

        A foreign message (not an event) changes no projection: the consumer dead-letters
        it. An event message without hashes would be applied unchecked: not ok.
        """
        return self.problem is None and not any(p.check == "unhashed" for p in self.unverifiable)

    def found(self, problem: Problem) -> None:
        if self.problem is None:
            self.problem = problem
        self.problems.append(problem)

    def counts(self) -> dict[str, int]:
        kinds = [p.check for p in self.unverifiable]
        return {kind: kinds.count(kind) for kind in UNVERIFIABLE}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": str(self.head) if self.head else None,
            "problem": asdict(self.problem) if self.problem else None,
            "problems": [asdict(p) for p in self.problems],
            "unverifiable": {**self.counts(), "messages": [asdict(p) for p in self.unverifiable]},
            "redeliveries": self.redeliveries,
            "notes": self.notes,
        }


def describe(verdict: Verdict) -> list[str]:
    """The first problem in words: what failed, then which event and how far the chain held."""
    p = verdict.problem
    if p is None:
        return []
    first, event = _lines(p)
    return [first, f"{event}; {verdict.checked} events before it verified"]


def describe_all(verdict: Verdict) -> list[str]:
    """Every problem found, each in words, then the messages that could not be verified."""
    lines = [line for p in verdict.problems for line in _lines(p)]
    for p in verdict.unverifiable:
        lines.append(f"{p.check.upper()} {p.message}")
    return lines


def _lines(p: Problem) -> list[str]:
    return [
        f"TAMPERED [{p.check}] {p.message}",
        f"event: type={p.event_type} aggregate={p.aggregate_id} "
        f"version={p.version} position={p.position}",
    ]
