"""Seeing inside the network on the page: a point walked through it with the real numbers, the
decision threshold with its confusion matrix and ROC curve, a pace to follow, weights set by
hand; and normal use asks the server nothing it refuses."""

import copy
import math
import time
from pathlib import Path
from typing import Any

import pytest
from playground import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MOONS = "dataset=moons&samples=300&noise=0.25&hidden=4,4&activation=tanh&lr=0.03&epochs=30"


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def probabilities(model: dict[str, Any], points: list[list[float]]) -> list[float]:
    """p(class 1) of a tanh network on x1, x2, computed by hand from /model's weights."""
    found = []
    for point in points:
        h = point
        for k, layer in enumerate(model["weights"]):
            z = [
                sum(w * x for w, x in zip(row, h, strict=True)) + b
                for row, b in zip(layer["weight"], layer["bias"], strict=True)
            ]
            h = z if k == len(model["weights"]) - 1 else [math.tanh(v) for v in z]
        found.append(sigmoid(h[0]))
    return found


def test_a_clicked_point_walks_through_the_network_as_predict_says(
    playground: Playground,
) -> None:
    page = playground.page
    playground.open(f"{MOONS}&lang=en")
    playground.train_to_the_end()
    # a spot of the plane away from the test points (a click on one picks it)
    tests = playground.state("preview.test.x")
    spot = next(
        (x / 4, y / 4)
        for x in range(-4, 9)
        for y in range(-2, 5)
        if all(math.dist((x / 4, y / 4), p) > 0.25 for p in tests)
    )
    playground.click_on_plane(*spot)
    forward = playground.wait_for_forward()
    point = playground.state("probe.point")
    assert point == pytest.approx(spot, abs=0.03)  # where the click was, on the plane
    assert playground.state("probe.test") is None
    run_id = playground.state("run.id")
    predicted = playground.call("POST", f"/api/runs/{run_id}/predict", {"points": [point]})
    shown = page.locator("#forward-probability")
    assert float(shown.get_attribute("data-value") or "nan") == pytest.approx(
        predicted["probabilities"][0], abs=1e-6
    )
    expect(shown).to_have_text(f"{predicted['probabilities'][0]:.4f}")
    # every layer written out: W¹ whole (4×2), then 4×4, then the output row
    matrices = page.locator("#forward-steps .fw-matrix")
    expect(matrices).to_have_count(3)
    assert matrices.nth(0).locator(".fw-num").count() == 8
    assert len(forward["layers"]) == 3

    # Hovering a weight lights its link's two ends in the drawing.
    page.locator('#forward-steps .fw-num[data-layer="2"][data-index="1"][data-from="3"]').hover()
    expect(page.locator('.neuron.lit[data-layer="2"][data-index="1"]')).to_have_count(1)
    expect(page.locator('.neuron.lit[data-layer="1"][data-index="3"]')).to_have_count(1)
    expect(page.locator(".net-links .link.hot")).to_have_count(1)

    # A click on a test point picks it; and a test point picked by its number.
    playground.click_on_plane(*tests[7])
    playground.wait_for_forward()
    assert playground.state("probe.point") == tests[7]
    expect(page.locator("#probe-test")).to_have_value("8")
    page.fill("#probe-test", "3")
    page.locator("#probe-test").press("Enter")
    playground.wait_for_forward()
    assert playground.state("probe.point") == tests[2]
    assert tests[2] in playground.call("GET", f"/api/runs/{run_id}/roc")["points"]


def test_the_threshold_moves_the_confusion_matrix_as_a_hand_count_says(
    playground: Playground,
) -> None:
    page = playground.page
    playground.open(f"{MOONS}&lang=en")
    playground.train_to_the_end()
    page.wait_for_function(  # the test scores of the final weights
        "() => { const s = window.layerlab.store.state;"
        " return s.roc?.runId === s.run.id && s.roc.step === s.metrics.step; }",
        timeout=20_000,
    )
    run_id = playground.state("run.id")
    roc = playground.call("GET", f"/api/runs/{run_id}/roc")
    p = playground.call("POST", f"/api/runs/{run_id}/predict", {"points": roc["points"]})[
        "probabilities"
    ]
    matrices = {}
    for threshold in (0.2, 0.8):
        page.locator("#threshold").fill(str(threshold))
        expected = [[0, 0], [0, 0]]
        for label, score in zip(roc["labels"], p, strict=True):
            expected[label][int(score >= threshold)] += 1
        cells = page.locator("#confusion-matrix tbody td")
        expect(cells.nth(0)).to_have_text(str(expected[0][0]))
        shown = [int(text) for text in cells.all_inner_texts()]
        assert shown == [*expected[0], *expected[1]], f"at {threshold}"
        [[tn, fp], [fn, tp]] = expected
        accuracy = page.locator("#threshold-accuracy").get_attribute("data-value")
        assert float(accuracy or "nan") == pytest.approx((tp + tn) / len(p))
        recall = float(page.locator("#threshold-recall").get_attribute("data-value") or "nan")
        assert recall == pytest.approx(tp / (tp + fn))
        precision = page.locator("#threshold-precision").get_attribute("data-value")
        assert float(precision or "nan") == pytest.approx(tp / (tp + fp))
        assert f"threshold={threshold}" in page.evaluate("location.hash")
        contour = page.evaluate("document.getElementById('boundary').data[1].contours.start")
        assert contour == threshold
        matrices[threshold] = shown
    assert matrices[0.2] != matrices[0.8], "the threshold changed nothing: a test that can't fail"
    expect(page.locator("#roc-auc")).to_have_text(f"{roc['auc']:.3f}")

    # The link keeps it: opened again, the page is at 0.8.
    playground.open(page.evaluate("location.hash.slice(1)"))
    expect(page.locator("#threshold")).to_have_value("0.8")
    expect(page.locator("#threshold-value")).to_have_text("0.80")


