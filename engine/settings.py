"""One settings object, read from the environment and overridden by CLI flags.

A frozen dataclass, parsed strictly when it is made: every CLI command builds one before
anything else, so it is kept apart from pydantic (whose first model costs a light
command a third of its start). A refusal is still pydantic's `ValidationError`, one
line per field naming it, as every other input's is (engine/cli/main.py words it):
pydantic-core builds it from the same error types, and is imported only then.
"""

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.postgres_env import as_uri, same_postgres_database


class Secret:
    """A value never shown: its repr and str are stars; `get_secret_value` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class _Refused(Exception):
    """One field's value refused: pydantic's error type and context for it."""

    def __init__(self, kind: str, ctx: dict[str, Any] | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.ctx = ctx


Parse = Callable[[Any], Any]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Refused("string_type")
    return value


def _optional(parse: Parse) -> Parse:
    return lambda value: None if value is None else parse(value)


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_text(value))


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, float) and not value.is_integer():
        raise _Refused("bool_type")  # no float but 0 and 1 is a boolean at all
    raise _Refused("bool_parsing")


# An integer's digits, and a fraction of zeros only ("5.0" is five, as pydantic reads it).
_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


def _bounded(number: float, ge: float | None, gt: float | None, le: float | None) -> None:
    if gt is not None and not number > gt:
        raise _Refused("greater_than", {"gt": gt})
    if ge is not None and not number >= ge:
        raise _Refused("greater_than_equal", {"ge": ge})
    if le is not None and not number <= le:
        raise _Refused("less_than_equal", {"le": le})


def _int(ge: int | None = None, le: int | None = None) -> Parse:
    """An integer as pydantic reads one: an int, a whole float, or the digits of one (but
    not digits grouped with underscores, which pydantic takes in some places and not in
    others: a setting refuses them everywhere)."""

    def parse(value: Any) -> int:
        if isinstance(value, bool | int):
            number = int(value)
        elif isinstance(value, float):
            if not value.is_integer():
                raise _Refused("int_from_float")
            number = int(value)
        elif isinstance(value, str):
            digits = value.strip()
            if not _INTEGER.fullmatch(digits):
                raise _Refused("int_parsing")
            number = int(digits.split(".")[0])
        else:
            raise _Refused("int_type")
        _bounded(number, ge, None, le)
        return number

    return parse


def _float(gt: float | None = None, le: float | None = None) -> Parse:
    def parse(value: Any) -> float:
        if isinstance(value, bool | int | float):
            number = float(value)
        elif isinstance(value, str) and value.isascii() and "_" not in value:  # as for ints
            try:
                number = float(value.strip())
            except ValueError:
                raise _Refused("float_parsing") from None
        elif isinstance(value, str):
            raise _Refused("float_parsing")
        else:
            raise _Refused("float_type")
        # nan is within no bound: refused naming the upper one when there is one, as pydantic.
        if math.isnan(number):
            raise _Refused(
                "less_than_equal" if le is not None else "greater_than",
                {"le": le} if le is not None else {"gt": gt},
            )
        _bounded(number, None, gt, le)
        return number

    return parse


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(_text(value))


def _zone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None
    return name


def _url(value: Any) -> str:
    # Unset means SQLite under home; a bad one raises saying what is wrong.
    return as_uri(_text(value))


def _sqlite_or_url(value: Any) -> str:
    url = _text(value)
    return url if url.startswith("sqlite:///") else as_uri(url)


def _setting(default: Any, parse: Parse) -> Any:
    return field(default=default, metadata={"parse": parse})


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting, its default and how its value is read (`_setting`): the one
    declaration `from_env`, `as_env` and the validation all follow."""

    home: Path = _setting(Path("var"), _path)
    event_store: str | None = _setting(None, _optional(_url))  # None = SQLite under home
    projections: str | None = _setting(None, _optional(_sqlite_or_url))  # None = under home
    kafka_bootstrap: str | None = _setting(None, _optional(_text))  # None = embedded: no broker
    topic: str = _setting("intercept.events", _text)
    dlq_topic: str = _setting("intercept.events.dlq", _text)
    partitions: int = _setting(6, _int(ge=1, le=1000))
    group_id: str = _setting("intercept-projections", _text)
    max_retries: int = _setting(8, _int(ge=1, le=100))
    relay_batch: int = _setting(1000, _int(ge=1, le=100_000))
    max_poll_records: int = _setting(1000, _int(ge=1, le=100_000))
    # How long one attempt waits for a busy or locked database before it is retried.
    db_timeout: float = _setting(10.0, _float(gt=0, le=600))
    # /readyz answers 503 when the projections lag more events than this (docs/operations.md).
    ready_max_lag: int = _setting(1000, _int(ge=0))
    # None: tracing off and never imported (engine/tracing.py); needs the `otel` extra.
    tracing: str | None = _setting(None, _optional(_text))
    # The subject key store (docs/privacy.md): a URL, or None for subject-keys.db under home.
    subject_keys: str | None = _setting(None, _optional(_sqlite_or_url))
    # Master keys wrapping the subject keys, base64, comma-separated, the current one first;
    # None: a development key made once in home/master.key. Never printed (Secret).
    master_keys: Secret | None = _setting(None, _optional(_secret))
    # None: the eight carriers built in (engine/carrier_catalog.py), with no connection.
    carriers_file: Path | None = _setting(None, _optional(_path))
    # Automation (docs/automation.md).
    automation_inline: bool = _setting(True, _bool)  # embedded: the rule runs after each report
    webhooks_allow_private: bool = _setting(False, _bool)  # tests' loopback receivers need it
    webhooks_retry_base: float = _setting(5.0, _float(gt=0, le=3600))  # first retry, seconds
    webhooks_horizon: float = _setting(86400.0, _float(gt=0, le=7 * 86400))  # then disabled
    webhooks_timeout: float = _setting(10.0, _float(gt=0, le=60))  # every call to an endpoint
    # The carrier gateway's retry schedule (docs/carriers.md, "The retry schedule"): a first
    # wait of `base` seconds doubling up to `cap`, until `attempts` tries or `horizon` seconds.
    carrier_retry_attempts: int = _setting(8, _int(ge=1, le=1000))
    carrier_retry_horizon: float = _setting(600.0, _float(gt=0, le=7 * 86400))
    carrier_retry_base: float = _setting(1.0, _float(gt=0, le=3600))
    carrier_retry_cap: float = _setting(60.0, _float(gt=0, le=86400))
    # The zone the web pages show times in (an IANA name); stored times stay UTC.
    timezone: str = _setting("Asia/Shanghai", _zone)

    def __post_init__(self) -> None:
        refused: list[dict[str, Any]] = []
        for each in fields(self):
            value = getattr(self, each.name)
            try:
                parsed = each.metadata["parse"](value)
            except _Refused as error:
                refused.append(_line(each.name, value, error.kind, error.ctx))
                continue
            except ValueError as error:
                refused.append(_line(each.name, value, "value_error", {"error": error}))
                continue
            object.__setattr__(self, each.name, parsed)
        if not refused:
            refused = [
                _line(None, self, "value_error", {"error": error}) for error in self._across()
            ]
        if refused:
            from pydantic_core import ValidationError

            raise ValidationError.from_exception_data("Settings", refused)  # type: ignore[arg-type]

    def _across(self) -> list[ValueError]:
        """The rules across fields, once each field is read."""
        found = []
        # On PostgreSQL both sides name a table `intercept_events`: one database cannot hold both.
        if same_postgres_database(self.event_store, self.projections):
            found.append(
                ValueError(
                    "the event store and the projections need two different PostgreSQL databases"
                )
            )
        if self.carrier_retry_cap < self.carrier_retry_base:
            found.append(
                ValueError(
                    f"{ENV_NAMES['carrier_retry_cap']} ({self.carrier_retry_cap:g} s) is below "
                    f"{ENV_NAMES['carrier_retry_base']} ({self.carrier_retry_base:g} s): the "
                    "longest wait between two tries cannot be shorter than the first"
                )
            )
        return found

    def model_copy(self, *, update: Mapping[str, Any]) -> "Settings":
        """These settings with some changed, read as strictly as the first were."""
        return replace(self, **update)

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
            name: value.get_secret_value() if isinstance(value, Secret) else str(value)
            for field, name in ENV_NAMES.items()
            if (value := getattr(self, field)) is not None
        }


def _line(name: str | None, value: Any, kind: str, ctx: dict[str, Any] | None) -> dict[str, Any]:
    line: dict[str, Any] = {"type": kind, "loc": (name,) if name else (), "input": value}
    if ctx is not None:
        line["ctx"] = ctx
    return line


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
