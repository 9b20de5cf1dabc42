"""How published contracts may change: within a version, only optional fields may be added.

Anything else (a field removed, retyped, narrowed or widened, made required or
optional, a default or a cross-field rule changed) breaks readers of that version
and needs a new version with an upcaster. `review` compares the files under
schemas/ with what the classes make today and sorts every difference.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.event_contracts import contract_files

Schema = dict[str, Any]

# Words for people, not rules for machines: changing them breaks no reader.
_DOC_KEYWORDS = frozenset({"title", "description", "examples", "$comment", "$schema"})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs"})


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in `new` would break a reader of `old`; empty when `new` only adds optional fields."""
    old, new = _normal(old), _normal(new)
    old_fields, new_fields = old.pop("properties", {}), new.pop("properties", {})
    old_required, new_required = set(old.pop("required", [])), set(new.pop("required", []))
    problems = []
    for name, schema in old_fields.items():
        if name not in new_fields:
            problems.append(f"field {name!r} was removed")
        elif new_fields[name] != schema:
            problems.append(
                f"field {name!r} changed from {_show(schema)} to {_show(new_fields[name])}"
            )
        elif (name in old_required) != (name in new_required):
            became = "required" if name in new_required else "optional"
            problems.append(f"field {name!r} became {became}")
    for name in sorted(new_fields.keys() - old_fields.keys()):
        if name in new_required:
            problems.append(f"new field {name!r} is required")
    for keyword in sorted(old.keys() | new.keys()):
        if old.get(keyword) != new.get(keyword):
            problems.append(
                f"{keyword!r} changed from {_show(old.get(keyword))} to {_show(new.get(keyword))}"
            )
    return problems


def remedy(event_type: str, version: int) -> str:
    nxt = version + 1
    return (
        f"Within a version only optional fields may be added. To make this change, publish "
        f"{event_type} v{nxt}: set `class_version = {nxt}` on {event_type}, keep v{version}'s "
        f"payload as a model in domain/past_events.py listed in `past_payloads`, add the "
        f"classmethod `upcast_v{version}_v{nxt}(state)`, then run `intercept schemas export` "
        f"and describe v{nxt} in docs/events.md."
    )


def _normal(schema: Schema) -> Schema:
    """The schema with its references inlined and its documentation words dropped."""
    defs = schema.get("$defs", {})
    cleaned = _clean(schema, defs)
    cleaned.pop("$defs", None)
    return cleaned


def _clean(node: Any, defs: Schema) -> Any:
    if isinstance(node, list):
        return [_clean(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and node["$ref"].startswith("#/$defs/"):
        target = defs[node["$ref"].removeprefix("#/$defs/")]
        return _clean({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    return {
        key: (
            {name: _clean(sub, defs) for name, sub in value.items()}
            if key in _NAME_MAPS
            else _clean(value, defs)
        )
        for key, value in node.items()
        if key not in _DOC_KEYWORDS
    }


def _show(value: Any) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class Review:
    """The files under a schemas folder against what the classes make today."""

    missing: list[str] = field(default_factory=list)  # new: written by an export
    outdated: list[str] = field(default_factory=list)  # compatible: rewritten by an export
    breaking: dict[str, list[str]] = field(default_factory=dict)  # refused: needs a new version
    withdrawn: list[str] = field(default_factory=list)  # published, but no class makes it now

    @property
    def refused(self) -> bool:
        return bool(self.breaking or self.withdrawn)

    @property
    def current(self) -> bool:
        return not (self.missing or self.outdated or self.refused)


def review(folder: Path, files: dict[str, bytes] | None = None) -> Review:
    files = contract_files() if files is None else files
    result = Review()
    for name, content in files.items():
        path = folder / name
        if not path.exists():
            result.missing.append(name)
        elif path.read_bytes() != content:
            problems = _event_problems(name, path.read_bytes(), content)
            if problems:
                result.breaking[name] = problems
            else:
                result.outdated.append(name)
    published = {p.relative_to(folder).as_posix() for p in folder.glob("events/*.json")}
    result.withdrawn = sorted(published - files.keys())
    return result


def _event_problems(name: str, committed: bytes, made: bytes) -> list[str]:
    if not name.startswith("events/"):
        return []  # the envelope and the AsyncAPI document are regenerated freely
    return breaking_changes(orjson.loads(committed), orjson.loads(made))
