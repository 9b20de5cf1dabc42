"""Carrier callback signatures: HMAC-SHA256 over the timestamp and the raw body.

The signed message is `"{timestamp}." + body`, with the timestamp in Unix
seconds sent alongside. Binding the timestamp into the signature is what lets a
replay outside the window be refused: an old body cannot be given a new time.
"""

import hashlib
import hmac
from datetime import datetime, timedelta

TIMESTAMP_HEADER = "X-Intercept-Timestamp"
SIGNATURE_HEADER = "X-Intercept-Signature"
WINDOW = timedelta(minutes=5)
_SCHEME = "sha256="


class SignatureRefused(ValueError):
    """Why a callback's signature was not accepted; the reason is safe to tell the caller."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window: timedelta = WINDOW,
) -> None:
    """Raise SignatureRefused unless `signature` signs `body` at a time within the window."""
    if not timestamp or not signature:
        raise SignatureRefused(
            f"a callback needs the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers"
        )
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be Unix seconds")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > window.total_seconds():
        raise SignatureRefused(
            f"the callback's timestamp is {int(skew)}s away from the engine's clock; "
            f"only {int(window.total_seconds())}s are accepted (replays are refused)"
        )
    expected = sign(secret, int(timestamp), body).encode()
    if not hmac.compare_digest(expected, signature.strip().encode()):
        raise SignatureRefused("the callback's signature does not match its body and timestamp")
