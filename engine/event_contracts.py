"""The published event contracts, made from the classes: one JSON Schema per event type and
version, one for the envelope, and the AsyncAPI document that ties them to the topic.

`intercept schemas export` writes them under schemas/; tests fail when the committed
files and the classes disagree, and when a change breaks a published version.
"""

from pathlib import Path
from typing import Any

import orjson
import yaml

from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope
from domain.event import BOOKKEEPING
from domain.events import InterceptEvent
from engine.asyncapi import asyncapi_document

PUBLISHED = Path(__file__).resolve().parent.parent / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE = "envelope.json"
ASYNCAPI_FILE = "asyncapi.yaml"

Schema = dict[str, Any]


def event_file(event_type: str, version: int) -> str:
    return f"events/{event_type}.v{version}.json"


def event_versions() -> list[tuple[type[InterceptEvent], int]]:
    """Every published (event class, version): the past ones and the current one."""
    return [
        (cls, v) for cls in INTERCEPT_EVENT_TYPES.values() for v in range(1, cls.class_version + 1)
    ]


def event_schema(cls: type[InterceptEvent], version: int) -> Schema:
    """The payload of `cls` events published with `schema_version` = `version`."""
    if version == cls.class_version:
        schema = cls.model_json_schema()
        for name in BOOKKEEPING:
            schema["properties"].pop(name)
            schema["required"].remove(name)
    else:
        schema = cls.past_payloads[version].model_json_schema()
    about = f"The payload of a `{cls.event_type()}` event with schema_version {version}."
    described = f"{about} {schema.pop('description')}" if "description" in schema else about
    schema.pop("title", None)
    return {
        "$schema": DRAFT,
        "title": f"{cls.event_type()} v{version}",
        "description": described,
        **schema,
    }


def envelope_schema() -> Schema:
    schema = Envelope.model_json_schema()
    schema.pop("title", None)
    schema["properties"]["payload"]["description"] = (
        "The event's own fields: valid against events/{event_type}.v{schema_version}.json."
    )
    return {
        "$schema": DRAFT,
        "title": "Intercept event envelope",
        "description": "The value of every record on the intercept events topic (JSON).",
        **schema,
    }


def render_json(schema: Schema) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def render_yaml(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100).encode()


def contract_files() -> dict[str, bytes]:
    """Every published file, by its path under schemas/, as the classes make it today."""
    files = {ENVELOPE_FILE: render_json(envelope_schema())}
    for cls, version in event_versions():
        files[event_file(cls.event_type(), version)] = render_json(event_schema(cls, version))
    files[ASYNCAPI_FILE] = render_yaml(
        asyncapi_document(
            [(cls.event_type(), v, event_file(cls.event_type(), v)) for cls, v in event_versions()],
            ENVELOPE_FILE,
        )
    )
    return files
