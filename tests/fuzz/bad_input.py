"""Hypothesis strategies for command-line input that is wrong in at least one field.

Each command is a valid invocation with one or two of its fields replaced by a
value that field can never take: wrong types, negative or huge amounts, empty
and enormous strings, control characters, unknown enum values, bad dates and
unknown ids. Values the CLI would quietly replace by a default (an empty
`--at`, `--by` or request `--key`) are left out: they are not bad input.
"""

import re
import string
from enum import Enum

from hypothesis import strategies as st

from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    Carrier,
    CarrierReport,
    EvidenceKind,
    FailureReason,
    FeeKind,
    Payer,
)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@\-]*")
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]


def _not_an_option(text: str) -> bool:
    return not text.startswith("--")  # `--help` as a value would print help and exit 0


def with_control_character(base: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(base, st.sampled_from(_CONTROL), st.integers(0, 40)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )


enormous = st.integers(1001, 20_000).map(lambda n: "x" * n)

bad_codes = st.one_of(
    st.just(""),
    st.integers(65, 5000).map(lambda n: "a" * n),
    with_control_character(st.text(string.ascii_letters, min_size=1, max_size=20)),
    st.text(max_size=30).filter(lambda t: not _CODE.fullmatch(t)),
).filter(_not_an_option)

bad_texts = st.one_of(enormous, with_control_character(st.text(max_size=30)))

bad_keys = st.one_of(
    st.integers(129, 2000).map(lambda n: "k" * n),
    st.text(min_size=1, max_size=20).filter(lambda t: any(not "!" <= c <= "~" for c in t)),
).filter(_not_an_option)

bad_amounts = st.one_of(
    st.sampled_from(
        [
            "abc",
            "",
            "1,00",
            "1.234",
            "0.001",
            "-0.01",
            "nan",
            "NaN",
            "inf",
            "-Infinity",
            "1e13",
            "10000000000.01",
            "0x10",
            "12.00 CNY",
            "¥12",
        ]
    ),
    st.integers(max_value=-1).map(str),
    st.integers(min_value=10**10 + 1).map(str),  # above the largest amount the engine takes
    st.text(string.ascii_letters + string.punctuation, min_size=1, max_size=12).filter(
        lambda t: _not_an_option(t) and not any(c.isdigit() for c in t)
    ),
)

bad_times = st.one_of(
    st.sampled_from(
        [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-26T25:00:00+08:00",
            "26/11/2026",
            "1999-12-31T23:59:59Z",
            "2201-01-01T00:00:00Z",
            "now",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),  # no timezone: refused, not guessed
)

bad_ids = st.one_of(
    st.just("not-an-id"),
    st.uuids().map(str),  # well formed, but no such intercept: refused by a rule (exit 3)
    st.text(min_size=1, max_size=40).filter(lambda t: _not_an_option(t) and len(t) != 36),
)

bad_currencies = st.one_of(
    st.sampled_from(["cny", "CN", "EURO", "", "12A", "C N"]),
    st.text(max_size=6).filter(lambda t: not re.fullmatch(r"[A-Z]{3}", t)),
).filter(_not_an_option)


def not_one_of(enum: type[Enum]) -> st.SearchStrategy:
    known = {str(m.value).casefold() for m in enum}
    return st.text(max_size=30).filter(
        lambda t: t.strip().casefold() not in known and _not_an_option(t)
    )


def _invocation(head: list[str], fields: dict) -> st.SearchStrategy:
    """`fields`: flag -> (valid value or None to omit, strategy of bad values)."""

    @st.composite
    def build(draw) -> list[str]:
        spoiled = draw(st.sets(st.sampled_from(sorted(fields)), min_size=1, max_size=2))
        argv = list(head)
        for flag, (valid, bad) in fields.items():
            value = draw(bad) if flag in spoiled else valid
            if value is None:
                continue
            argv += [value] if flag.startswith("<") else [flag, value]
        return argv

    return build()


def request() -> st.SearchStrategy:
    return _invocation(
        ["request"],
        {
            "--merchant": ("m1", bad_codes),
            "--order": ("o1", bad_codes),
            "--tracking": ("ZT1", bad_codes),
            "--carrier": ("ZTO", not_one_of(Carrier)),
            "--amount": ("1.00", bad_amounts),
            "--reason": ("buyer_refund", bad_codes),
            "--action": (None, not_one_of(Action)),
            "--currency": (None, bad_currencies),
            "--note": (None, bad_texts),
            "--after-sale-status": (None, not_one_of(AfterSaleStatus)),
            "--key": (None, bad_keys),
            "--by": (None, bad_codes.filter(bool)),
            # An address without a redirect is refused like any invalid field.
            "--address": (None, st.text(string.ascii_letters, min_size=1, max_size=20)),
        },
    )


def cancel(iid: str) -> st.SearchStrategy:
    return _invocation(
        ["cancel", "--yes"],
        {
            "<id>": (iid, bad_ids),
            "--reason": ("misoperation", not_one_of(CancelReason)),
            "--note": (None, bad_texts),
            "--key": (None, bad_keys.filter(bool)),
            "--by": (None, bad_codes),
        },
    )


def carrier(iid: str) -> st.SearchStrategy:
    return _invocation(
        ["carrier"],
        {
            "<id>": (iid, bad_ids),
            "<report>": ("accepted", not_one_of(CarrierReport)),
            "--carrier": ("ZTO", not_one_of(Carrier)),
            "--ref": (None, bad_codes),
            # A failure reason on a report that is not a failure is refused.
            "--reason": (
                None,
                st.sampled_from([r.value for r in FailureReason]) | not_one_of(FailureReason),
            ),
            "--at": (None, bad_times),
            "--key": (None, bad_keys.filter(bool)),
            "--by": (None, bad_codes.filter(bool)),
        },
    )


def fee(iid: str) -> st.SearchStrategy:
    return _invocation(
        ["fee"],
        {
            "<id>": (iid, bad_ids),
            "--kind": ("storage", not_one_of(FeeKind)),
            "--amount": ("3.50", bad_amounts | st.just("0")),
            "--payer": (None, not_one_of(Payer)),
            "--currency": (None, bad_currencies),
            "--key": (None, bad_keys.filter(bool)),
            "--by": (None, bad_codes),
        },
    )


def evidence(iid: str, file: str) -> st.SearchStrategy:
    return _invocation(
        ["evidence"],
        {
            "<id>": (iid, bad_ids),
            "--kind": ("screenshot", not_one_of(EvidenceKind)),
            "--file": (file, st.just(file + ".missing")),
            "--note": (None, bad_texts),
            "--key": (None, bad_keys.filter(bool)),
            "--by": (None, bad_codes),
        },
    )


def after_sale(iid: str) -> st.SearchStrategy:
    return _invocation(
        ["after-sale"],
        {
            "<id>": (iid, bad_ids),
            "<status>": ("refunded", not_one_of(AfterSaleStatus)),
            "--key": (None, bad_keys.filter(bool)),
            "--by": (None, bad_codes),
        },
    )


def policy() -> st.SearchStrategy:
    return _invocation(
        ["policy", "set"],
        {
            "<merchant>": ("m1", bad_codes.filter(bool)),
            "--min-amount": ("2.00", bad_amounts),
            "--max-amount": ("6000.00", bad_amounts | st.just("1.00")),  # below the minimum
            "--carriers": ("ZTO,SF", st.sampled_from(["", ",", "XXX", "ZTO,??"])),
            "--by": (None, bad_codes.filter(bool)),
        },
    )


def any_command(iid: str, file: str) -> st.SearchStrategy:
    return st.one_of(
        request(),
        cancel(iid),
        carrier(iid),
        fee(iid),
        evidence(iid, file),
        after_sale(iid),
        policy(),
    )
