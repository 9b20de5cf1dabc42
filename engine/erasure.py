"""Erasing a data subject's personal data: what `intercept erase` and POST /v1/erasures do.

In this order, each step safe to run again (docs/privacy.md):
1. find the subjects (an order's buyer and its intercepts' recipients) and their intercepts;
2. delete the buyer's evidence files;
3. destroy the subjects' keys: from here on their sealed values open for no one;
4. record an `Erased` on each intercept (no personal data in it); the projections rewrite
   the rows and timeline lines to `[erased]` when they apply it;
5. scrub the projections and the key store, so no old copy stays in any file.

A run killed between steps leaves the rest to the next run: erasure is idempotent.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.commands import EraseSubject
from domain.errors import DomainError
from domain.events import EvidenceAttached
from domain.personal import SUBJECT_ID_PATTERN, buyer_subject, recipient_subject, subject_kind
from domain.vocabulary import Subject
from engine.composition import Engine
from engine.evidence_store import EvidenceStore
from projections import store as projection_store
from projections.projector import ERASABLE


@dataclass
class ErasureReport:
    subjects: list[str] = field(default_factory=list)
    intercepts: list[str] = field(default_factory=list)
    keys_destroyed: int = 0
    evidence_files_deleted: int = 0
    erased_recorded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "subjects": self.subjects,
            "intercepts": self.intercepts,
            "keys_destroyed": self.keys_destroyed,
            "evidence_files_deleted": self.evidence_files_deleted,
            "erased_recorded": self.erased_recorded,
        }


def subject_id(text: str) -> str:
    """A subject id as typed, checked: `buyer-` or `recipient-` and 32 hex digits."""
    if not re.fullmatch(SUBJECT_ID_PATTERN, text):
        raise ValueError(f"{text!r} is not a subject id (buyer-… or recipient-…, 32 hex digits)")
    return text


def subjects_of_order(
    engine: Engine, order_id: str, merchant_id: str | None
) -> dict[str, set[UUID]]:
    """An order's buyer and each of its intercepts' recipients, with their intercepts."""
    found: dict[str, set[UUID]] = {}
    ids = projection_store.intercept_ids(engine.db, "order_id", order_id, merchant_id)
    for iid_text in ids:
        row = projection_store.intercept(engine.db, iid_text)
        if row is None:
            continue
        iid = UUID(iid_text)
        found.setdefault(buyer_subject(row["merchant_id"], order_id), set()).add(iid)
        found.setdefault(recipient_subject(iid), set()).add(iid)
    return found


def erase(
    engine: Engine,
    evidence: EvidenceStore,
    *,
    actor: str,
    clock: Callable[[], datetime],
    order_id: str | None = None,
    subject: str | None = None,
    merchant_id: str | None = None,
) -> ErasureReport:
    keys = engine.seals.keys
    if order_id is not None:
        targets = subjects_of_order(engine, order_id, merchant_id)
    elif subject is not None:
        targets = {subject: set()}
    else:
        raise ValueError("name an order or a subject to erase")
    for s, intercepts in targets.items():
        # Intercepts the projections do not show yet (a lagging consumer) are known here.
        intercepts.update(keys.intercepts_of(s))
    report = ErasureReport(subjects=sorted(targets))
    report.intercepts = sorted({str(i) for ids in targets.values() for i in ids})
    for s, intercepts in sorted(targets.items()):
        if subject_kind(s) is Subject.BUYER:
            report.evidence_files_deleted += _delete_evidence(engine, evidence, intercepts)
    for s in sorted(targets):
        report.keys_destroyed += keys.destroy(s)
    commands = [
        EraseSubject(intercept_id=iid, subject=s, actor=actor, occurred_at=clock())
        for s, intercepts in sorted(targets.items())
        for iid in sorted(intercepts)
    ]
    for result in engine.execute_many(commands) if commands else []:
        if isinstance(result, DomainError):
            raise result
        report.erased_recorded += len(result.events)
    # The live projector scrubs when it applies the Erased events; a run that recorded none
    # (a second run, after a crash or in Kafka mode once the consumers applied them) does.
    scrub(engine, projections=report.erased_recorded == 0)
    return report


def _delete_evidence(engine: Engine, evidence: EvidenceStore, intercepts: set[UUID]) -> int:
    deleted = 0
    for iid in sorted(intercepts):
        for event in engine.app.event_log.history(iid):
            if isinstance(event, EvidenceAttached):
                path = evidence.path_of(event.sha256)
                if path.exists():
                    path.unlink()
                    deleted += 1
    return deleted


def scrub(engine: Engine, projections: bool = True) -> None:
    """No old copy of erased values in the projections' or the key store's files.

    The live projector scrubs its own tables after it applies an Erased (in Kafka mode,
    when the consumer gets to it); this covers a run that found them applied already.
    """
    if projections:
        engine.db.scrub(ERASABLE)
    scrub_keys = getattr(engine.seals.keys, "scrub", None)
    if scrub_keys is not None:
        scrub_keys()
