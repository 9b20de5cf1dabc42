"""Deterministic command plans: what a client means to send, each command with its own key."""

import random

import orjson

from domain.commands import Command
from domain.ids import intercept_id
from tests import builders as b


def plan(seed: int, intercepts: int, follow_ups: int) -> list[Command]:
    """A policy, `intercepts` requests, then random fees, reports and cancels on them."""
    rng = random.Random(seed)
    commands: list[Command] = [b.policy(key="policy")]
    ids = []
    for n in range(intercepts):
        commands.append(b.request(key=f"r{n}", order_id=f"o{n}", tracking_no=f"ZT{n}"))
        ids.append(intercept_id("m1", f"r{n}"))
    for n in range(follow_ups):
        iid = rng.choice(ids)
        kind = rng.choice(["fee", "fee", "accepted", "confirmed", "cancel", "released"])
        key = f"s{n}"
        if kind == "fee":
            commands.append(b.fee(iid, key=key, amount_minor=rng.randint(1, 5000)))
        elif kind == "cancel":
            commands.append(b.cancel(iid, key=key))
        else:
            commands.append(b.carrier(iid, kind, key=key))
    return commands


def signature(events) -> list[tuple]:
    """What a history says, without when it was recorded: comparable across runs."""
    return [
        (
            type(e).__name__,
            str(e.originator_id),
            e.originator_version,
            orjson.dumps(e.payload(), option=orjson.OPT_SORT_KEYS).decode(),
        )
        for e in events
    ]


def keys_recorded_twice(events) -> int:
    """Commands whose idempotency key is on more than one event: recorded twice."""
    keys = [(e.originator_id, k) for e in events if (k := getattr(e, "idempotency_key", None))]
    return len(keys) - len(set(keys))
