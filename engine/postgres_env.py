"""The eventsourcing library's PostgreSQL settings, read from any libpq connection string."""

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

# One connection covers a CLI command; the overflow serves a server's worker threads.
POOL_SIZE = 1
MAX_OVERFLOW = 9


# What the eventsourcing library's datastore can be given; any other option would be
# dropped without a word, so it is refused instead.
_KEYS = ("host", "port", "user", "password", "dbname")
_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp")
_FORMS = (
    "expected postgresql://user[:password]@host[:port]/dbname (or postgres://), "
    "postgresql:///dbname?host=/run/postgresql (Unix socket), or keywords "
    "'host=H port=P dbname=D user=U' with the password as a keyword too "
    "(unset: SQLite under home)"
)


class BadDatabaseUrl(ValueError):
    pass


def parse_postgres_url(url: str) -> dict[str, str]:
    """host, port, user, password and dbname from any libpq form; never echoes the text.

    URIs (postgresql://, postgres://, with ?host= for a socket folder) and keyword
    strings are read by libpq's own parser; what they leave out is filled as libpq
    would: PGHOST/PGPORT/PGUSER/PGPASSWORD, then the local socket, 5432 and the OS user.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    text = url.strip()
    if "://" in text.split("=", 1)[0] and not text.startswith(("postgresql://", "postgres://")):
        raise BadDatabaseUrl(_FORMS)
    if "://" not in text and "=" not in text:
        raise BadDatabaseUrl(_FORMS)
    try:
        given = {k: str(v) for k, v in conninfo_to_dict(text).items()}
    except ProgrammingError:
        # libpq's message quotes the text, and with it perhaps a password.
        raise BadDatabaseUrl(_FORMS) from None
    unsupported = sorted(set(given) - set(_KEYS))
    if unsupported:
        raise BadDatabaseUrl(
            f"option {', '.join(unsupported)} is not supported: a connection string here "
            "takes no ?options beyond host, port, user, password and dbname"
        )
    if not given.get("dbname"):
        raise BadDatabaseUrl(f"the connection string names no database; {_FORMS}")
    return {
        "host": given.get("host") or os.environ.get("PGHOST") or _socket_dir(),
        "port": given.get("port") or os.environ.get("PGPORT") or "5432",
        "user": given.get("user") or os.environ.get("PGUSER") or getpass.getuser(),
        "password": given.get("password") or os.environ.get("PGPASSWORD", ""),
        "dbname": given["dbname"],
    }


def as_uri(url: str) -> str:
    """A URI for any accepted form: what psycopg and the projections' own options take."""
    parts = parse_postgres_url(url)  # refuses what is not one, whatever the form
    if url.strip().startswith(("postgresql://", "postgres://")):
        return url
    auth = quote(parts["user"], safe="")
    if parts["password"]:
        auth += ":" + quote(parts["password"], safe="")
    query = urlencode({"host": parts["host"], "port": parts["port"]})
    return f"postgresql://{auth}@/{quote(parts['dbname'], safe='')}?{query}"


def _socket_dir() -> str:
    """Where libpq looks for the server's socket when no host is given."""
    port = os.environ.get("PGPORT") or "5432"
    found = [d for d in _SOCKET_DIRS if Path(d, f".s.PGSQL.{port}").exists()]
    return (found or list(_SOCKET_DIRS))[0]


def where(parts: dict[str, str]) -> str:
    """The server as people name it: host:port, or the socket folder."""
    host = parts["host"]
    return f"the socket in {host}" if host.startswith("/") else f"{host}:{parts['port']}"


class DatabaseUnavailable(Exception):
    """PostgreSQL refused or could not be reached, with the server's own reason.

    `transient` says whether trying again later can help (a timeout, a server
    starting up or full); a wrong password or a missing database never heals.
    """

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def check_reachable(url: str, what: str, timeout: float = 10.0) -> None:
    """Connect once, directly, so a refusal is reported at once and for what it is.

    The library's connection pool retries every failure until its timeout, which
    turns a wrong password into ten seconds of waiting and a "try again later".
    """
    import psycopg

    parts = parse_postgres_url(url)
    try:
        psycopg.connect(
            host=parts["host"],
            port=parts["port"],
            user=parts["user"],
            password=parts["password"],
            dbname=parts["dbname"],
            connect_timeout=max(1, round(timeout)),
        ).close()
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(*_reason(str(error), what, parts)) from None


