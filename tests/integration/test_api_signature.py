"""The callback signature: HMAC-SHA256 over `timestamp.body`, within a time window."""

from datetime import UTC, datetime, timedelta

import pytest

from api.signature import WINDOW, SignatureRefused, sign, verify

SECRET = "whsec_test"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def test_a_signature_is_sha256_hmac_of_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_700_000_000, b"{}") == f"sha256={expected}"


def test_a_signature_within_the_window_verifies():
    verify(SECRET, str(T - 299), sign(SECRET, T - 299, b"{}"), b"{}", NOW)


@pytest.mark.parametrize(
    "timestamp, signature, body, why",
    [
        (str(T), sign(SECRET, T, b"{}"), b"{} ", "does not match"),
        (str(T), sign("other", T, b"{}"), b"{}", "does not match"),
        (str(T + 1), sign(SECRET, T, b"{}"), b"{}", "does not match"),
        (str(T - 301), sign(SECRET, T - 301, b"{}"), b"{}", "replays are refused"),
        (str(T), "sha256=\u00e9\u00e9", b"{}", "does not match"),
        ("-5", "sha256=00", b"{}", "Unix seconds"),
        ("1" * 40, "sha256=00", b"{}", "Unix seconds"),
        (None, "sha256=00", b"{}", "needs the"),
        (str(T), "", b"{}", "needs the"),
    ],
)
def test_anything_else_is_refused_with_a_reason(timestamp, signature, body, why):
    with pytest.raises(SignatureRefused, match=why):
        verify(SECRET, timestamp, signature, body, NOW)


def test_the_window_is_five_minutes():
    assert WINDOW == timedelta(minutes=5)


def test_a_keyed_signature_covers_the_key_first():
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b"k-1.1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, 1_700_000_000, b"{}", "k-1") == f"sha256={expected}"
    verify(SECRET, str(T), sign(SECRET, T, b"{}", "k-1"), b"{}", NOW, idempotency_key="k-1")


@pytest.mark.parametrize(
    "signed_key, sent_key", [(None, "k-1"), ("k-1", None), ("k-1", "k-2"), ("k.1", "k.1")]
)
def test_a_key_not_signed_as_sent_is_refused(signed_key, sent_key):
    with pytest.raises(SignatureRefused):
        verify(
            SECRET, str(T), sign(SECRET, T, b"{}", signed_key), b"{}", NOW, idempotency_key=sent_key
        )
