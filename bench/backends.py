"""Where a benchmark keeps its data: SQLite files (the default) or PostgreSQL.

Each scenario asks for fresh storage by label; the raw baselines get storage
configured exactly as the engine's (`event_store_env`), so a ratio compares
code, not settings.
"""

import contextlib
import re
import shutil
import tempfile
from pathlib import Path

from engine.composition import event_store_db, event_store_env
from engine.settings import Settings
from storage.database import Database

BACKENDS = ("sqlite", "postgresql")


class Backend(contextlib.AbstractContextManager):
    def __init__(self, name: str, scratch: Path | None = None) -> None:
        if name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}")
        self.name = name
        self.scratch = Path(tempfile.mkdtemp(prefix="intercept-bench-", dir=scratch))
        self._server = None

    def __enter__(self) -> "Backend":
        if self.name == "postgresql":
            from tests.support.postgres_server import PostgresServer

            self._server = PostgresServer().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.__exit__(*exc)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def settings(self, label: str, **more) -> Settings:
        """Settings on fresh, empty storage for one run of one scenario."""
        home = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.scratch))
        if self._server is None:
            return Settings(home=home, **more)
        name = re.sub(r"[^a-z0-9_]", "_", label.lower())[:40]
        return Settings(
            home=home,
            event_store=self._server.create_database(f"{name}_es"),
            projections=self._server.create_database(f"{name}_pr"),
            **more,
        )

    def raw_env(self, label: str) -> dict[str, str]:
        """The eventsourcing environment the engine would use, on fresh storage."""
        return {**event_store_env(self.settings(label)), "CREATE_TABLE": "y"}

    def fresh_projections(self, settings: Settings, label: str) -> Settings:
        """The same event store with new, empty projections: a rebuild from scratch."""
        fresh = self.settings(label)
        url = fresh.projections or f"sqlite:///{fresh.home / 'projections.db'}"
        return settings.model_copy(update={"projections": url})

    @staticmethod
    def compact(settings: Settings) -> None:
        """Fold SQLite's write-ahead log into the database file, so file sizes are true."""
        if settings.event_store is None:
            db = event_store_db(settings)
            db.read("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()

    @staticmethod
    def storage_bytes(settings: Settings) -> dict[str, int]:
        """Bytes the event store and the projections take, and the events' payloads alone."""
        store = event_store_db(settings)
        payload = store.read("SELECT SUM(LENGTH(state)) AS n FROM stored_events")[0]["n"]
        if store.postgres:
            total = store.read("SELECT pg_total_relation_size('stored_events') AS n")[0]["n"]
            projections = Database(settings.projections or "")
            tables = ("intercepts", "intercept_events", "checkpoints", "pending_events")
            projected = sum(
                projections.read(f"SELECT pg_total_relation_size('{t}') AS n")[0]["n"]
                for t in tables
            )
            projections.close()
        else:
            total = _file_bytes(settings.event_store_path)
            projected = _file_bytes(
                Path(settings.projections.removeprefix("sqlite:///"))
                if settings.projections
                else settings.projections_path
            )
        store.close()
        return {"event_store": total, "payload": payload, "projections": projected}

    @staticmethod
    def remove(settings: Settings) -> None:
        shutil.rmtree(settings.home, ignore_errors=True)
        if settings.projections and settings.projections.startswith("sqlite:///"):
            shutil.rmtree(
                Path(settings.projections.removeprefix("sqlite:///")).parent, ignore_errors=True
            )


def _file_bytes(path: Path) -> int:
    """A SQLite database's size on disk, its write-ahead log included."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