def _reason(text: str, what: str, parts: dict[str, str]) -> tuple[str, bool]:
    server, lowered = where(parts), text.lower()
    db, user = parts["dbname"], parts["user"]
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (
            f"{what}: PostgreSQL at {server} refused user {user!r}: authentication failed; "
            "check the user and password in the connection string",
            False,
        )
    if "does not exist" in lowered and "database" in lowered:
        return (
            f"{what}: database {db!r} does not exist on {server}; create it first "
            f"(e.g. `createdb {db}`), then run `intercept migrate`",
            False,
        )
    if "role" in lowered and "does not exist" in lowered:
        return f"{what}: PostgreSQL at {server} has no user {user!r}", False
    if "connection refused" in lowered or "no such file or directory" in lowered:
        return (
            f"{what}: connection refused by {server}: is PostgreSQL running and listening there?",
            False,
        )
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return f"{what}: unknown host {parts['host']!r}", False
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"{what}: PostgreSQL at {server} did not answer in time; try again later", True
    if any(t in lowered for t in ("too many", "starting up", "shutting down", "recovery")):
        first = text.strip().splitlines()[-1] if text.strip() else "unavailable"
        return f"{what}: PostgreSQL at {server} is busy ({first.strip()}); try again later", True
    first = (text.strip().splitlines() or ["cannot connect"])[0]
    return f"{what}: cannot connect to PostgreSQL at {server}: {first.strip()}", False


def same_postgres_database(a: str | None, b: str | None) -> bool:
    if not (a and b) or a.startswith("sqlite:") or b.startswith("sqlite:"):
        return False
    pa, pb = parse_postgres_url(a), parse_postgres_url(b)
    return all(pa[k] == pb[k] for k in ("host", "port", "dbname"))


def postgres_env(url: str, lock_timeout: float = 10.0) -> dict[str, str]:
    """Env for `eventsourcing.postgres`.

    A lock timeout keeps a writer stuck behind another's table lock from waiting
    forever: the library retries a timed-out insert a bounded number of times,
    then the command fails with a clear error and records nothing.
    """
    parts = parse_postgres_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts["dbname"],
        "POSTGRES_HOST": parts["host"],
        "POSTGRES_PORT": parts["port"],
        "POSTGRES_USER": parts["user"],
        # The factory insists on the key even when the server needs no password.
        "POSTGRES_PASSWORD": parts["password"],
        "POSTGRES_POOL_SIZE": str(POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": str(MAX_OVERFLOW),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        # Whole seconds: the library formats it into `SET LOCAL lock_timeout = 'Ns'`.
        "POSTGRES_LOCK_TIMEOUT": str(max(1, round(lock_timeout))),
        # A pooled connection the server dropped is replaced rather than failing a command.
        "POSTGRES_PRE_PING": "y",
        # Processes starting together would race each other's DDL ("tuple concurrently
        # updated"): the tables are made by `create_tables_once` instead.
        "CREATE_TABLE": "n",
    }


def create_tables_once(url: str, create: Callable[[], None]) -> None:
    """Run `create` (idempotent DDL) while holding a database-wide lock, one process at a time."""
    import psycopg
    from eventsourcing.persistence import OperationalError

    from storage.dialect import DDL_LOCK

    parts = parse_postgres_url(url)
    try:
        conn = psycopg.connect(
            autocommit=True,
            connect_timeout=10,
            host=parts["host"],
            port=parts["port"],
            user=parts["user"],
            password=parts["password"],
            dbname=parts["dbname"],
        )
    except psycopg.OperationalError as error:
        raise OperationalError(str(error)) from None  # as the library reports its own
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        try:
            create()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))
