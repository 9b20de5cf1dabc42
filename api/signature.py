"""Carrier callback signatures as the API checks them: the engine's own scheme.

The scheme is the generic carrier protocol's (carriers/signing.py), the one place it is
written; the API's callback routes and the generic adapter both verify with it.
"""

from carriers.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WINDOW,
    SignatureRefused,
    sign,
    verify,
)

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WINDOW", "SignatureRefused", "sign", "verify"]
