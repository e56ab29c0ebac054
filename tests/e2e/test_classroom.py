"""A classroom in real browsers: a teacher opens a room from the page and puts its wall up, seven
learners (each in a browser context of their own) join by the code or by the link and train, and
the wall follows them: every tile updating, a run in the spotlight, the leaderboard in the
challenge's order, freeze and resume, and the results table with a row per learner."""

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from service import TEST_SETTINGS, LiveServer, serve_in_thread, wait_for

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = TEST_SETTINGS["admin_token"]
# Eight pages on a 2-core machine: each run streams fewer frames than a lone learner's would,
# so that every page keeps up.
ROOM_SETTINGS = {
    **TEST_SETTINGS,
    "workers": 1,
    "grid_frames_per_s": 2.0,
    "metrics_frames_per_s": 4.0,
}
# The teacher's setup: moons, small and paced, trained until paused (so freeze has runs to stop);
# the data's controls locked for the class.
SETUP = "dataset=moons&samples=100&noise=0.1&hidden=4&pace=5&until=1&hide=dataset,noise,samples"
MARKUP_NAME = "<img src=x onerror=alert(1)>"
NAMES_BY_CODE = ["Ana", MARKUP_NAME, "Bruno"]
NAMES_BY_LINK = ["Chloé", "Dmitri", "Eun-ji"]


def no_dialogs(page: Page) -> None:
    """An alert() means markup in a name ran as script: fail the test where it happens."""

    def refuse(dialog: Dialog) -> None:
        message = dialog.message
        dialog.dismiss()
        raise AssertionError(f"the page opened a {dialog.type} dialog: {message!r}")

    page.on("dialog", refuse)


def axe_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[n['target'] for n in violation['nodes']]}"
        for violation in results.response["violations"]
    ]


class Classroom:
    """The browsers of one room: the teacher's page (the wall) and each learner's."""

    def __init__(self, browser: Browser, server: LiveServer, context_args: dict[str, Any]):
        self.browser = browser
        self.server = server
        self.context_args = context_args
        self.contexts: list[BrowserContext] = []
        self.learners: dict[str, Page] = {}

    def new_page(self, **overrides: Any) -> Page:
        context = self.browser.new_context(**{**self.context_args, **overrides})
        self.contexts.append(context)
        page = context.new_page()
        no_dialogs(page)
        return page

    def open_room(self) -> tuple[Page, str]:
        """The teacher opens a room from the playground (the server asks for the admin token)
        and lands on its wall."""
        wall = self.new_page(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
        wall.goto(f"{self.server.url}/#{SETUP}&lang=en")
        expect(wall.locator("#play")).to_be_enabled()
        wall.click("#room-open")
        expect(wall.locator("#room-admin-dialog")).to_be_visible()
        wall.fill("#room-admin-token", "not the token")
        wall.click("#room-admin-form button[type=submit]")
        expect(wall.locator("#room-admin-error")).not_to_be_empty()
        violations = axe_violations(wall)
        assert not violations, "axe-core found in the admin dialog:\n" + "\n".join(violations)
        wall.fill("#room-admin-token", ADMIN_TOKEN)
        wall.click("#room-admin-form button[type=submit]")
        wall.wait_for_url(re.compile(r"/wall\.html#room=[A-Z2-9]{6}"))
        expect(wall.locator("#wall-code")).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
        return wall, wall.inner_text("#wall-code")

    def join_by_code(self, code: str, name: str) -> Page:
        page = self.new_page()
        page.goto(f"{self.server.url}/#lang=en")
        expect(page.locator("#play")).to_be_enabled()
        page.click("#room-join")
        page.fill("#room-join-code", code.lower())  # typed as it comes: codes ignore case
        page.fill("#room-join-name", name)
        page.click("#room-join-form button[type=submit]")
        self.entered(page, code, name)
        return page

    def join_by_link(self, code: str, name: str) -> Page:
        page = self.new_page()
        page.goto(f"{self.server.url}/#room={code}")
        expect(page.locator("#room-join-dialog")).to_be_visible()
        page.fill("#room-join-name", name)
        page.click("#room-join-form button[type=submit]")
        self.entered(page, code, name)
        return page

    def entered(self, page: Page, code: str, name: str) -> None:
        expect(page.locator("#room-bar")).to_be_visible()
        expect(page.locator("#room-bar-code")).to_have_text(code)
        expect(page.locator("#room-bar-name")).to_have_text(name)
        expect(page.locator("#play")).to_be_enabled()
        self.learners[name] = page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with serve_in_thread(ROOM_SETTINGS) as live:
        yield live


@pytest.fixture
def classroom(
    browser: Browser, server: LiveServer, browser_context_args: dict[str, Any]
) -> Iterator[Classroom]:
    room = Classroom(browser, server, browser_context_args)
    yield room
    room.close()


def learner_runs(client: httpx.Client, wall: Page) -> dict[str, dict[str, Any]]:
    """Each learner's latest run (GET /api/runs/{id}, the run their tile follows), by name."""
    tiles = wall.evaluate(
        "() => [...document.querySelectorAll('.tile')].map((tile) =>"
        " [tile.querySelector('.tile-name').textContent, tile.dataset.runId])"
    )
    return {name: client.get(f"/api/runs/{run_id}").json() for name, run_id in tiles}


def tile_epochs(wall: Page) -> dict[str, int]:
    return wall.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('.tile')]"
        ".map((tile) => [tile.querySelector('.tile-name').textContent,"
        " Number(tile.dataset.epoch)]))"
    )


def test_a_class_in_a_room(classroom: Classroom, server: LiveServer, screenshots: Path) -> None:
    wall, code = classroom.open_room()
    client = httpx.Client(base_url=server.url, timeout=10)

    # A code that names no room, then a name already taken: each refusal beside its field.
    first = classroom.join_by_code(code, NAMES_BY_CODE[0])
    stranger = classroom.new_page()
    stranger.goto(f"{server.url}/#lang=en")
    expect(stranger.locator("#play")).to_be_enabled()
    stranger.click("#room-join")
    stranger.fill("#room-join-code", "ZZZZZZ")
    stranger.fill("#room-join-name", "Zoe")
    stranger.click("#room-join-form button[type=submit]")
    expect(stranger.locator("#room-join-code-error")).to_contain_text("ZZZZZZ")
    stranger.fill("#room-join-code", code)
    stranger.fill("#room-join-name", " ana ")
    stranger.click("#room-join-form button[type=submit]")
    expect(stranger.locator("#room-join-name-error")).to_contain_text("taken")
    violations = axe_violations(stranger)
    assert not violations, "axe-core found in the join dialog:\n" + "\n".join(violations)
    stranger.screenshot(path=str(screenshots / "room-join-dialog.png"))
    stranger.click("#room-join-dialog .dialog-cancel")
    expect(stranger.locator("#room-bar")).to_be_hidden()
    stranger.close()  # one page fewer to share the machine's cores with

    for name in NAMES_BY_CODE[1:]:
        classroom.join_by_code(code, name)
    for name in NAMES_BY_LINK:
        classroom.join_by_link(code, name)
    names = NAMES_BY_CODE + NAMES_BY_LINK

    # The room's setup, locks included, on every learner's page.
    for page in classroom.learners.values():
        expect(page.locator('[data-control="noise"]')).to_be_hidden()
        expect(page.locator('[data-control="depth"]')).to_be_visible()
        assert page.evaluate("window.layerlab.store.state.config.samples") == 100
    violations = axe_violations(classroom.learners["Ana"])
    assert not violations, "axe-core found on a learner's page:\n" + "\n".join(violations)

    # Two learners try a network without a hidden layer: the board has something to rank.
    for name in ("Bruno", "Dmitri"):
        classroom.learners[name].evaluate(
            "() => { const depth = document.getElementById('depth'); depth.value = '0';"
            " depth.dispatchEvent(new Event('input', { bubbles: true })); }"
        )
    for page in classroom.learners.values():
        page.click("#play")
        status = page.locator("#run-status")
        expect(status).to_have_attribute("data-status", "running", timeout=30_000)

    # Every tile: the name as text (markup never becomes an element), and updating.
    expect(wall.locator(".tile")).to_have_count(len(names), timeout=20_000)
    assert sorted(wall.locator(".tile-name").all_text_contents()) == sorted(names)
    assert wall.locator(".tile img, .wall-board img").count() == 0
    before = tile_epochs(wall)
    wait_for(
        lambda: all(tile_epochs(wall)[name] > before[name] for name in names),
        timeout_s=40,
        what="every tile's epoch to move on",
    )
    wall.wait_for_function(
        "() => [...document.querySelectorAll('.tile')].every((tile) =>"
        " Number(tile.dataset.updates) >= 3"
        " && tile.querySelector('.tile-spark polyline').getAttribute('points').length > 0"
        " && tile.querySelector('canvas').width > 1)",
        timeout=30_000,
    )

    # A reload keeps a learner in the room, with the same name.
    link_learner = classroom.learners["Chloé"]
    link_learner.reload()
    expect(link_learner.locator("#room-bar-name")).to_have_text("Chloé")
    expect(link_learner.locator("#room-join-dialog")).to_be_hidden()
    link_learner.click("#play")

    # The challenge, set on the wall, reaches the learners' bars.
    wall.click("summary:has-text('Challenge')")
    wall.select_option("#challenge-metric", "test_acc")
    wall.fill("#challenge-target", "80")
    wall.click("#challenge-form button[type=submit]")
    expect(wall.locator("#wall-challenge")).to_contain_text("test accuracy ≥ 80.0%")
    expect(first.locator("#room-bar-challenge")).to_contain_text(
        "test accuracy ≥ 80.0%", timeout=30_000
    )
    wall.screenshot(path=str(screenshots / "room-wall.png"))
    first.screenshot(path=str(screenshots / "room-learner.png"))

    # Freeze: every run pauses and the learners' pages say so; the board holds still to read.
    wall.click("#wall-freeze")
    expect(wall.locator("#wall-frozen")).to_be_visible()
    wait_for(
        lambda: all(run["status"] == "paused" for run in learner_runs(client, wall).values()),
        timeout_s=40,
        what="every learner's run to pause",
    )
    for page in classroom.learners.values():
        expect(page.locator("#room-bar-frozen")).to_be_visible(timeout=30_000)
        expect(page.locator("#play")).to_be_disabled()
    for page, where in (
        (classroom.learners["Ana"], "a frozen learner's page"),
        (wall, "the frozen wall"),
    ):
        violations = axe_violations(page)
        assert not violations, f"axe-core found on {where}:\n" + "\n".join(violations)

    # The leaderboard in the challenge's order: met first, then the better metric, then fewer
    # parameters, exactly as the server ranks them.
    board = client.get(f"/api/rooms/{code}/leaderboard").json()
    expected = [entry["learner_id"] for entry in board["entries"]]
    wall.wait_for_function(
        "(ids) => JSON.stringify([...document.querySelectorAll('#wall-board tbody tr')]"
        ".map((row) => row.dataset.learner)) === JSON.stringify(ids)",
        arg=expected,
        timeout=10_000,
    )
    rows = wall.evaluate(
        "() => [...document.querySelectorAll('#wall-board tbody tr')].map((row) =>"
        " [row.classList.contains('met'), Number(row.dataset.metric || -1),"
        " Number(row.dataset.parameters || 1e9)])"
    )
    keys = [(not met, -metric, parameters) for met, metric, parameters in rows]
    assert keys == sorted(keys), f"the board is not in the challenge's order: {rows}"
    assert len(rows) == len(names)

    # The spotlight: one learner's run, full size, followed read-only; Escape goes back.
    tile = wall.locator(".tile", has_text="Bruno")
    run_id = tile.get_attribute("data-run-id")
    tile.locator("button").click()
    expect(wall.locator("#wall-spotlight")).to_be_visible()
    expect(wall.locator("#wall-spotlight-title")).to_have_text("Bruno")
    spot = wall.frame_locator(".spotlight-frame")
    expect(spot.locator("#boundary .main-svg").first).to_be_visible(timeout=30_000)
    expect(spot.locator("#play")).to_be_hidden()
    frame = next(f for f in wall.frames if "watch=" in f.url)
    frame.wait_for_function(
        "(id) => window.layerlab?.store?.state.run?.id === id"
        " && window.layerlab.store.state.metrics !== null",
        arg=run_id,
        timeout=30_000,
    )
    wall.screenshot(path=str(screenshots / "room-spotlight.png"))
    violations = axe_violations(wall)
    assert not violations, "axe-core found in the spotlight:\n" + "\n".join(violations)
    wall.keyboard.press("Escape")
    expect(wall.locator("#wall-spotlight")).to_be_hidden()

    # Resume: the runs the freeze paused train on.
    frozen_epochs = tile_epochs(wall)
    wall.click("#wall-freeze")
    expect(wall.locator("#wall-frozen")).to_be_hidden()
    wait_for(
        lambda: all(run["status"] == "running" for run in learner_runs(client, wall).values()),
        timeout_s=40,
        what="every learner's run to train again",
    )
    wait_for(
        lambda: all(tile_epochs(wall)[name] > frozen_epochs[name] for name in names),
        timeout_s=40,
        what="every tile's epoch to move on after the resume",
    )
    for page in classroom.learners.values():
        expect(page.locator("#room-bar-frozen")).to_be_hidden(timeout=30_000)

    # The teacher edits the setup on the playground and sends it: every learner's page follows.
    teaching = wall.context.new_page()
    no_dialogs(teaching)
    teaching.goto(f"{server.url}{wall.get_attribute('#wall-playground', 'href')}")
    expect(teaching.locator("#room-bar-send")).to_be_visible()
    expect(teaching.locator('[data-control="noise"]')).to_be_visible()  # locked for learners only
    teaching.select_option("#learning-rate", "0.1")
    teaching.click("#room-bar-send")
    expect(teaching.locator("#room-bar-sent")).not_to_be_empty()
    teaching.close()
    for page in classroom.learners.values():
        page.wait_for_function(
            "() => window.layerlab.store.state.config.learningRate === 0.1", timeout=30_000
        )
    # The whole setup: a learner's own network goes back to the room's.
    assert classroom.learners["Bruno"].evaluate("window.layerlab.store.state.config.hidden") == [4]

    violations = axe_violations(wall)
    assert not violations, "axe-core found on the wall:\n" + "\n".join(violations)

    # The results: one row per learner, names as they typed them.
    with wall.expect_download() as download:
        wall.click("#wall-results")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert len(table) == len(names)
    assert sorted(row["name"] for row in table) == sorted(names)

    # Closing the room sends every learner back to the plain playground.
    wall.click("#wall-close")
    wall.click("#wall-close-form button[type=submit]")
    expect(wall.locator("#wall-message")).to_contain_text(code)
    expect(first.locator("#room-bar")).to_be_hidden(timeout=30_000)
    expect(first.locator("#error-banner")).to_contain_text(code)
    assert client.get(f"/api/rooms/{code}").status_code == 404


# --- the page's room arithmetic, in its own modules ----------------------------------------------

ROUND_TRIPS = """async () => {
    const { specToConfig } = await import("/js/room-setup.js");
    const { defaultConfig, specFromConfig } = await import("/js/state.js");
    const configs = [
        defaultConfig(),
        { ...defaultConfig(), dataset: "blobs", classes: 5, hidden: [], width: 7,
          features: ["x1", "x1_sq", "sin_x2"], epochsPerS: 5, untilPaused: true },
        { ...defaultConfig(), dataset: "csv", source: "csv-abc", hidden: [8, 3], width: 3,
          optimizer: "sgd", learningRate: 0.3, regularization: "l2", regularizationRate: 0.01 },
    ];
    // A room's spec back into the page's configuration gives the same spec again.
    return configs.map((config) => {
        const spec = specFromConfig(config);
        return [JSON.stringify(specFromConfig(specToConfig(spec))) === JSON.stringify(spec),
                specToConfig(spec).width];
    });
}"""

SENTENCES = """async () => {
    const { challengeSentence, formatMetric } = await import("/js/room-setup.js");
    const { sparkPoints, tileMetric } = await import("/js/wall-tiles.js");
    const { readHash, writeHash } = await import("/js/url-hash.js");
    const { defaultConfig, defaultView } = await import("/js/state.js");
    const link = writeHash(defaultConfig(), defaultView(), 0.5, { room: "ABC234" });
    return {
        none: challengeSentence(null),
        goal: challengeSentence({ metric: "test_acc", target: 0.95, max_parameters: null,
                                  max_hidden_layers: null }),
        both: challengeSentence({ metric: "test_rmse", target: 6, max_parameters: 50,
                                  max_hidden_layers: 0 }),
        loss: formatMetric("train_loss", 0.12345),
        spark: sparkPoints([4, 2, null, 1]),
        flat: sparkPoints([1]),
        metric: [tileMetric(null, { metrics: { test_rmse: 3 } }), tileMetric(null, {}),
                 tileMetric({ metric: "train_acc" }, {})],
        hash: [readHash(link).room, readHash("#room=abc234").room, readHash("#teach=xy").teach,
               readHash("#watch=r1").watch, readHash("#dataset=moons").room],
    };
}"""


def test_a_rooms_setup_round_trips_and_reads_as_sentences(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/#lang=en")
    expect(page.locator("#play")).to_be_enabled()
    # Without a hidden layer a spec has no width: the slider goes back to its default.
    assert page.evaluate(ROUND_TRIPS) == [[True, 4], [True, 4], [True, 3]]
    said = page.evaluate(SENTENCES)
    assert said["none"] is None
    assert said["goal"] == "Reach test accuracy ≥ 95.0%."
    assert said["both"] == "Reach test RMSE ≤ 6 with at most 50 parameters and no hidden layer."
    assert said["loss"] == "0.123"
    assert said["spark"] == "0.0,2.0 40.0,20.7 120.0,30.0"  # high loss up, a gap skipped
    assert said["flat"] == ""
    assert said["metric"] == ["test_rmse", "test_acc", "train_acc"]
    assert said["hash"] == ["ABC234", "ABC234", "XY", "r1", None]


def test_a_room_can_be_a_lesson_step_and_its_learners_open_it(
    classroom: Classroom, server: LiveServer
) -> None:
    """The teacher opens a room from a lesson's step; a learner joining it lands on that step,
    its run set as the step says, with the room's locks hidden still."""
    teacher = classroom.new_page()
    teacher.goto(f"{server.url}/#lesson=beyond-the-line&step=3&lang=en")
    expect(teacher.locator("#lesson-panel")).to_have_attribute("data-step", "3")
    expect(teacher.locator("#play")).to_be_enabled()
    teacher.click("#room-open")
    teacher.fill("#room-admin-token", ADMIN_TOKEN)
    teacher.click("#room-admin-form button[type=submit]")
    teacher.wait_for_url(re.compile(r"/wall\.html#room=[A-Z2-9]{6}"))
    expect(teacher.locator("#wall-code")).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    code = teacher.inner_text("#wall-code")
    with httpx.Client(base_url=server.url, headers={"X-Run-Token": ADMIN_TOKEN}) as client:
        room = client.get(f"/api/rooms/{code}").json()
        assert room["setup"]["lesson"] == {"id": "beyond-the-line", "step": 3}
        step = client.get("/api/lessons/beyond-the-line").json()["steps"][2]
        setup = {**room["setup"], "locked": ["activation"]}
        assert client.patch(f"/api/rooms/{code}", json={"setup": setup}).status_code == 200

    learner = classroom.join_by_link(code, "Ana")
    panel = learner.locator("#lesson-panel")
    expect(panel).to_have_attribute("data-step", "3")
    expect(panel.locator(".lesson-step-title")).to_have_text(step["title"])
    expect(learner).to_have_url(re.compile(rf"room={code}"))
    expect(learner.locator("#activation")).to_be_hidden()  # the room's lock, after the step's link
    config = learner.evaluate("() => window.layerlab.store.state.config")
    assert config["activation"] == "linear" and config["hidden"] == [8, 8]
    learner.click("#play")
    expect(learner.locator("#room-bar")).to_be_visible()
    wait_for(
        lambda: learner.evaluate("() => window.layerlab.store.state.run?.status") == "running",
        timeout_s=30,
    )
