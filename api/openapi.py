"""The OpenAPI document: made from the app, published as schemas/openapi.json.

`python -m api.publish` writes it; a test fails when the file and the app drift.
"""

from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.bodies import CarrierCallback
from api.problem import MEDIA_TYPE, meaning

PUBLISHED = Path(__file__).resolve().parent.parent / "schemas" / "openapi.json"
_REF = "#/components/schemas/{model}"


def openapi_of(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _every_operation_can_fail_on_storage(document)
        _errors_as_problems(document)
        _add_raw_bodies(document)
        app.openapi_schema = document
    return app.openapi_schema


def _errors_as_problems(document: dict[str, Any]) -> None:
    # FastAPI files every response model under application/json; errors are problem+json.
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")


def _every_operation_can_fail_on_storage(document: dict[str, Any]) -> None:
    # Said once here rather than on every route: any operation reads or writes storage,
    # and any operation taking a body has a limit on it (api/guard.py).
    problem = {"$ref": _REF.format(model="Problem")}
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait before retrying, when waiting can help.",
            "schema": {"type": "integer"},
        }
    }
    for operations in document["paths"].values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "503",
                {
                    "description": meaning(503),
                    "headers": retry_after,
                    "content": {MEDIA_TYPE: {"schema": problem}},
                },
            )
            if method in ("post", "put", "patch"):
                responses.setdefault(
                    "413",
                    {"description": meaning(413), "content": {MEDIA_TYPE: {"schema": problem}}},
                )


def _add_raw_bodies(document: dict[str, Any]) -> None:
    # Callbacks read their raw body (it is what is signed), so FastAPI never saw the model.
    schemas = document["components"]["schemas"]
    schema = CarrierCallback.model_json_schema(ref_template=_REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["CarrierCallback"] = schema


def render(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
