"""Schemathesis against the published OpenAPI document and a running server.

Every operation is called with generated input, valid and invalid, by a key of
the role it serves (callbacks signed as a carrier would). Whatever is sent, the
server answers neither 5xx nor anything its own document does not describe.
"""

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi import PUBLISHED
from tests.e2e.api_server import signed, start

schema = schemathesis.openapi.from_path(PUBLISHED)

# Invalid input is still generated and sent; `negative_data_rejection` is left out because
# the key this test adds to every request turns schemathesis's "no Authorization" mutation
# back into a valid request, which that check then reports as invalid data accepted.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Bounded by the suite's hypothesis profile: a quarter of its examples per operation.
EXAMPLES = max(10, settings.default.max_examples // 4)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # No dispatcher: the generated webhook URLs name hosts off this machine.
    server = start(
        tmp_path_factory.mktemp("schemathesis") / "var", env={"INTERCEPT_AUTOMATION_INLINE": "0"}
    )
    keys = {
        "admin": server.key("admin"),
        "merchant": server.key("merchant", merchant="m1"),
        "auditor": server.key("auditor"),
        "carrier": server.key("carrier", carrier="ZTO"),
    }
    with server.client(keys["admin"]) as admin:
        admin.put(
            "/v1/merchants/m1/policy",
            json={"max_amount_minor": 10**12, "carriers": ["ZTO", "SF", "YTO"]},
        )
    with requests.Session() as session:
        yield server, keys, session
    server.stop()


def _role(case) -> str:
    if case.path.startswith("/v1/keys"):
        return "admin"
    if case.path.startswith("/v1/carriers"):
        return "carrier"
    return "merchant"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors_and_no_schema_violations(world, case):
    server, keys, session = world
    key = keys[_role(case)]
    request = case.as_transport_kwargs(base_url=server.url, headers=key.headers)
    if case.path.startswith("/v1/carriers") and "json" in request:
        # Sign exactly the bytes that go on the wire, as a carrier would.
        body = signed(key, json.dumps(request.pop("json")).encode())
        request["data"] = body["content"]
        request["headers"] = {**request["headers"], **body["headers"]}
    response = session.request(**request, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=request["headers"])
