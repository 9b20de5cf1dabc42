"""schemas/asyncapi.yaml: every reference resolves, every event version has its message, and
a real published record is valid against its message's schema."""

from pathlib import Path

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from domain.envelope import INTERCEPT_EVENT_TYPES, Envelope
from engine.event_contracts import ASYNCAPI_FILE, PUBLISHED, event_file
from engine.relay import message
from engine.settings import Settings
from tests.strategies import events_of

DOCUMENT = yaml.safe_load((PUBLISHED / ASYNCAPI_FILE).read_text())
VERSIONS = [
    (t, v) for t, cls in INTERCEPT_EVENT_TYPES.items() for v in range(1, cls.class_version + 1)
]


def _refs(node, where="#"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield where, value
            else:
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{where}/{i}")


def _pointer(document, pointer: str):
    node = document
    for part in filter(None, pointer.split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _resolve(ref: str, base: Path, document):
    file, _, pointer = ref.partition("#")
    if file:
        path = (base / file).resolve()
        assert path.is_file(), f"{ref} names no file under {base}"
        return _resolve(f"#{pointer}", path.parent, orjson.loads(path.read_bytes()))
    return _pointer(document, pointer)


def test_it_is_asyncapi_3_on_the_default_topics():
    assert DOCUMENT["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in DOCUMENT["channels"].values()}
    assert addresses == {Settings().topic, Settings().dlq_topic}


def test_every_reference_resolves():
    refs = list(_refs(DOCUMENT))
    assert len(refs) > len(VERSIONS) * 3
    for where, ref in refs:
        try:
            _resolve(ref, PUBLISHED, DOCUMENT)
        except (KeyError, IndexError, AssertionError) as error:
            pytest.fail(f"{where}: $ref {ref!r} does not resolve ({error})")
    for name in (PUBLISHED / "events").glob("*.json"):  # and inside the schemas themselves
        schema = orjson.loads(name.read_bytes())
        for where, ref in _refs(schema):
            assert _resolve(ref, name.parent, schema) is not None, (name, where)


@pytest.mark.parametrize("event_type, version", VERSIONS)
def test_every_event_type_and_version_has_its_message(event_type, version):
    name = f"{event_type}.v{version}"
    found = DOCUMENT["components"]["messages"][name]
    assert found["name"] == event_type
    assert found["headers"]["properties"]["event_type"]["const"] == event_type
    assert found["headers"]["properties"]["schema_version"]["const"] == str(version)
    payload_refs = [ref for _, ref in _refs(found["payload"])]
    assert f"./{event_file(event_type, version)}" in payload_refs
    channel = DOCUMENT["channels"]["interceptEvents"]["messages"]
    assert channel[name] == {"$ref": f"#/components/messages/{name}"}
    sent = DOCUMENT["operations"]["publishInterceptEvents"]["messages"]
    assert {"$ref": f"#/channels/interceptEvents/messages/{name}"} in sent


def _registry() -> Registry:
    resources = [
        (
            f"file:///schemas/{p.relative_to(PUBLISHED).as_posix()}",
            Resource.from_contents(orjson.loads(p.read_bytes())),
        )
        for p in PUBLISHED.rglob("*.json")
        if p.name != "openapi.json"
    ]
    return Registry().with_resources(resources)


@pytest.mark.parametrize("event_type", INTERCEPT_EVENT_TYPES)
@settings(max_examples=10)
@given(data=st.data())
def test_a_published_record_is_valid_against_its_message(event_type, data):
    cls = INTERCEPT_EVENT_TYPES[event_type]
    event = data.draw(events_of(cls))
    record = message(Envelope.of(event, position=7))
    spec = DOCUMENT["components"]["messages"][f"{event_type}.v{cls.class_version}"]
    payload = Draft202012Validator(
        {**spec["payload"], "$id": "file:///schemas/asyncapi.json"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    assert [e.message for e in payload.iter_errors(orjson.loads(record["value"]))] == []
    headers = {k: v.decode() for k, v in record["headers"]}
    assert Draft202012Validator(spec["headers"]).is_valid(headers)
    assert not Draft202012Validator(spec["headers"]).is_valid({**headers, "schema_version": "9"})
