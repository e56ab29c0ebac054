"""Behind a reverse proxy: per-client limits count the address X-Forwarded-For names, but only
when a proxy the server trusts (LAYERLAB_FORWARDED_ALLOW_IPS) sent the header.

Each client may hold one active run here, so a second run shows whom the server counted.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service import QUICK_SPEC, TEST_SETTINGS, LiveServer, serve_in_thread

pytestmark = pytest.mark.usefixtures("cancel_leftovers")

ONE_RUN_EACH = {**TEST_SETTINGS, "workers": 1, "max_active_runs_per_client": 1}


@pytest.fixture(scope="module")
def app_settings() -> dict[str, Any]:
    return {**ONE_RUN_EACH, "forwarded_allow_ips": "127.0.0.1, 10.0.0.0/8"}


def create_as(client: httpx.Client, forwarded_for: str) -> int:
    """The status of a paused run created through a proxy that says it comes from there."""
    response = client.post(
        "/api/runs",
        json=QUICK_SPEC,
        params={"paused": True},
        headers={"X-Forwarded-For": forwarded_for},
    )
    assert response.status_code in (201, 429), response.text
    return response.status_code


def test_a_trusted_proxy_names_each_client(http: httpx.Client) -> None:
    # http connects from 127.0.0.1: the trusted proxy, speaking for two pupils
    assert create_as(http, "198.51.100.1") == 201
    assert create_as(http, "198.51.100.2") == 201
    assert create_as(http, "198.51.100.1") == 429  # the first pupil already has a run
    # a chain through two trusted proxies: the last untrusted address is the client
    assert create_as(http, "198.51.100.3, 10.1.2.3") == 201
    assert create_as(http, "198.51.100.3") == 429


@pytest.fixture
def elsewhere(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client on 127.0.0.9, which is not a trusted proxy."""
    transport = httpx.HTTPTransport(local_address="127.0.0.9")
    with httpx.Client(
        base_url=live_server.url, transport=transport, timeout=30, trust_env=False
    ) as client:
        yield client


def test_an_untrusted_peer_cannot_pose_as_other_clients(elsewhere: httpx.Client) -> None:
    assert create_as(elsewhere, "198.51.100.10") == 201
    assert create_as(elsewhere, "198.51.100.11") == 429  # still 127.0.0.9, with its one run


def test_by_default_no_proxy_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even 127.0.0.1, which uvicorn alone would trust: a local program is one client."""
    monkeypatch.delenv("LAYERLAB_FORWARDED_ALLOW_IPS")  # the module's server set it
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable changes nothing
    with (
        serve_in_thread(ONE_RUN_EACH) as server,
        httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client,
    ):
        assert create_as(client, "198.51.100.20") == 201
        assert create_as(client, "198.51.100.21") == 429
