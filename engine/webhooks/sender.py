"""Sending one webhook: only http(s), no redirects, no private addresses, bounded in time
and in what is read back.

The host is resolved once, every address it has is checked, and the connection goes to
the checked address (TLS still verifies the host's name), so a name cannot point at a
public address when checked and a private one when connected. Private, loopback,
link-local and other non-global addresses are refused unless the settings allow them
(INTERCEPT_WEBHOOKS_ALLOW_PRIVATE=1, as the tests' loopback receivers need).
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 1024
"""At most this much of a response is read, to show in `last_error`; the rest is dropped."""


class Refused(ValueError):
    """A URL the engine will not send to; the message says which rule."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all (refused, timed out, unreachable)
    error: str | None  # None on success (2xx)

    @property
    def ok(self) -> bool:
        return self.error is None


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an acceptable URL, or `Refused`."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise Refused("a webhook URL is printable ASCII without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        parts.hostname, parts.port  # noqa: B018 - both raise ValueError when malformed
    except ValueError:
        raise Refused(f"webhook URL {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise Refused(f"webhook URL {url!r}: only http and https URLs are accepted")
    if not parts.hostname:
        raise Refused(f"webhook URL {url!r} has no host")
    if parts.username or parts.password:
        raise Refused("a webhook URL cannot carry a user name or password")
    if parts.fragment:
        raise Refused("a webhook URL cannot have a #fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(f"webhook URL {url!r} has an invalid port") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to; `Refused` when any address of the host is not public."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Refused(f"webhook host {host!r} does not resolve ({error.strerror})") from None
    addresses = [str(info[4][0]) for info in found]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not allow_private and not ip.is_global:
            raise Refused(
                f"webhook host {host!r} resolves to {ip}, a private, loopback, link-local "
                "or reserved address; such addresses are refused"
            )
        if ip.is_multicast or ip.is_unspecified:
            raise Refused(f"webhook host {host!r} resolves to {ip}, which cannot be sent to")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST once. A 2xx is success; anything else (a redirect included: never followed)
    is a failure with its reason, to be retried by the dispatcher."""
    try:
        scheme, host, port, path = check_url(url)
        address = resolve(host, port, allow_private)
    except Refused as refused:
        return Answer(None, str(refused))
    connection_class = _PinnedTLS if scheme == "https" else _Pinned
    connection = connection_class(host, port, address, timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        snippet = response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}"
        detail = str(error)[:200]
        return Answer(None, f"{reason}: {detail}" if detail and detail != reason else reason)
    finally:
        connection.close()
    if 200 <= status < 300:
        return Answer(status, None)
    if 300 <= status < 400:
        return Answer(status, f"answered {status}: redirects are not followed")
    text = snippet.decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    return Answer(status, f"answered {status}" + (f": {text}" if text else ""))
