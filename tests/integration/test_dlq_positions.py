"""Dead letters are told apart by DLQ partition and offset, as `intercept dlq` shows them."""

from types import SimpleNamespace

import pytest
import typer

from consumers import dlq_tools
from consumers.dead_letters import from_dlq_record
from engine.cli.kafka import _one_partition_each


def _record(partition: int, offset: int):
    headers = [("dlq.reason", b"not_json"), ("dlq.source.topic", b"t")]
    return SimpleNamespace(
        partition=partition, offset=offset, key=None, value=b"x", headers=headers
    )


def test_two_letters_at_the_same_offset_on_two_partitions_are_two_letters():
    a, b = from_dlq_record(_record(0, 0)), from_dlq_record(_record(2, 0))
    shown = [dlq_tools.describe(x) for x in (a, b)]
    assert [(s["dlq_partition"], s["dlq_offset"]) for s in shown] == [(0, 0), (2, 0)]


def test_an_offset_alone_is_refused_when_it_names_two_letters():
    letters = [dlq_tools.describe(from_dlq_record(_record(p, 0))) for p in (0, 2)]
    with pytest.raises(typer.BadParameter, match="pass --partition"):
        _one_partition_each(letters, [0])
    _one_partition_each(letters[:1], [0])  # unambiguous: fine
