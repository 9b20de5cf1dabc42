"""The AsyncAPI 3 document: the topics, their key and headers, and one message per event
type and version, each referencing its JSON Schema file."""

from collections.abc import Sequence
from importlib.metadata import version as package_version

from consumers.decode import POISON_KINDS
from engine.settings import Settings

KAFKA_BINDING = "0.5.0"
_EVENTS, _DEAD = "interceptEvents", "deadLetters"


def message_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def asyncapi_document(versions: Sequence[tuple[str, int, str]], envelope_file: str) -> dict:
    """`versions` holds (event type, version, schema file) for every published version."""
    defaults = Settings()
    names = [message_name(t, v) for t, v, _ in versions]
    latest = {t: max(v for u, v, _ in versions if u == t) for t, _, _ in versions}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "intercept events",
            "version": package_version("intercept"),
            "description": "Every fact recorded about a parcel intercept request, published by "
            "the engine's relay at least once, in order per intercept. The guide is "
            "docs/events.md; the versioning policy is there too.",
        },
        "defaultContentType": "application/json",
        "channels": {
            _EVENTS: {
                "address": defaults.topic,
                "description": "The intercept events. The name is configurable "
                "(INTERCEPT_TOPIC); this is the default.",
                "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
                "bindings": {
                    "kafka": {"partitions": defaults.partitions, "bindingVersion": KAFKA_BINDING}
                },
            },
            _DEAD: {
                "address": defaults.dlq_topic,
                "description": "Messages the engine's own projection consumer could not apply, "
                "unchanged, with why in the dlq.* headers (INTERCEPT_DLQ_TOPIC).",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            },
        },
        "operations": {
            "publishInterceptEvents": {
                "action": "send",
                "summary": "The relay publishes every intercept event, keyed by intercept id.",
                "channel": {"$ref": f"#/channels/{_EVENTS}"},
                "messages": [{"$ref": f"#/channels/{_EVENTS}/messages/{n}"} for n in names],
            },
            "parkDeadLetters": {
                "action": "send",
                "summary": "The projection consumer parks a message it cannot apply.",
                "channel": {"$ref": f"#/channels/{_DEAD}"},
                "messages": [{"$ref": f"#/channels/{_DEAD}/messages/DeadLetter"}],
            },
        },
        "components": {
            "messages": {
                **{
                    message_name(t, v): _event_message(t, v, file, envelope_file, v < latest[t])
                    for t, v, file in versions
                },
                "DeadLetter": _dead_letter(),
            },
        },
    }


def _event_message(
    event_type: str, version: int, schema_file: str, envelope_file: str, past: bool
) -> dict:
    summary = f"A `{event_type}` event whose payload has schema_version {version}."
    if past:
        summary += " No longer published; earlier records on the topic still carry it."
    return {
        "name": event_type,
        "title": f"{event_type} v{version}",
        "summary": summary,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "required": ["event_type", "schema_version", "content-type"],
            "properties": {
                "event_type": {"const": event_type},
                "schema_version": {
                    "const": str(version),
                    "description": "The payload's version, as decimal text.",
                },
                "content-type": {"const": "application/json"},
            },
        },
        "payload": {
            "allOf": [
                {"$ref": f"./{envelope_file}"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": event_type},
                        "schema_version": {"const": version},
                        "payload": {"$ref": f"./{schema_file}"},
                    },
                },
            ],
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The intercept id: one intercept, one partition, in order.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _dead_letter() -> dict:
    header = {"type": "string"}
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "The original key and value, untouched; the headers say why and where from.",
        "headers": {
            "type": "object",
            "required": [
                "dlq.reason",
                "dlq.detail",
                "dlq.source.topic",
                "dlq.source.partition",
                "dlq.source.offset",
            ],
            "properties": {
                "dlq.reason": {"enum": list(POISON_KINDS)},
                "dlq.detail": {**header, "description": "The validation error, field by field."},
                "dlq.source.topic": header,
                "dlq.source.partition": {**header, "description": "Decimal text."},
                "dlq.source.offset": {**header, "description": "Decimal text."},
            },
        },
        "payload": {"description": "The original message value, whatever it was."},
    }
