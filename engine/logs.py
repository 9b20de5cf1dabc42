"""How the long-running processes log: text for people, or one JSON object a line.

JSON lines carry `time` (UTC, RFC 3339), `level`, `process`, `thread`, `logger`,
`message`, and any counts a log call passes as `extra={"counts": {...}}` (events
read, published, applied), so a log pipeline can chart them without parsing text.
"""

import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

import orjson


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": self.process,
            "pid": record.process,
            "thread": record.threadName,
            "logger": record.name,
            "message": record.getMessage(),
        }
        counts = getattr(record, "counts", None)
        if isinstance(counts, dict):
            entry.update(counts)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(process: str, fmt: LogFormat = LogFormat.TEXT) -> None:
    """Log INFO and up to stderr in the chosen format; replaces earlier handlers."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO is per-connection chatter


def uvicorn_config(process: str = "serve") -> dict:
    """uvicorn's `log_config` for JSON lines: its own loggers and the app's, one format."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "engine.logs.JsonFormatter", "process": process}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": "INFO", "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "intercept")
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }
