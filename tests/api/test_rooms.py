"""Teachers' rooms in-process: every route, and every refusal a room makes.

Each test opens rooms of its own (the `open_room` fixture closes them after it); learners join
with names, create runs under the teacher's locks, and the teacher reads the leaderboard, the
results and the wall.
"""

import csv
import io
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from layerlab.core.room_rules import CODE_ALPHABET
from service import DIVERGING_SPEC, LONG_SPEC, QUICK_SPEC, TEST_SETTINGS, wait_for_status

ADMIN = {"X-Run-Token": TEST_SETTINGS["admin_token"]}
SETUP_SPEC: dict[str, Any] = {**QUICK_SPEC, "hidden_widths": [8]}
ELSEWHERE = "https://elsewhere.example"
JSON = {"Content-Type": "application/json"}
MAX_ROOMS, MAX_LEARNERS = 4, 4


@pytest.fixture(scope="module")
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_settings,
        "workers": 1,
        "max_rooms": MAX_ROOMS,
        "max_learners_per_room": MAX_LEARNERS,
    }


def token(holder: dict[str, Any]) -> dict[str, str]:
    """The X-Run-Token header of a room (its teacher) or of a learner, as created."""
    return {"X-Run-Token": holder["token"]}


@pytest.fixture
def open_room(client: TestClient) -> Iterator[Callable[..., dict[str, Any]]]:
    """Open a room (with the admin token this server asks for); each is closed afterwards."""
    opened: list[str] = []

    def open_one(
        locked: list[str] | None = None,
        challenge: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        setup = {"spec": SETUP_SPEC if spec is None else spec, "locked": locked or []}
        body = {"title": "Moons", "setup": setup, "challenge": challenge}
        response = client.post("/api/rooms", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        room: dict[str, Any] = response.json()
        opened.append(room["code"])
        return room

    yield open_one
    for code in opened:
        client.delete(f"/api/rooms/{code}", headers=ADMIN)


def join(client: TestClient, room: dict[str, Any], name: str) -> dict[str, Any]:
    response = client.post(f"/api/rooms/{room['code']}/learners", json={"name": name})
    assert response.status_code == 201, response.text
    learner: dict[str, Any] = response.json()
    return learner


def room_run(
    client: TestClient, room: dict[str, Any], learner: dict[str, Any], spec: Any, **params: Any
) -> dict[str, Any]:
    path = f"/api/rooms/{room['code']}/runs"
    response = client.post(path, json=spec, headers=token(learner), params=params)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def refusal(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    error: str = response.json()["error"]
    return error


# --- opening and reading a room -------------------------------------------------------------


def test_opening_a_room_needs_the_admin_token_on_a_server_that_has_one(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    body = {"setup": {"spec": SETUP_SPEC}}
    missing = refusal(client.post("/api/rooms", json=body), 401)
    assert "admin token (LAYERLAB_ADMIN_TOKEN)" in missing and "X-Run-Token" in missing
    wrong = client.post("/api/rooms", json=body, headers={"X-Run-Token": "not-the-admin-token"})
    assert refusal(wrong, 403) == "X-Run-Token is not this server's admin token"

    room = open_room(challenge={"metric": "test_acc", "target": 0.9})
    code = room["code"]
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert room["token"] and room["you"] == {"role": "teacher"}
    assert room["links"] == {
        "self": f"/api/rooms/{code}",
        "join": f"/#room={code}",
        "wall": f"/wall.html#room={code}",
        "qr": f"/api/rooms/{code}/qr.svg",
        "leaderboard": f"/api/rooms/{code}/leaderboard",
        "results": f"/api/rooms/{code}/results.csv",
        "stream": f"/ws/rooms/{code}",
    }
    assert room["expires_at"] - room["created_at"] == pytest.approx(21_600)

    read = client.get(f"/api/rooms/{code.lower()}")  # codes are typed in any case
    assert read.status_code == 200
    public = read.json()
    assert public["code"] == code and "token" not in public and public["you"] is None
    assert public["setup"]["spec"]["hidden_widths"] == [8]
    assert public["challenge"] == {
        "metric": "test_acc",
        "target": 0.9,
        "max_parameters": None,
        "max_hidden_layers": None,
    }
    assert (public["learners"], public["max_learners"], public["version"]) == (0, MAX_LEARNERS, 1)
    assert client.get(f"/api/rooms/{code}", headers=token(room)).json()["you"] == {
        "role": "teacher"
    }


def test_a_setup_or_challenge_that_cannot_be_is_refused_naming_the_field(
    client: TestClient,
) -> None:
    def opened(body: dict[str, Any]) -> str:
        return refusal(client.post("/api/rooms", json=body, headers=ADMIN), 422)

    unknown = opened({"setup": {"spec": SETUP_SPEC, "locked": ["dataset", "colour"]}})
    assert unknown.startswith("setup.locked: unknown controls ['colour']")
    linear = {**SETUP_SPEC, "hidden_widths": []}
    assert opened({"setup": {"spec": linear, "locked": ["width"]}}).startswith(
        "setup.locked: the setup has no hidden layer"
    )
    assert opened({"setup": {"spec": {**SETUP_SPEC, "epochs": 10**6}}}).startswith(
        "setup.spec.epochs: at most 1000 epochs"
    )
    too_high = {"metric": "test_acc", "target": 1.5}
    assert "an accuracy target is from 0 to 1; got 1.5" in opened({"challenge": too_high})
    assert opened({"challenge": {"metric": "accuracy", "target": 0.5}}).startswith(
        "challenge.metric:"
    )
    assert opened({"title": "x" * 81}).startswith("title:")
    assert opened({"title": "Moons\x07"}) == (
        "title: control characters are not allowed; found U+0007 (got 'Moons\\x07')"
    )


def test_every_route_of_a_room_that_is_not_open_is_a_404_naming_the_code(
    client: TestClient,
) -> None:
    missing = "no open room with code 'ABC234'"
    for method, path in [
        ("GET", "/api/rooms/abc234"),
        ("PATCH", "/api/rooms/ABC234"),
        ("DELETE", "/api/rooms/ABC234"),
        ("POST", "/api/rooms/ABC234/learners"),
        ("DELETE", "/api/rooms/ABC234/learners/x"),
        ("POST", "/api/rooms/ABC234/runs"),
        ("GET", "/api/rooms/ABC234/leaderboard"),
        ("GET", "/api/rooms/ABC234/results.csv"),
        ("GET", "/api/rooms/ABC234/qr.svg"),
    ]:
        body = {"name": "Ana"} if path.endswith("learners") else None
        body = SETUP_SPEC if path.endswith("runs") else body
        body = {"frozen": True} if method == "PATCH" else body
        response = client.request(method, path, json=body, headers=ADMIN)
        assert refusal(response, 404) == missing, (method, path)


def test_only_the_teacher_or_the_admin_changes_closes_or_reads_the_results_of_a_room(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room, other = open_room(), open_room()
    code = room["code"]
    ana = join(client, room, "Ana")
    for method, path in [
        ("PATCH", f"/api/rooms/{code}"),
        ("DELETE", f"/api/rooms/{code}"),
        ("GET", f"/api/rooms/{code}/results.csv"),
    ]:
        body = {"title": "Mine now"} if method == "PATCH" else None
        missing = refusal(client.request(method, path, json=body), 401)
        assert missing == "this needs the room's teacher token in the X-Run-Token header"
        for wrong in (token(ana), token(other), {"X-Run-Token": "nobody"}):
            answer = client.request(method, path, json=body, headers=wrong)
            assert refusal(answer, 403) == (
                "X-Run-Token is not this room's teacher token (nor the admin token)"
            )
    patched = client.patch(f"/api/rooms/{code}", json={"title": "Moons, 2nd"}, headers=ADMIN)
    assert patched.status_code == 200 and patched.json()["title"] == "Moons, 2nd"
    assert patched.json()["version"] == 1  # the title alone: the learners' pages need not follow
    assert client.get(f"/api/rooms/{code}", headers=token(ana)).json()["you"] == {
        "role": "learner",
        "id": ana["id"],
        "name": "Ana",
    }
    assert client.delete(f"/api/rooms/{code}", headers=token(room)).status_code == 204
    assert client.get(f"/api/rooms/{code}").status_code == 404


def test_the_teacher_changes_the_setup_and_challenge_and_the_version_follows(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room(locked=["activation"])
    path = f"/api/rooms/{room['code']}"
    setup = {"spec": {**SETUP_SPEC, "activation": "tanh"}, "locked": ["activation", "depth"]}
    challenge = {"metric": "test_loss", "target": 0.2, "max_hidden_layers": 0}
    changed = client.patch(path, json={"setup": setup, "challenge": challenge}, headers=token(room))
    assert changed.status_code == 200, changed.text
    document = changed.json()
    assert document["version"] == 2
    assert document["setup"]["locked"] == ["activation", "depth"]
    assert document["setup"]["spec"]["activation"] == "tanh"
    assert document["challenge"]["max_hidden_layers"] == 0
    cleared = client.patch(path, json={"challenge": None}, headers=token(room)).json()
    assert cleared["challenge"] is None and cleared["version"] == 3
    nothing = client.patch(path, json={}, headers=token(room))
    assert "give title, setup, challenge, frozen or several" in refusal(nothing, 422)
    bad_lock = {"setup": {"spec": SETUP_SPEC, "locked": ["volume"]}}
    assert refusal(client.patch(path, json=bad_lock, headers=token(room)), 422).startswith(
        "setup.locked: unknown controls ['volume']"
    )


def test_a_setup_can_be_a_lesson_step_whose_state_is_the_rooms_run(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room(locked=["depth"])
    path = f"/api/rooms/{room['code']}"
    lesson = client.get("/api/lessons/beyond-the-line").json()
    step = lesson["steps"][2]  # a linear activation, two hidden layers of 8
    setup = {"locked": ["depth"], "lesson": {"id": lesson["id"], "step": 3}}
    changed = client.patch(path, json={"setup": setup}, headers=token(room))
    assert changed.status_code == 200, changed.text
    document = changed.json()
    assert document["setup"]["lesson"] == {"id": "beyond-the-line", "step": 3}
    assert "activation=linear" in step["state"] and "hidden=8,8" in step["state"]
    assert document["setup"]["spec"]["activation"] == "linear"  # without a spec: the step's
    assert document["setup"]["spec"]["hidden_widths"] == [8, 8]
    own = client.patch(path, json={"setup": {**setup, "spec": SETUP_SPEC}}, headers=token(room))
    assert own.json()["setup"]["spec"]["hidden_widths"] == [8]  # the teacher's own stands
    assert own.json()["setup"]["lesson"] == {"id": "beyond-the-line", "step": 3}
    for lesson_ref, field in (
        ({"id": "no-such-lesson", "step": 1}, "setup.lesson.id: no lesson 'no-such-lesson'"),
        ({"id": "beyond-the-line", "step": 99}, "setup.lesson.step: lesson 'beyond-the-line' has"),
    ):
        asked = {"setup": {**setup, "lesson": lesson_ref}}
        assert refusal(client.patch(path, json=asked, headers=token(room)), 422).startswith(field)
    zero = {"setup": {**setup, "lesson": {"id": "beyond-the-line", "step": 0}}}
    assert "setup.lesson.step" in refusal(client.patch(path, json=zero, headers=token(room)), 422)


def test_a_room_ends_after_its_ttl_and_its_runs_stop(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    ana = join(client, room, "Ana")
    run = room_run(client, room, ana, {**LONG_SPEC, "hidden_widths": [8]})
    rooms = client.app.state.rooms  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(rooms.tend, room["expires_at"] - 1)  # not yet
    assert client.get(f"/api/rooms/{room['code']}").status_code == 200
    client.portal.call(rooms.tend, room["expires_at"] + 1)  # the clean-up, a TTL later
    assert client.get(f"/api/rooms/{room['code']}").status_code == 404
    stopped = wait_for_status(client, run["id"], "cancelled")
    assert stopped["error"] == "the room ended 21600 s after it opened (LAYERLAB_ROOM_TTL_S)"


def test_no_more_rooms_than_the_server_allows(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    for _ in range(MAX_ROOMS):
        open_room()
    one_more = client.post("/api/rooms", json={"setup": {"spec": SETUP_SPEC}}, headers=ADMIN)
    assert refusal(one_more, 409) == (
        f"this server has {MAX_ROOMS} open rooms (LAYERLAB_MAX_ROOMS is {MAX_ROOMS}); close "
        "one, or wait for one to end"
    )


# --- learners -------------------------------------------------------------------------------


def test_names_are_trimmed_bounded_unique_ignoring_case_and_free_of_control_characters(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    path = f"/api/rooms/{room['code']}/learners"
    ana = join(client, room, "  Ana \t María  ")
    assert ana["name"] == "Ana María" and ana["token"] and ana["id"]
    markup = join(client, room, "<b>x</b>")  # shown as text by the page: a name like another
    assert markup["name"] == "<b>x</b>"

    def refused(name: str, status: int) -> str:
        return refusal(client.post(path, json={"name": name}), status)

    assert refused("", 422) == "name: give a name of 1 to 32 characters; got none"
    assert refused("   ", 422) == "name: give a name of 1 to 32 characters; got none"
    assert refused("x" * 33, 422) == "name: at most 32 characters (LAYERLAB_MAX_NAME_CHARS); got 33"
    assert refused("Ana\x00", 422) == "name: control characters are not allowed; found U+0000"
    assert refused("\x1b[31mRed", 422) == "name: control characters are not allowed; found U+001B"
    half = client.post(path, content='{"name": "Ana\\ud800"}', headers=JSON)  # half a character
    assert refusal(half, 422).startswith("name: Input should be a valid string")
    taken = "the name 'ANA MARÍA' is taken in this room; choose another"
    assert refused("ANA MARÍA", 409) == taken
    assert refused("Ａｎａ María", 409).startswith("the name 'Ａｎａ María' is taken")  # NFKC
    assert client.get(f"/api/rooms/{room['code']}").json()["learners"] == 2


def test_a_full_room_takes_no_one_more(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    learners = [join(client, room, f"Learner {n}") for n in range(MAX_LEARNERS)]
    path = f"/api/rooms/{room['code']}/learners"
    assert refusal(client.post(path, json={"name": "Late"}), 409) == (
        f"the room is full: it has {MAX_LEARNERS} learners "
        f"(LAYERLAB_MAX_LEARNERS_PER_ROOM is {MAX_LEARNERS})"
    )
    gone = learners[0]
    leaving = client.delete(f"{path}/{gone['id']}", headers=token(gone))
    assert leaving.status_code == 204
    assert join(client, room, "Late")["name"] == "Late"  # a place freed


def test_a_learner_leaves_with_their_token_or_the_teachers_and_their_runs_stop(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    ana, ben = join(client, room, "Ana"), join(client, room, "Ben")
    run = room_run(client, room, ana, {**LONG_SPEC, "hidden_widths": [8]})
    path = f"/api/rooms/{room['code']}/learners/{ana['id']}"
    missing = refusal(client.delete(path), 401)
    assert missing.startswith("leaving needs the learner's token")
    assert refusal(client.delete(path, headers=token(ben)), 403) == (
        "X-Run-Token is neither this learner's token nor the room's teacher token"
    )
    assert client.delete(path, headers=token(ana)).status_code == 204
    stopped = wait_for_status(client, run["id"], "cancelled")
    assert stopped["error"] == "its learner left the room"
    assert refusal(client.delete(path, headers=token(room)), 404) == (
        f"no learner with id {ana['id']!r} in room {room['code']!r}"
    )
    assert client.get(f"/api/rooms/{room['code']}", headers=token(ana)).json()["you"] is None
    entries = client.get(f"/api/rooms/{room['code']}/leaderboard").json()["entries"]
    assert {e["name"]: e["status"] for e in entries} == {"Ana": "left", "Ben": "waiting"}
    by_teacher = f"/api/rooms/{room['code']}/learners/{ben['id']}"
    assert client.delete(by_teacher, headers=token(room)).status_code == 204


# --- learners' runs -------------------------------------------------------------------------


def test_a_learners_run_keeps_the_teachers_locks(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room(locked=["dataset", "noise", "activation", "width", "learning-rate"])
    ana = join(client, room, "Ana")
    path = f"/api/rooms/{room['code']}/runs"

    def refused(spec: dict[str, Any]) -> str:
        return refusal(client.post(path, json=spec, headers=token(ana)), 422)

    assert refused({**SETUP_SPEC, "activation": "tanh"}) == (
        "activation: the teacher has locked it to 'relu' in this room"
    )
    noisier = {**SETUP_SPEC, "dataset": {**SETUP_SPEC["dataset"], "noise": 0.3}}
    assert refused(noisier) == "dataset.noise: the teacher has locked it to 0.1 in this room"
    circles = {**SETUP_SPEC, "dataset": {**SETUP_SPEC["dataset"], "name": "circles"}}
    assert refused(circles) == "dataset.name: the teacher has locked it to 'moons' in this room"
    assert refused({**SETUP_SPEC, "hidden_widths": [8, 4]}) == (
        "hidden_widths: the teacher has locked every hidden layer's width to 8 in this room; "
        "got [8, 4]"
    )
    assert refused({**SETUP_SPEC, "learning_rate": 0.1}) == (
        "learning_rate: the teacher has locked it to 0.03 in this room"
    )
    assert refused({**SETUP_SPEC, "epochs": 0}).startswith("epochs:")  # a bad spec, as ever

    deeper = room_run(client, room, ana, {**SETUP_SPEC, "hidden_widths": [8, 8, 8]}, paused=True)
    assert deeper["token"] == ana["token"] and deeper["status"] in ("queued", "paused")
    assert deeper["spec"]["hidden_widths"] == [8, 8, 8]  # depth is the learner's to choose


def test_a_run_in_a_room_needs_a_learners_token(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room, other = open_room(), open_room()
    path = f"/api/rooms/{room['code']}/runs"
    assert refusal(client.post(path, json=SETUP_SPEC), 401) == (
        "a run in a room needs the learner's token in the X-Run-Token header (POST "
        f"/api/rooms/{room['code']}/learners gives one)"
    )
    stranger = join(client, other, "Ana")
    for wrong in (token(stranger), token(room)):
        answer = client.post(path, json=SETUP_SPEC, headers=wrong)
        assert refusal(answer, 403) == "X-Run-Token is not the token of a learner in this room"


def test_a_learner_controls_their_runs_and_no_one_elses(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room(locked=["learning-rate"])
    ana, ben = join(client, room, "Ana"), join(client, room, "Ben")
    run = room_run(client, room, ana, LONG_SPEC | {"hidden_widths": [8], "learning_rate": 0.03})
    run_path = f"/api/runs/{run['id']}"
    wait_for_status(client, run["id"], "running")
    assert refusal(client.post(f"{run_path}/pause", headers=token(ben)), 403).startswith(
        "X-Run-Token is not this run's owner token"
    )
    assert refusal(client.delete(run_path, headers=token(ben)), 403)
    assert client.post(f"{run_path}/pause", headers=token(ana)).json()["status"] == "paused"

    faster = client.patch(run_path, json={"learning_rate": 0.3}, headers=token(ana))
    assert refusal(faster, 422) == "learning_rate: the teacher has locked it to 0.03 in this room"
    anyone = client.patch(run_path, json={"learning_rate": 0.03, "regularization_rate": 0.001})
    assert anyone.status_code == 401  # the run's token, as for any run
    kept = client.patch(
        run_path, json={"learning_rate": 0.03, "regularization_rate": 0.001}, headers=token(ana)
    )
    assert kept.status_code == 200, kept.text
    assert client.delete(run_path, headers=token(ana)).status_code == 204


def test_freeze_pauses_every_training_run_and_resume_lets_them_go_on(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    ana, ben, cleo = (join(client, room, name) for name in ("Ana", "Ben", "Cleo"))
    long_spec = {**LONG_SPEC, "hidden_widths": [8]}
    training = [room_run(client, room, learner, long_spec) for learner in (ana, ben)]
    held = room_run(client, room, ben, long_spec, paused=True)  # paused by its learner
    played = room_run(client, room, cleo, long_spec, paused=True)  # as the page: made, then played
    assert client.post(f"/api/runs/{played['id']}/resume", headers=token(cleo)).status_code == 200
    training.append(played)
    for run in training:
        wait_for_status(client, run["id"], "running")
    path = f"/api/rooms/{room['code']}"

    frozen = client.patch(path, json={"frozen": True}, headers=token(room))
    assert frozen.status_code == 200 and frozen.json()["frozen"] is True
    assert frozen.json()["version"] == 2
    for run in training:
        wait_for_status(client, run["id"], "paused")
    wait = "the teacher has frozen the room; wait for them to resume it"
    resume = client.post(f"/api/runs/{training[0]['id']}/resume", headers=token(ana))
    assert refusal(resume, 409) == wait
    step = client.post(f"/api/runs/{held['id']}/step", headers=token(ben))
    assert refusal(step, 409) == wait
    new_run = client.post(f"{path}/runs", json=SETUP_SPEC, headers=token(ana))
    assert refusal(new_run, 409) == wait

    thawed = client.patch(path, json={"frozen": False}, headers=token(room))
    assert thawed.json()["frozen"] is False and thawed.json()["version"] == 3
    for run in training:
        wait_for_status(client, run["id"], "running")
    assert client.get(f"/api/runs/{held['id']}").json()["status"] in ("queued", "paused")
    assert client.post(f"/api/runs/{held['id']}/resume", headers=token(ben)).status_code == 200


# --- what the room shows --------------------------------------------------------------------


def test_the_leaderboard_ranks_met_first_then_by_the_metric_and_results_have_every_learner(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    # 2 inputs: no hidden layer has 3 parameters, [4] 17, [8, 8] 105: over the budget
    challenge = {"metric": "test_acc", "target": 0.5, "max_parameters": 50}
    room = open_room(challenge=challenge)
    names = ["=cmd|' /C calc'!A0", "Lin", "Deep", "@Wait"]
    formula, lin, deep, waiting = (join(client, room, name) for name in names)
    runs = {
        formula["id"]: room_run(client, room, formula, {**SETUP_SPEC, "hidden_widths": [4]}),
        lin["id"]: room_run(client, room, lin, {**SETUP_SPEC, "hidden_widths": []}),
        deep["id"]: room_run(client, room, deep, {**SETUP_SPEC, "hidden_widths": [8, 8]}),
    }
    for run in runs.values():
        wait_for_status(client, run["id"], "done")

    board = client.get(f"/api/rooms/{room['code']}/leaderboard")
    assert board.status_code == 200
    document = board.json()
    assert document["metric"] == "test_acc" and document["challenge"]["max_parameters"] == 50
    entries = document["entries"]
    assert [e["rank"] for e in entries] == [1, 2, 3, 4]
    met = [e for e in entries if e["met"]]
    assert {e["learner_id"] for e in met} == {formula["id"], lin["id"]}
    assert entries[:2] == sorted(met, key=lambda e: (-e["metric"], e["parameters"]))
    assert entries[2]["learner_id"] == deep["id"] and entries[2]["parameters"] == 105
    assert entries[2]["metric"] > 0.5 and not entries[2]["met"]  # good, but over the budget
    assert entries[3] | {"rank": 4} == {
        "rank": 4, "learner_id": waiting["id"], "name": "@Wait", "status": "waiting",
        "run_id": None, "metric": None, "met": False, "met_at": None, "parameters": None,
        "hidden_widths": None, "activation": None, "epoch": None,
    }  # fmt: skip
    for entry in met:
        assert entry["status"] == "finished" and entry["met_at"] <= time.time()
        assert entry["run_id"] == runs[entry["learner_id"]]["id"]
    assert "token" not in board.text

    answer = client.get(f"/api/rooms/{room['code']}/results.csv", headers=token(room))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f"room-{room['code']}-results.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["name"] for row in rows] == ["'=cmd|' /C calc'!A0", "Lin", "Deep", "'@Wait"]
    by_name = {row["name"]: row for row in rows}
    deep_row = by_name["Deep"]
    assert (deep_row["depth"], deep_row["hidden_widths"], deep_row["parameters"]) == (
        "2",
        "8 8",
        "105",
    )
    assert (deep_row["activation"], deep_row["optimizer"], deep_row["met"]) == (
        "relu",
        "adam",
        "no",
    )
    assert float(deep_row["test_acc"]) == pytest.approx(entries[2]["metric"])
    assert math.isfinite(float(deep_row["train_loss"]))
    assert by_name["Lin"]["met"] == "yes" and by_name["Lin"]["met_at"].endswith("+00:00")
    assert by_name["'@Wait"]["run_id"] == "" and by_name["'@Wait"]["met"] == "no"


def test_a_regression_room_ranks_by_rmse_and_shows_a_diverged_run(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    calm_spec = {**DIVERGING_SPEC, "optimizer": "adam", "learning_rate": 0.1}
    room = open_room(spec=calm_spec)
    calm, wild = join(client, room, "Calm"), join(client, room, "Wild")
    steady = room_run(client, room, calm, calm_spec)
    blown = room_run(client, room, wild, DIVERGING_SPEC)  # learning rate 10: NaN within steps
    wait_for_status(client, steady["id"], "done")
    wait_for_status(client, blown["id"], "diverged")

    board = client.get(f"/api/rooms/{room['code']}/leaderboard")
    assert board.status_code == 200, board.text
    assert board.json()["metric"] == "test_rmse"
    entries = board.json()["entries"]
    assert [(e["name"], e["status"]) for e in entries] == [
        ("Calm", "finished"),
        ("Wild", "diverged"),
    ]
    assert entries[0]["metric"] > 0 and entries[1]["metric"] is None  # NaN is no score
    with client.websocket_connect(f"/ws/rooms/{room['code']}?token={room['token']}") as wall:
        tiles = {tile["name"]: tile for tile in wall.receive_json()["learners"]}
    assert tiles["Wild"]["status"] == "diverged" and set(tiles["Calm"]["metrics"]) == {
        "train_loss", "test_loss", "train_rmse", "test_rmse"
    }  # fmt: skip
    results = client.get(f"/api/rooms/{room['code']}/results.csv", headers=token(room))
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(results.text))}
    assert float(rows["Calm"]["test_rmse"]) == pytest.approx(entries[0]["metric"])
    assert rows["Wild"]["run_id"] == blown["id"]


def test_the_join_link_as_a_qr_code(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    answer = client.get(f"/api/rooms/{room['code'].lower()}/qr.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.text.startswith("<svg") and answer.text.rstrip().endswith("</svg>")
    # the same link as segno makes it: a different code makes a different picture
    other = client.get(f"/api/rooms/{open_room()['code']}/qr.svg").text
    assert other != answer.text


def test_the_wall_streams_every_learners_tile_twice_a_second(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room(challenge={"metric": "test_acc", "target": 0.5})
    ana, ben = join(client, room, "Ana"), join(client, room, "<i>Ben</i>")
    finished = room_run(client, room, ana, {**SETUP_SPEC, "grid_resolution": 64})
    wait_for_status(client, finished["id"], "done")
    client.get(f"/api/rooms/{room['code']}", headers=token(ana))  # Ana's page is there

    url = f"/ws/rooms/{room['code'].lower()}?token={room['token']}"
    with client.websocket_connect(url) as wall:
        first, started = wall.receive_json(), time.monotonic()
        second = wall.receive_json()
        gap_s = time.monotonic() - started
    assert 0.35 <= gap_s <= 1.5  # LAYERLAB_ROOM_FRAMES_PER_S: 2
    assert first["type"] == "room" and first["room"]["code"] == room["code"]
    assert "you" not in first["room"] and "token" not in str(first)
    tiles = {tile["name"]: tile for tile in second["learners"]}
    assert list(tiles) == ["Ana", "<i>Ben</i>"]
    tile = tiles["Ana"]
    assert tile["id"] == ana["id"] and tile["present"] and not tile["left"]
    assert (tile["status"], tile["run_id"], tile["met"]) == ("finished", finished["id"], True)
    assert tile["parameters"] == 33 and tile["hidden_widths"] == [8]
    assert set(tile["metrics"]) == {"train_loss", "test_loss", "train_acc", "test_acc"}
    assert 1 <= len(tile["loss"]) <= 60
    assert tile["grid"]["shape"] == [32, 32] and tile["grid"]["encoding"] == "u8"
    assert tiles["<i>Ben</i>"]["status"] == "waiting" and tiles["<i>Ben</i>"]["grid"] is None
    assert [e["name"] for e in second["leaderboard"]] == ["Ana", "<i>Ben</i>"]
    assert ben["token"] not in str(second)


def test_the_wall_stream_refuses_without_the_teachers_token(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    ana = join(client, room, "Ana")
    code = room["code"]
    for url, close_code in [
        ("/ws/rooms/ABC234?token=whatever", 4404),
        (f"/ws/rooms/{code}", 4401),
        (f"/ws/rooms/{code}?token={ana['token']}", 4403),
    ]:
        with client.websocket_connect(url) as wall, pytest.raises(WebSocketDisconnect) as closed:
            wall.receive_json()
        assert closed.value.code == close_code, url
    with client.websocket_connect(f"/ws/rooms/{code}?token={ADMIN['X-Run-Token']}") as wall:
        assert wall.receive_json()["type"] == "room"  # the admin token opens every wall


def test_pages_from_elsewhere_cannot_change_a_room(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    room = open_room()
    code = room["code"]
    foreign = {"Origin": ELSEWHERE}
    for method, path, body in [
        ("POST", "/api/rooms", {"setup": {"spec": SETUP_SPEC}}),
        ("PATCH", f"/api/rooms/{code}", {"frozen": True}),
        ("DELETE", f"/api/rooms/{code}", None),
        ("POST", f"/api/rooms/{code}/learners", {"name": "Eve"}),
        ("POST", f"/api/rooms/{code}/runs", SETUP_SPEC),
    ]:
        answer = client.request(method, path, json=body, headers={**foreign, **token(room)})
        assert refusal(answer, 403).startswith(f"Origin {ELSEWHERE!r}"), (method, path)
    with (
        pytest.raises(WebSocketDenialResponse),
        client.websocket_connect(f"/ws/rooms/{code}?token={room['token']}", headers=foreign),
    ):
        pass
    assert client.get(f"/api/rooms/{code}").json()["learners"] == 0


def test_info_metrics_and_openapi_name_the_rooms(
    client: TestClient, open_room: Callable[..., dict[str, Any]]
) -> None:
    limits = client.get("/api/info").json()["limits"]
    assert {key: limits[key] for key in ("room_ttl_s", "max_rooms", "max_learners_per_room")} == {
        "room_ttl_s": 21_600,
        "max_rooms": MAX_ROOMS,
        "max_learners_per_room": MAX_LEARNERS,
    }
    assert limits["max_name_chars"] == 32
    assert client.get("/api/info").json()["stream"]["room_frames_per_s"] == 2
    room = open_room()
    join(client, room, "Ana")
    scraped = client.get("/metrics").text
    assert "layerlab_rooms_open 1" in scraped and "layerlab_room_learners 1" in scraped
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/rooms",
        "/api/rooms/{code}",
        "/api/rooms/{code}/learners",
        "/api/rooms/{code}/learners/{learner_id}",
        "/api/rooms/{code}/runs",
        "/api/rooms/{code}/leaderboard",
        "/api/rooms/{code}/results.csv",
        "/api/rooms/{code}/qr.svg",
    } <= set(paths)
