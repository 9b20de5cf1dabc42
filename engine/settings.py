"""One settings object, read from the environment and overridden by CLI flags."""

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.postgres_env import parse_postgres_url, same_postgres_database


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Path("var")
    event_store: str | None = None  # URL; None = SQLite file under home
    projections: str | None = None  # URL; None = SQLite file under home
    kafka_bootstrap: str | None = None  # None = embedded mode: no broker
    topic: str = "intercept.events"
    dlq_topic: str = "intercept.events.dlq"
    partitions: int = Field(default=6, ge=1, le=1000)
    group_id: str = "intercept-projections"
    max_retries: int = Field(default=8, ge=1, le=100)
    relay_batch: int = Field(default=1000, ge=1, le=100_000)
    max_poll_records: int = Field(default=1000, ge=1, le=100_000)
    # How long one attempt waits for a busy or locked database before it is retried.
    db_timeout: float = Field(default=10.0, gt=0, le=600)
    # /readyz answers 503 when the projections lag more events than this (docs/operations.md).
    ready_max_lag: int = Field(default=1000, ge=0)
    # None: tracing off and never imported (engine/tracing.py); needs the `otel` extra.
    tracing: str | None = None

    @field_validator("event_store")
    @classmethod
    def _event_store_url(cls, url: str | None) -> str | None:
        if url is not None:
            parse_postgres_url(url)  # unset means SQLite under home; raises with what is wrong
        return url

    @field_validator("projections")
    @classmethod
    def _projections_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("sqlite:///"):
            parse_postgres_url(url)
        return url

    @model_validator(mode="after")
    def _separate_databases(self) -> "Settings":
        # On PostgreSQL both sides name a table `intercept_events`: one database cannot hold both.
        if same_postgres_database(self.event_store, self.projections):
            raise ValueError(
                "the event store and the projections need two different PostgreSQL databases"
            )
        return self

    @property
    def embedded(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def event_store_path(self) -> Path:
        return self.home / "events.db"

    @property
    def projections_path(self) -> Path:
        return self.home / "projections.db"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        values = {
            "home": env.get("INTERCEPT_HOME"),
            "event_store": env.get("INTERCEPT_EVENT_STORE"),
            "projections": env.get("INTERCEPT_PROJECTIONS"),
            "kafka_bootstrap": env.get("KAFKA_BOOTSTRAP_SERVERS"),
            "topic": env.get("INTERCEPT_TOPIC"),
            "dlq_topic": env.get("INTERCEPT_DLQ_TOPIC"),
            "partitions": env.get("INTERCEPT_PARTITIONS"),
            "group_id": env.get("INTERCEPT_GROUP_ID"),
            "relay_batch": env.get("INTERCEPT_RELAY_BATCH"),
            "max_poll_records": env.get("INTERCEPT_MAX_POLL_RECORDS"),
            "db_timeout": env.get("INTERCEPT_DB_TIMEOUT"),
            "ready_max_lag": env.get("INTERCEPT_READY_MAX_LAG"),
            "tracing": env.get("INTERCEPT_TRACING"),
        }
        values.update(overrides)
        return cls(**{k: v for k, v in values.items() if v not in (None, "")})
