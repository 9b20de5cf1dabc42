"""The eventsourcing library's PostgreSQL settings, read from one `postgresql://` URL."""

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

# One connection covers a CLI command; the overflow serves a server's worker threads.
POOL_SIZE = 1
MAX_OVERFLOW = 9


class BadDatabaseUrl(ValueError):
    pass


def parse_postgres_url(url: str) -> dict[str, str]:
    """host, port, user, password and dbname; never echoes the URL (it carries a password)."""
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgresql", "postgres") or not (
        parts.hostname and parts.username and dbname
    ):
        raise BadDatabaseUrl(
            "expected postgresql://user[:password]@host[:port]/dbname (unset: SQLite under home)"
        )
    if parts.query or parts.fragment:
        raise BadDatabaseUrl(
            "a postgresql:// URL here takes no ?options: give user, password, host, port and "
            "database only"
        )
    return {
        "host": parts.hostname,
        "port": str(parts.port or 5432),
        "user": unquote(parts.username),
        "password": unquote(parts.password or ""),
        "dbname": dbname,
    }


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

    try:
        conn = psycopg.connect(autocommit=True, connect_timeout=10, **parse_postgres_url(url))
    except psycopg.OperationalError as error:
        raise OperationalError(str(error)) from None  # as the library reports its own
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        try:
            create()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))
