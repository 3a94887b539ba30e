"""The /api/v1 endpoints against their own OpenAPI document, fuzzed with Schemathesis.

Every operation (but revoking keys, which would revoke the key the run uses) gets a few
generated requests with an admin key over a seeded workspace; each answer must not be a
5xx, and its status, content type and body must be what the document says.
"""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.server.conftest import Server
from tests.server.test_api_people import seed

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_api_conforms_to_its_openapi_document(server: Server) -> None:
    seed(server)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        path_regex="^/api/v1/"
    )
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 38
    for operation in operations:
        if operation.method.upper() == "DELETE":
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            # The same examples every run: a failure here is a bug to fix, never a flake.
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Case) -> None:
            case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

        conforms()


def test_the_document_says_which_key_each_operation_takes(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert (schemes["writeKey"]["scheme"], schemes["secretKey"]["scheme"]) == ("basic", "bearer")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            expected = [{"writeKey": []}] if path.startswith("/v1/") else [{"secretKey": []}]
            assert operation["security"] == expected, (method, path)
