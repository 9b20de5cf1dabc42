"""The published OpenAPI document (schemas/openapi.json) is the API's contract."""

import json

from api.app import create_app
from api.openapi import PUBLISHED

CONTRACT = {
    ("put", "/v1/merchants/{merchant_id}/policy"),
    ("get", "/v1/merchants/{merchant_id}/policy"),
    ("post", "/v1/intercepts"),
    ("post", "/v1/intercepts/{intercept_id}/cancel"),
    ("post", "/v1/intercepts/cancel"),
    ("post", "/v1/intercepts/{intercept_id}/fees"),
    ("post", "/v1/intercepts/{intercept_id}/evidence"),
    ("get", "/v1/intercepts"),
    ("get", "/v1/intercepts/{intercept_id}"),
    ("post", "/v1/carriers/{carrier}/callbacks"),
}


def test_the_published_document_is_what_the_app_serves():
    published = json.loads(PUBLISHED.read_text())
    assert published == create_app().openapi(), (
        "schemas/openapi.json drifted from the app: run `python -m api.publish` and review the diff"
    )


def test_every_path_of_the_contract_is_there():
    paths = create_app().openapi()["paths"]
    served = {(method, path) for path, ops in paths.items() for method in ops}
    assert CONTRACT <= served


SIGNED_BY_THE_CARRIER = {("post", "/v1/carriers/{carrier}/callback")}
"""Carriers' own callbacks carry their protocol's signature instead of a key (carriers.md)."""


def test_every_error_is_documented_as_problem_json_and_every_call_needs_a_key():
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
            assert "401" in errors, (method, path)
            for status, response in errors.items():
                media_types = list(response["content"])
                assert media_types == ["application/problem+json"], (method, path, status)
            if (method, path) in SIGNED_BY_THE_CARRIER:
                assert "security" not in operation, (method, path)  # signed, no key
                continue
            assert operation["security"] == [{"apiKey": []}], (method, path)


def test_command_endpoints_take_an_idempotency_key():
    paths = create_app().openapi()["paths"]
    for method, path in CONTRACT:
        if method == "get":
            continue
        parameters = paths[path][method].get("parameters", [])
        headers = {p["name"] for p in parameters if p["in"] == "header"}
        assert "Idempotency-Key" in headers, (method, path)
