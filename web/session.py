"""The signed session cookie and the CSRF token every changing form carries.

The cookie holds no API key: only the key's id, the merchant being looked at, the
language and a random CSRF token, signed with a secret kept in the engine's home
(itsdangerous). Each request looks the key up again, so a revoked key ends its
sessions at the next request. The cookie expires after `MAX_AGE`; the signature
carries its time, so an old cookie is refused even when a browser keeps it.
"""

import hmac
import os
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "intercept_session"
MAX_AGE = 8 * 3600
"""Seconds a session lasts after sign-in (a working day)."""

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Session:
    csrf: str
    lang: str = "zh"
    key_id: str | None = None
    merchant_id: str | None = None
    """The merchant being looked at: a merchant key's own, or the one an admin or
    auditor chose (None: an auditor looking at every merchant)."""
    expires: int = 0
    """Unix time the sign-in ends; changing the language does not extend it."""

    @classmethod
    def fresh(cls, lang: str = "zh") -> "Session":
        return cls(csrf=secrets.token_urlsafe(32), lang=lang)

    def signed_in(self, key_id: str, merchant_id: str | None, now: float) -> "Session":
        # A new token at sign-in: one learnt before it is worth nothing after.
        return replace(
            self,
            key_id=key_id,
            merchant_id=merchant_id,
            csrf=secrets.token_urlsafe(32),
            expires=int(now) + MAX_AGE,
        )

    def signed_out(self) -> "Session":
        return Session.fresh(self.lang)

    def with_lang(self, lang: str) -> "Session":
        return replace(self, lang=lang)

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf, presented)


class Sessions:
    def __init__(self, secret: bytes, max_age: int = MAX_AGE) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="intercept.web.session")
        self.max_age = max_age

    def load(self, cookie: str | None, now: float) -> Session | None:
        """The session the cookie carries; None when it is missing, forged or too old."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
            session = Session(**data)
        except (BadSignature, TypeError, ValueError):
            return None
        if session.lang not in LANGUAGES:
            return None
        if session.key_id is not None and now >= session.expires:
            return session.signed_out()
        return session

    def dump(self, session: Session) -> str:
        return self._serializer.dumps(asdict(session))


def secret_in(home: Path) -> bytes:
    """The signing secret, made once per home and readable by its owner only."""
    path = home / "web-session.key"
    if path.exists():
        return path.read_bytes()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: a server starting at the
    # same moment reads either no file or the whole secret, and both end up with one.
    staged = home / f".web-session.key.{secrets.token_hex(4)}"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()
    return path.read_bytes()