def epochs_per_second(playground: Playground, window_s: float = 3.0) -> float:
    """The epoch counter's speed over a few seconds, on the page's own clock."""
    read = "() => [Number(document.querySelector('#epoch').dataset.value), performance.now()]"
    epoch0, t0 = playground.page.evaluate(read)
    time.sleep(window_s)
    epoch1, t1 = playground.page.evaluate(read)
    return float((epoch1 - epoch0) / ((t1 - t0) / 1000))


def test_a_paced_run_trains_past_its_epoch_limit_until_paused(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=moons&samples=200&hidden=4&epochs=3&pace=5&until=1&lang=en")
    expect(page.locator("#pace")).to_have_value("5")
    expect(page.locator("#until-paused")).to_be_checked()
    expect(page.locator("#epoch-total")).to_have_text("/ ∞")
    page.click("#play")
    page.wait_for_function(
        "() => Number(document.querySelector('#epoch').dataset.value) >= 1", timeout=20_000
    )
    assert 4 <= epochs_per_second(playground) <= 6
    assert playground.state("run.spec.until_paused") is True
    page.wait_for_function(
        "() => Number(document.querySelector('#epoch').textContent) > 3", timeout=10_000
    )
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    # The pace changes live, without a new run.
    run_id = playground.state("run.id")
    page.select_option("#pace", "20")
    time.sleep(0.5)
    assert 15 <= epochs_per_second(playground) <= 25
    assert playground.state("run.id") == run_id
    assert "pace=20&until=1" in page.evaluate("location.hash")
    playground.pause()


def test_a_weight_set_to_zero_changes_predict_as_a_hand_computation_says(
    playground: Playground,
) -> None:
    page = playground.page
    # at a pace of 20 epochs a second: at full speed its 200 steps end before the pause lands
    playground.open(
        "dataset=moons&samples=200&hidden=3&activation=tanh&epochs=40&pace=20&until=1&lang=en"
    )
    page.click("#play")
    page.wait_for_function(
        "() => Number(document.querySelector('#epoch').dataset.value) >= 5", timeout=20_000
    )
    playground.pause()
    run_id = playground.state("run.id")
    points = [[0.0, 0.0], [1.0, -0.5], [-0.5, 1.0], [1.5, 0.5]]
    playground.click_on_plane(1.0, -0.5)
    playground.wait_for_forward()
    probe = playground.state("probe.point")
    boundary = "() => Array.from(window.layerlab.store.state.grid.values).join()"
    drawn = page.evaluate(boundary)
    before = playground.call("GET", f"/api/runs/{run_id}/model")
    assert before["weights"][0]["weight"][1][0] != 0

    # The learner clicks the link from x₁ to h¹₂ and types 0,
    playground.click_link(1, 1, 0)
    field = page.locator('#neuron-detail .weight-input[data-column="0"]')
    expect(field).to_be_focused()
    expect(page.locator("#neuron-detail h3")).to_have_text("Hidden layer 1 · neuron 2")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    # then opens the output neuron and sets its bias to 0.5.
    page.locator(".neuron.output").click()
    bias = page.locator('#neuron-detail .weight-input[data-column="bias"]')
    bias.fill("0.5")
    bias.press("Enter")

    edited = copy.deepcopy(before["weights"])
    edited[0]["weight"][1][0] = 0.0
    edited[1]["bias"][0] = 0.5
    page.wait_for_function(
        "() => { const s = window.layerlab.store.state;"
        " return s.forward?.layers[1].bias[0] === 0.5 && s.forward.layers[0].weight[1][0] === 0; }",
        timeout=10_000,
    )
    expected = probabilities({"weights": edited}, points)
    after = playground.call("POST", f"/api/runs/{run_id}/predict", {"points": points})
    assert after["probabilities"] == pytest.approx(expected, abs=1e-5)
    assert probabilities(before, points) != pytest.approx(expected, abs=1e-3)
    # The forward pass, the detail and the boundary show the weights as they are now.
    shown = float(page.locator("#forward-probability").get_attribute("data-value") or "nan")
    assert shown == pytest.approx(probabilities({"weights": edited}, [probe])[0], abs=1e-5)
    expect(bias).to_have_value("0.5")
    page.wait_for_function(f"() => ({boundary})() !== {drawn!r}", timeout=10_000)
    assert playground.state("run.status") == "paused"

    # Resumed, it trains on from there.
    step = playground.state("metrics.step")
    page.click("#play")
    page.wait_for_function(f"() => window.layerlab.store.state.metrics.step > {step + 5}")
    playground.pause()


def test_a_table_without_a_plane_walks_a_row_of_features(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=features4&samples=200&hidden=4&epochs=20&lang=en")
    playground.train_to_the_end()
    names = playground.state("preview.input_names")
    expect(page.locator("#forward-form .probe-input")).to_have_count(len(names))
    values = [0.5, -1.0, 0.25, 2.0][: len(names)]
    for k, value in enumerate(values):
        page.fill(f"#probe-{k}", str(value))
    page.click("#forward-form button[type=submit]")
    forward = playground.wait_for_forward()
    assert forward["point"] is None and forward["input"]["values"] == pytest.approx(values)
    run_id = playground.state("run.id")
    predicted = playground.call("POST", f"/api/runs/{run_id}/predict", {"points": [values]})
    probability = page.locator("#forward-probability").get_attribute("data-value")
    assert float(probability or "nan") == pytest.approx(predicted["probabilities"][0], abs=1e-6)


def test_normal_use_asks_nothing_the_server_refuses(playground: Playground) -> None:
    """Load, play, deeper, wider, other data, a point walked, the threshold moved: no answer
    of 400 or more (the page used to ask /predict and /neurons of a run not built yet)."""
    page = playground.page
    refused = playground.refusals()
    summary = page.locator("#summary-table")
    status = page.locator("#run-status")
    for _ in range(2):
        # paced (50 s): at full speed the run could end before the sliders move
        playground.open("dataset=moons&samples=200&hidden=4,4&epochs=1000&pace=20&lang=en")
        page.click("#play")
        expect(status).to_have_attribute("data-status", "running", timeout=20_000)
        page.locator("#depth").fill("3")
        expect(summary).to_have_attribute("data-layers", "4", timeout=15_000)
        page.locator("#width").fill("6")
        page.wait_for_function(
            "() => window.layerlab.store.state.model?.weights?.[0]?.weight.length === 6",
            timeout=15_000,
        )
        for name in ["circles", "blobs", "features4", "moons"]:
            page.select_option("#dataset", name)
            page.wait_for_timeout(400)
        expect(status).to_have_attribute("data-status", "running", timeout=20_000)
        page.wait_for_function("() => window.layerlab.store.state.roc !== null", timeout=20_000)
        playground.click_on_plane(0.0, 0.5)
        playground.wait_for_forward()
        page.locator("#threshold").fill("0.3")
        page.click("#play")
        expect(status).to_have_attribute("data-status", "paused")
        page.wait_for_timeout(1200)  # a second of reads after the pause
    assert refused == []


SHOTS = [
    ("en", "light", "4,4"),
    ("es", "light", "4,4"),
    ("en", "dark", "4,4"),
    ("es", "dark", "12,3"),
]


@pytest.mark.parametrize(("lang", "theme", "hidden"), SHOTS, ids=["-".join(s) for s in SHOTS])
def test_screenshots_of_the_new_panels(
    playground: Playground, screenshots: Path, lang: str, theme: str, hidden: str
) -> None:
    """A paced run paused mid-way: its weights to set, a point walked through, the threshold at
    0.35 with its scores and ROC curve; the page and each new panel, for people to look at."""
    page = playground.page
    page.emulate_media(reduced_motion="reduce")
    playground.open(
        f"dataset=moons&samples=300&noise=0.25&hidden={hidden}&activation=tanh&pace=20&until=1"
        f"&threshold=0.35&lang={lang}&theme={theme}"
    )
    page.click("#play")
    page.wait_for_function(
        "() => Number(document.querySelector('#epoch').dataset.value) >= 15", timeout=20_000
    )
    playground.pause()
    playground.click_on_plane(0.6, -0.3)
    playground.wait_for_forward()
    playground.open_neuron('.neuron[data-layer="1"]')
    expect(page.locator("#neuron-detail .weight-input").first).to_be_visible()
    page.wait_for_function("() => window.layerlab.store.state.roc !== null", timeout=20_000)
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top, over nothing
    name = f"see-inside-{lang}-{theme}"
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    for part, selector in [
        ("topbar", ".topbar"),
        ("network", ".network-card"),
        ("output", ".output-card"),
        ("results", ".results-card"),
    ]:
        path = screenshots / f"{name}-{part}.png"
        box = page.locator(selector).bounding_box()  # clipped from the whole page, as it lies
        assert box is not None
        page.screenshot(path=str(path), full_page=True, clip=box)
        assert path.stat().st_size > 5_000  # drawn, not blank
