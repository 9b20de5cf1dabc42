"""What `intercept audit` does with the store and the topic: the CLI only parses and prints.

Verifying the hash chain (in the event store or on the topic), the chain's head to keep
elsewhere, and an intercept's history for auditors.
"""

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from audit import history as histories
from audit.verdict import Anchor, Verdict, describe, describe_all
from consumers.topic_reader import MissingTopic
from engine.composition import Engine
from engine.settings import Settings
from engine.usecases import Unreadable
from projections import queries

__all__ = [
    "Anchor",
    "MissingTopic",
    "Unreadable",
    "Verdict",
    "describe",
    "describe_all",
]  # what the front door parses, catches or prints with


def verify_store(engine: Engine, anchor: Anchor | None, every: bool) -> Verdict:
    """Every hash and link of the event store, through `anchor` when one is given."""
    from audit.store_check import verify_store as walk

    return walk(engine.app.event_log, anchor=anchor, every=every)


def verify_topic(settings: Settings, every: bool) -> Verdict:
    """The topic from its earliest offsets; raises MissingTopic when it does not exist."""
    from audit.topic_check import verify_records
    from consumers.topic_reader import read_from_start
    from engine import kafka_clients

    consumer = kafka_clients.consumer(settings, group_id=None)
    try:
        batches = read_from_start(consumer, settings.topic)
        return verify_records(
            (r for batch in batches for records in batch.values() for r in records), every
        )
    finally:
        consumer.close(autocommit=False)


def chain_head(engine: Engine) -> str | None:
    """The newest position and log hash as an anchor, or None when the store is empty."""
    link = engine.app.event_log.chain_head()
    return str(Anchor(link.position, link.log_hash)) if link else None


def find_intercepts(
    engine: Engine, order: str | None, tracking: str | None, merchant: str | None
) -> list[UUID]:
    """The intercepts of an order id or a tracking number (only `merchant`'s, if given)."""
    column, value = ("order_id", order) if order is not None else ("tracking_no", tracking)
    if value is None:  # `history ""`: an empty id, and no order or tracking number, finds none
        return []
    return [UUID(i) for i in queries.intercept_ids(engine.db, column, value, merchant)]


def history(engine: Engine, ids: list[UUID]) -> list[dict[str, Any]]:
    """Every event of these intercepts as history lines; Unreadable names the error type."""
    try:
        return [line for iid in ids for line in histories.entries(engine.app, iid)]
    except (ValidationError, ValueError, KeyError) as error:
        raise Unreadable(type(error).__name__) from None


def render(lines: list[dict[str, Any]], fmt: str) -> str:
    """The history lines as an export: jsonl or csv."""
    return histories.render(lines, fmt)
