"""Instances generated from a published JSON Schema, by schemathesis's generator.

hypothesis-jsonschema does not run on the Hypothesis this suite uses, so the
schema is handed to schemathesis as the body of one OpenAPI 3.1 operation
(OpenAPI 3.1 speaks JSON Schema 2020-12). Its `$defs` references are inlined
first, since inside an OpenAPI document they would resolve against its root.
"""

from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode


def instances(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    body = _inline(
        {k: v for k, v in schema.items() if k not in ("$schema", "$defs")}, schema.get("$defs", {})
    )
    document = {
        "openapi": "3.1.0",
        "info": {"title": "one schema", "version": "1"},
        "paths": {
            "/instance": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": body}},
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    operation = schemathesis.openapi.from_dict(document)["/instance"]["POST"]
    return operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(lambda c: c.body)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].removeprefix("#/$defs/")]
        return _inline({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    return {key: _inline(value, defs) for key, value in node.items()}
