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


@dataclass
class Verdict:
    checked: int = 0
    head: Anchor | None = None
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": str(self.head) if self.head else None,
            "problem": asdict(self.problem) if self.problem else None,
            "notes": self.notes,
        }


def describe(verdict: Verdict) -> list[str]:
    """The first problem in words: what failed, then which event and how far the chain held."""
    p = verdict.problem
    if p is None:
        return []
    return [
        f"TAMPERED [{p.check}] {p.message}",
        f"event: type={p.event_type} aggregate={p.aggregate_id} "
        f"version={p.version} position={p.position}; {verdict.checked} events "
        "before it verified",
    ]
