"""Fuzz every operation in /openapi.json with schemathesis: no input may produce a 5xx."""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import ACCEPT, ServerProcess, start_server


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("fuzz"), extra_env={"PYROKU_API_RATE_LIMIT": "1000000"})
    with server.client(server.admin_token) as c:
        c.post("/apps", json={"name": "fuzzed"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzz_server.api_url + "/openapi.json")


# A drain makes logplex connect to the URL's host: generated hosts could be anywhere, and tests only
# talk to loopback. Drains are covered with real local receivers in tests/logs and tests/api.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/apps/{app}/log-drains", method="POST")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: schemathesis.Case, fuzz_server: ServerProcess) -> None:
    if case.path_parameters and case.path_parameters.get("auth_id") == "~":
        case.path_parameters["auth_id"] = "not-mine"  # revoking our own token would only test 401s
    case.call_and_validate(
        base_url=fuzz_server.api_url,
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {fuzz_server.admin_token}"},
        checks=[not_a_server_error],
    )
