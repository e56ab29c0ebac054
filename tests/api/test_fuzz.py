"""The REST API fuzzed from its own OpenAPI schema (Schemathesis): whatever a client sends, the
server answers without a 5xx, and with a status, content type and body the schema documents.

The schema comes from an app built at import (`create_app().openapi()`: no lifespan, no workers;
`schemathesis.pytest.from_fixture` would be the lazy way, but it fails on pytest 9.2); the requests
go to the module's real server and its workers (the `live_server` fixture).
Schemathesis's own ASGI transport is not used: it runs the app's lifespan a second time, on its
own event loop, which would start a second scheduler and set of workers beside the fixture's.
Websockets are not in the schema: test_stream.py and test_refusals.py cover them.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from layerlab.api.app import create_app
from layerlab.config import Settings
from service import QUICK_SPEC, LiveServer, create

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
REQUEST_TIMEOUT_S = 10  # far above any answer here: a request that hangs fails, it does not stall
# Few examples per operation, the same ones every run (a failure in CI is one to reproduce);
# no deadline per example: a busy machine would make it flaky, and the timeout above bounds it.
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_dict(create_app(Settings(database=":memory:")).openapi())


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    """Limits that still take the RunSpec's defaults, so that the fuzzer's runs start, yet keep
    them small; at most 8 train at once, and ?wait=true waits a second at most."""
    return {
        **app_settings,
        "max_samples": 1000,
        "max_epochs": 100,
        "max_width": 16,
        "max_hidden_layers": 3,
        "max_grid_resolution": 64,
        "max_wait_s": 1,
        "max_active_runs_per_client": 8,
    }


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as keep_alive:
        keep_alive.trust_env = False  # no proxy between the test and 127.0.0.1
        yield keep_alive


@pytest.fixture(scope="module")
def finished_run(http: httpx.Client) -> dict[str, Any]:
    """A run that has trained and kept its weights: what predict, model and export work on."""
    run = create(http, QUICK_SPEC, wait=True)
    assert run["status"] == "done", run
    return run


def test_the_fuzzed_schema_is_the_servers(
    live_server: LiveServer, session: requests.Session
) -> None:
    served = session.get(f"{live_server.url}/openapi.json", timeout=REQUEST_TIMEOUT_S).json()
    assert served == schema.raw_schema


@schema.parametrize()
@FUZZ
def test_any_request_gets_a_documented_answer(
    case: schemathesis.Case, live_server: LiveServer, session: requests.Session
) -> None:
    case.call_and_validate(
        base_url=live_server.url, session=session, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
    )


@schema.include(path_regex=r"\{run_id\}").parametrize()
@FUZZ
def test_any_request_about_a_finished_run_gets_a_documented_answer(
    case: schemathesis.Case,
    live_server: LiveServer,
    session: requests.Session,
    finished_run: dict[str, Any],
) -> None:
    """The same, past the 404: every route of a run, on a real run with weights."""
    case.path_parameters = {**(case.path_parameters or {}), "run_id": finished_run["id"]}
    case.call_and_validate(
        base_url=live_server.url, session=session, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
    )
