"""While a batch is projected the cyclic collector runs less often, and afterwards as
before, however the batches of several threads overlap."""

import gc
import threading

from storage.collector import fewer_collections


def test_the_threshold_is_raised_inside_and_put_back_after():
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] > before[0]
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before


def test_the_threshold_is_put_back_after_an_error():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise RuntimeError("a failed batch")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_overlapping_batches_of_two_threads_leave_it_as_it_was():
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with fewer_collections():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.get_threshold())  # the first left; this one is still inside

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen and seen[0][0] > before[0]
    assert gc.get_threshold() == before
