"""The engine's own signature scheme: HMAC-SHA256 over the timestamp, the raw body and any key.

The signed message is `"{timestamp}." + body`, with the timestamp in Unix
seconds sent alongside. Binding the timestamp into the signature is what lets a
replay outside the window be refused: an old body cannot be given a new time.
Inside the window the route remembers each signature it accepted (see
KeyStore.first_sight), so one signed callback is acted on once.

A callback sent with an `Idempotency-Key` signs `"{key}.{timestamp}." + body`
instead, so the key is covered too: a captured callback cannot be replayed with
a key of the replayer's choosing. The key may not contain "."; then the key ends
at the first ".", and a keyed message cannot be read as an unkeyed one, whose
body would have to begin with the digits of a timestamp, which no JSON object does.
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


def sign(secret: str, timestamp: int, body: bytes, idempotency_key: str | None = None) -> str:
    prefix = f"{timestamp}." if idempotency_key is None else f"{idempotency_key}.{timestamp}."
    mac = hmac.new(secret.encode(), prefix.encode() + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window: timedelta = WINDOW,
    idempotency_key: str | None = None,
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
    if idempotency_key is not None and "." in idempotency_key:
        raise SignatureRefused("a callback's Idempotency-Key may not contain '.'")
    expected = sign(secret, int(timestamp), body, idempotency_key).encode()
    if not hmac.compare_digest(expected, signature.strip().encode()):
        covered = "body, timestamp and Idempotency-Key" if idempotency_key else "body and timestamp"
        raise SignatureRefused(f"the callback's signature does not match its {covered}")
