"""The interpreter's cyclic garbage collector run less often: while a batch of stored
records is worked through (a rebuild's batch, a consumer's poll, a relay's batches), and
its full collections in a server answering requests.

Such a batch makes hundreds of thousands of short-lived objects (decoded messages, events,
rows, SQL parameters, Kafka records and their futures) that form no cycles; the cyclic
collector, run every 700 allocations by default, went over them again and again. Inside
`fewer_collections` it still runs, a hundred times less often. The threshold is the
process's: when several threads work at once, the first in raises it and the last out
puts it back.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_inside = 0
_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _inside, _before
    with _lock:
        if _inside == 0:
            _before = gc.get_threshold()
            gc.set_threshold(70_000, _before[1], _before[2])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_before)


FULL_COLLECTION_EVERY = 100
"""Younger collections between two full ones in a server (Python's default is 10). A full
collection walks the whole heap (the web stack, the engine, their models): 65-95 ms of CPU
measured, holding the interpreter, so every request in flight waits it out. Ten times
rarer, it no longer sets the tail; cycles of garbage wait longer, nothing else changes."""


def rarer_full_collections() -> None:
    """For the life of a serving process: full collections ten times rarer."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
