"""GET /metrics and the access log, in-process: the numbers move as runs train and viewers watch,
the text parses as Prometheus reads it, and each request is one JSON line."""

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from layerlab.logs import JsonFormatter
from service import LONG_SPEC, QUICK_SPEC, create, owner, wait_for_status

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    """Every sample of GET /metrics by (name, labels), after checking each family's metadata."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.documentation, f"{family.name} has no # HELP"
        assert family.type in ("counter", "gauge", "summary"), f"{family.name}: {family.type}"
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"{key} appears twice"
            samples[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_as_a_run_trains_and_is_watched(client: TestClient) -> None:
    before = scrape(client)
    assert value(before, "layerlab_workers") == 2
    assert value(before, "layerlab_executor_info", kind="local") == 1
    assert value(before, "layerlab_nodes") == 1
    info = client.get("/api/info").json()["executor"]
    assert info["kind"] == "local" and [node["id"] for node in info["nodes"]] == ["local"]
    assert [(w["index"], w["node"], w["device"]) for w in info["workers"]] == [
        (0, "local", "cpu"),
        (1, "local", "cpu"),
    ]
    labels = frozenset({"worker": "1", "node": "local", "device": "cpu"}.items())
    assert before[("layerlab_worker_runs", labels)] == 0
    assert value(before, "layerlab_uptime_seconds") > 0

    run = create(client, QUICK_SPEC, paused="true")
    wait_for_status(client, run["id"], "paused")
    with client.websocket_connect(run["links"]["stream"]) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        watched = scrape(client)
        assert value(watched, "layerlab_websocket_viewers") == 1
        assert value(watched, "layerlab_runs_active", status="paused") == 1
        client.post(f"/api/runs/{run['id']}/resume", headers=owner(run))
        while not (
            (frame := socket.receive_json())["type"] == "status" and frame["status"] == "done"
        ):
            pass
    ended = wait_for_status(client, run["id"], "done")
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("layerlab_runs_created_total") == 1
    assert moved("layerlab_runs_finished_total", status="done") == 1
    assert moved("layerlab_steps_total") == ended["model_info"]["total_steps"]
    assert value(after, "layerlab_steps_per_second") > 0
    assert value(after, "layerlab_websocket_viewers") == 0
    assert value(after, "layerlab_runs_active", status="paused") == 0
    assert moved("layerlab_stream_frames_sent_total", type="snapshot") == 1
    for kind in ("metrics", "grid", "status"):
        assert moved("layerlab_stream_frames_sent_total", type=kind) >= 1, kind
    created = {"method": "POST", "route": "/api/runs", "status": "201"}
    assert moved("layerlab_http_requests_total", **created) == 1
    read = {"method": "GET", "route": "/api/runs/{run_id}"}
    assert moved("layerlab_http_request_duration_seconds_count", **read) >= 1
    assert value(after, "layerlab_uptime_seconds") >= value(before, "layerlab_uptime_seconds")
    memory = {labels: v for (name, labels), v in after.items() if name.startswith("process_res")}
    assert set(memory) == {
        frozenset({("process", name)}) for name in ("server", "worker-0", "worker-1")
    }
    assert all(v > 10 * 2**20 for v in memory.values()), memory


def test_runs_are_counted_by_status_while_active_and_by_outcome_when_cancelled(
    client: TestClient,
) -> None:
    before = scrape(client)
    run = create(client, LONG_SPEC)
    wait_for_status(client, run["id"], "running")
    running = scrape(client)
    assert value(running, "layerlab_runs_active", status="running") == 1
    cancelled = client.post(f"/api/runs/{run['id']}/cancel", headers=owner(run))
    assert cancelled.json()["status"] == "cancelled"
    after = scrape(client)
    assert value(after, "layerlab_runs_active", status="running") == 0
    finished = ("layerlab_runs_finished_total", frozenset({("status", "cancelled")}))
    assert after[finished] - before.get(finished, 0) == 1


def test_an_unknown_path_is_counted_under_one_label_not_its_own(client: TestClient) -> None:
    for path in ("/api/nothing-here", "/api/nor-here"):
        assert client.get(path).status_code == 404
    samples = scrape(client)
    unrouted = value(
        samples, "layerlab_http_requests_total", method="GET", route="unrouted", status="404"
    )
    assert unrouted >= 2
    routes = {dict(labels).get("route") for (name, labels) in samples if name.endswith("_total")}
    assert not any("nothing-here" in str(route) for route in routes)


# --- the access log -----------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Each access record as the JSON line `layerlab serve` prints."""
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "layerlab.access"]
    assert all("\n" not in line for line in lines)
    return [json.loads(line) for line in lines]


def test_a_request_is_one_json_line_with_its_route_and_run(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    run = create(client, QUICK_SPEC, paused="true")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="layerlab.access"):
        assert client.get(f"/api/runs/{run['id']}/metrics?since_step=0").status_code == 200
    [line] = access_lines(caplog)
    assert line["logger"] == "layerlab.access"
    assert line["time"].endswith("Z")
    assert line["method"] == "GET"
    assert line["path"] == f"/api/runs/{run['id']}/metrics"
    assert line["query"] == "since_step=0"
    assert line["route"] == "/api/runs/{run_id}/metrics"
    assert line["status"] == 200
    assert line["run_id"] == run["id"]
    assert line["client"] == "testclient"
    assert 0 <= line["duration_ms"] < 30_000
    client.delete(f"/api/runs/{run['id']}", headers=owner(run))


def test_a_refusal_and_a_websocket_session_are_logged_when_they_end(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="layerlab.access"):
        refused = client.post("/api/runs", json={"epochs": 0})
        assert refused.status_code == 422
        [refusal] = access_lines(caplog)
        assert (refusal["method"], refusal["route"], refusal["status"]) == (
            "POST",
            "/api/runs",
            422,
        )
        run = create(client, QUICK_SPEC, wait="true")
        caplog.clear()
        with client.websocket_connect(run["links"]["stream"]) as socket:
            assert socket.receive_json()["type"] == "snapshot"
            assert socket.receive_json()["status"] == "done"
    [session] = access_lines(caplog)
    assert session["type"] == "websocket"
    assert session["route"] == "/ws/runs/{run_id}"
    assert session["run_id"] == run["id"]
    assert session["status"] == 101
    assert session["close_code"] == 1000
    assert session["closed_by"] == "server"
