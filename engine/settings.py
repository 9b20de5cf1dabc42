"""One settings object, read from the environment and overridden by CLI flags."""

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from engine.postgres_env import as_uri, same_postgres_database


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
    # The subject key store (docs/privacy.md): a URL, or None for subject-keys.db under home.
    subject_keys: str | None = None
    # Master keys wrapping the subject keys, base64, comma-separated, the current one first;
    # None: a development key made once in home/master.key. Never printed (SecretStr).
    master_keys: SecretStr | None = None
    # None: the eight carriers built in (engine/carrier_catalog.py), with no connection.
    carriers_file: Path | None = None
    # Automation (docs/automation.md).
    automation_inline: bool = True  # embedded: the automatic rule runs after each report
    webhooks_allow_private: bool = False  # tests' loopback receivers need it
    webhooks_retry_base: float = Field(default=5.0, gt=0, le=3600)  # first retry, seconds
    webhooks_horizon: float = Field(default=86400.0, gt=0, le=7 * 86400)  # then disabled
    webhooks_timeout: float = Field(default=10.0, gt=0, le=60)  # every call to an endpoint
    # The carrier gateway's retry schedule (docs/carriers.md, "The retry schedule"): a first
    # wait of `base` seconds doubling up to `cap`, until `attempts` tries or `horizon` seconds.
    carrier_retry_attempts: int = Field(default=8, ge=1, le=1000)
    carrier_retry_horizon: float = Field(default=600.0, gt=0, le=7 * 86400)
    carrier_retry_base: float = Field(default=1.0, gt=0, le=3600)
    carrier_retry_cap: float = Field(default=60.0, gt=0, le=86400)
    # The zone the web pages show times in (an IANA name); stored times stay UTC.
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None
        return name

    @field_validator("event_store")
    @classmethod
    def _event_store_url(cls, url: str | None) -> str | None:
        # Unset means SQLite under home; a bad one raises saying what is wrong.
        return None if url is None else as_uri(url)

    @field_validator("projections")
    @classmethod
    def _projections_url(cls, url: str | None) -> str | None:
        if url is None or url.startswith("sqlite:///"):
            return url
        return as_uri(url)

    @field_validator("subject_keys")
    @classmethod
    def _subject_keys_url(cls, url: str | None) -> str | None:
        if url is None or url.startswith("sqlite:///"):
            return url
        return as_uri(url)

    @model_validator(mode="after")
    def _separate_databases(self) -> "Settings":
        # On PostgreSQL both sides name a table `intercept_events`: one database cannot hold both.
        if same_postgres_database(self.event_store, self.projections):
            raise ValueError(
                "the event store and the projections need two different PostgreSQL databases"
            )
        return self

    @model_validator(mode="after")
    def _retry_schedule(self) -> "Settings":
        if self.carrier_retry_cap < self.carrier_retry_base:
            raise ValueError(
                f"{ENV_NAMES['carrier_retry_cap']} ({self.carrier_retry_cap:g} s) is below "
                f"{ENV_NAMES['carrier_retry_base']} ({self.carrier_retry_base:g} s): the longest "
                "wait between two tries cannot be shorter than the first"
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
        values: dict = {field: env.get(name) for field, name in ENV_NAMES.items()}
        values.update(overrides)
        return cls(**{k: v for k, v in values.items() if v not in (None, "")})

    def as_env(self) -> dict[str, str]:
        """These settings as the environment `from_env` reads back: for a child process."""
        return {
            name: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            for field, name in ENV_NAMES.items()
            if (value := getattr(self, field)) is not None
        }


ENV_NAMES = {
    "home": "INTERCEPT_HOME",
    "event_store": "INTERCEPT_EVENT_STORE",
    "projections": "INTERCEPT_PROJECTIONS",
    "kafka_bootstrap": "KAFKA_BOOTSTRAP_SERVERS",
    "topic": "INTERCEPT_TOPIC",
    "dlq_topic": "INTERCEPT_DLQ_TOPIC",
    "partitions": "INTERCEPT_PARTITIONS",
    "group_id": "INTERCEPT_GROUP_ID",
    "relay_batch": "INTERCEPT_RELAY_BATCH",
    "max_poll_records": "INTERCEPT_MAX_POLL_RECORDS",
    "db_timeout": "INTERCEPT_DB_TIMEOUT",
    "ready_max_lag": "INTERCEPT_READY_MAX_LAG",
    "tracing": "INTERCEPT_TRACING",
    "timezone": "INTERCEPT_TIMEZONE",
    "subject_keys": "INTERCEPT_SUBJECT_KEYS",
    "master_keys": "INTERCEPT_MASTER_KEYS",
    "carriers_file": "INTERCEPT_CARRIERS_FILE",
    "automation_inline": "INTERCEPT_AUTOMATION_INLINE",
    "webhooks_allow_private": "INTERCEPT_WEBHOOKS_ALLOW_PRIVATE",
    "webhooks_retry_base": "INTERCEPT_WEBHOOKS_RETRY_BASE",
    "webhooks_horizon": "INTERCEPT_WEBHOOKS_HORIZON",
    "webhooks_timeout": "INTERCEPT_WEBHOOKS_TIMEOUT",
    "carrier_retry_attempts": "INTERCEPT_CARRIER_RETRY_ATTEMPTS",
    "carrier_retry_horizon": "INTERCEPT_CARRIER_RETRY_HORIZON",
    "carrier_retry_base": "INTERCEPT_CARRIER_RETRY_BASE",
    "carrier_retry_cap": "INTERCEPT_CARRIER_RETRY_CAP",
}
"""Each setting's environment variable: one table for reading and for handing on."""


_URL_PASSWORD = re.compile(r"(?P<keep>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\[\]]*:)[^@\s]*(?=@)")
_KEYWORD_PASSWORD = re.compile(r"(?P<keep>\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<keep>[?&]password=)[^&\s]*", re.I)
_MASTER_KEYS = re.compile(r"(?P<keep>\b(?:INTERCEPT_)?MASTER_KEYS?\s*[=:]\s*)\S+", re.I)


def masked(text: str) -> str:
    """Text with every password in it (URL, keyword or query form) and any master key
    setting (`INTERCEPT_MASTER_KEYS=...`) replaced by ***.

    Everything the engine prints or logs that may hold a connection string goes
    through here: a password never reaches a terminal, a log file or --json.
    """
    for pattern in (_URL_PASSWORD, _QUERY_PASSWORD, _KEYWORD_PASSWORD, _MASTER_KEYS):
        text = pattern.sub(lambda m: m.group("keep") + "***", text)
    return text
