"""The page for everyone: axe-core finds nothing in any view, and the keyboard alone trains a run
and opens a neuron."""

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playground import Playground
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

QUICK = "dataset=moons&samples=200&noise=0.1&hidden=4,4&epochs=20"
LONG = "dataset=moons&samples=200&noise=0.1&hidden=4,4&epochs=1000"


def on_load(app: Playground) -> None:
    app.open(f"{QUICK}&lang=en")


def while_training(app: Playground) -> None:
    app.open(f"{LONG}&lang=en&pace=20")  # 50 s: still training when axe looks
    app.page.click("#play")
    expect(app.page.locator("#run-status")).to_have_attribute("data-status", "running")
    app.page.wait_for_function("() => window.layerlab.store.state.model !== null", timeout=20_000)


def after_the_run(app: Playground) -> None:
    app.open(f"{QUICK}&lang=en")
    app.train_to_the_end()


def with_a_neuron_open(app: Playground) -> None:
    after_the_run(app)
    app.open_neuron()


def with_the_code_shown(app: Playground) -> None:
    app.open(f"{QUICK}&lang=en")
    expect(app.page.locator("#code")).to_contain_text("import torch")
    app.page.locator("#code").scroll_into_view_if_needed()


def in_spanish(app: Playground) -> None:
    app.open(f"{QUICK}&lang=es")
    app.train_to_the_end()
    app.open_neuron()


def in_the_dark_theme(app: Playground) -> None:
    """Several classes: the confusion matrix's cells in the dark theme's colours."""
    app.open("dataset=blobs&samples=200&hidden=4&epochs=20&lang=en&theme=dark")
    app.train_to_the_end()
    app.open_neuron()


def with_a_csv(app: Playground) -> None:
    app.open(f"{QUICK}&lang=en")
    app.upload_csv("pets.csv", ["height", "weight", "label"], ["cat", "dog", "bird"])
    app.train_to_the_end()
    app.open_neuron()


def with_a_wide_csv(app: Playground) -> None:
    """Fourteen columns: no plane to draw, and a neuron's weights in a list that scrolls."""
    app.open(f"{QUICK}&lang=en")
    columns = [f"measurement number {k}" for k in range(14)]
    app.upload_csv("wide.csv", [*columns, "label"], ["yes", "no"])
    app.train_to_the_end()
    app.open_neuron()


def without_hidden_layers(app: Playground) -> None:
    """Width and activation do nothing then, and the learned weights face the true ones."""
    app.open("dataset=plane&samples=200&hidden=&optimizer=sgd&epochs=20&lang=en")
    app.train_to_the_end()
    expect(app.page.locator("#learned-weights table")).to_be_visible()


def with_a_point_walked_through(app: Playground) -> None:
    """The forward pass written out, the threshold's scores and the ROC curve, after a run."""
    app.open(f"{QUICK}&lang=en&threshold=0.3")
    app.train_to_the_end()
    app.click_on_plane(0.5, 0.25)
    app.wait_for_forward()


def with_a_wide_layer_walked_through(app: Playground) -> None:
    """Twelve neurons: the layer summarised by one row, the others buttons to pick, in Spanish."""
    app.open("dataset=moons&samples=200&hidden=12,3&epochs=20&lang=es&theme=dark")
    app.train_to_the_end()
    app.click_on_plane(0.0, 0.5)
    app.wait_for_forward()
    expect(app.page.locator(".fw-pick button").first).to_be_visible()


def with_weights_to_set(app: Playground) -> None:
    """Paused: the links take clicks, and the neuron's weights and bias are number fields."""
    app.open(f"{LONG}&lang=en&pace=20&until=1")
    app.page.click("#play")
    expect(app.page.locator("#run-status")).to_have_attribute("data-status", "running")
    app.page.wait_for_function("() => window.layerlab.store.state.model !== null", timeout=20_000)
    app.pause()
    app.open_neuron()
    expect(app.page.locator("#neuron-detail .weight-input").first).to_be_visible()


def with_a_refusal(app: Playground) -> None:
    app.open("dataset=moons&samples=3000&lang=en")  # past the server's 2000
    expect(app.page.locator('[data-field="dataset.samples"]')).to_be_visible()


def with_a_diverged_run(app: Playground) -> None:
    app.open("dataset=plane&samples=100&hidden=&optimizer=sgd&lr=10&epochs=50&lang=en")
    app.page.click("#play")
    expect(app.page.locator("#error-banner")).to_be_visible(timeout=30_000)


def side_by_side(app: Playground) -> None:
    """Two runs trained, B's own controls, one chart and one table for both (dark: projectors)."""
    app.open(
        "mode=compare&dataset=moons&samples=200&hidden=&epochs=20&b.hidden=8,8&lang=es&theme=dark"
    )
    app.train_both_to_the_end()


def sweep_done(app: Playground) -> None:
    """The sweep's choices, its heatmap filled and its chart (its choices alone without the
    server's sweeps)."""
    app.open("mode=sweep&dataset=moons&samples=100&epochs=10&depths=0,1&widths=2,4&lang=en")
    if app.sweeps_on_the_server():
        app.sweep_to_the_end()


VIEWS: list[Callable[[Playground], None]] = [
    on_load,
    while_training,
    after_the_run,
    with_a_neuron_open,
    with_the_code_shown,
    in_spanish,
    in_the_dark_theme,
    with_a_csv,
    with_a_wide_csv,
    without_hidden_layers,
    with_a_point_walked_through,
    with_a_wide_layer_walked_through,
    with_weights_to_set,
    with_a_refusal,
    with_a_diverged_run,
    side_by_side,
    sweep_done,
]


@pytest.mark.parametrize("view", VIEWS, ids=[view.__name__ for view in VIEWS])
def test_axe_finds_no_violations(
    playground: Playground, view: Callable[[Playground], None]
) -> None:
    view(playground)
    results = Axe().run(playground.page)
    found = [
        f"{violation['id']} ({violation['impact']}): {[n['target'] for n in violation['nodes']]}"
        for violation in results.response["violations"]
    ]
    assert results.violations_count == 0, "axe-core found:\n" + "\n".join(found)


def tab_to(page: Page, selector: str, max_presses: int = 120) -> None:
    """Press Tab (round the page if need be) until `selector` has the focus."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"{selector} never took the focus in {max_presses} presses of Tab")


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement.id")


def test_the_keyboard_alone_trains_a_run_and_opens_a_neuron(playground: Playground) -> None:
    page = playground.page
    playground.open(f"{LONG}&lang=en&pace=20")  # 50 s: still training when the test looks
    config = "window.layerlab.store.state.config"
    status = page.locator("#run-status")

    tab_to(page, "#noise")  # sliders move with the arrow keys, selects too
    page.keyboard.press("ArrowRight")
    assert page.evaluate(f"{config}.noise") == pytest.approx(0.15)
    tab_to(page, "#csv-file")  # hidden behind its label, which then shows the focus
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('.upload-button')).outlineStyle"
    )
    assert outline != "none", "the upload button shows that its file input has the focus"
    tab_to(page, "#depth")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(f"{config}.hidden") == [4]
    tab_to(page, "#activation")
    before = page.evaluate(f"{config}.activation")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(f"{config}.activation") != before

    tab_to(page, "#play")
    page.keyboard.press("Enter")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    expect(status).to_have_attribute("data-status", "running", timeout=30_000)
    page.keyboard.press("Space")
    expect(status).to_have_attribute("data-status", "paused")
    page.keyboard.press("Tab")
    assert focused(page) == "step"
    step = page.evaluate("window.layerlab.store.state.metrics?.step ?? 0")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => window.layerlab.store.state.metrics?.step > {step}")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "reset"
    page.keyboard.press("Enter")
    expect(status).to_have_attribute("data-status", "idle")
    expect(page.locator("#epoch")).to_have_text("0")

    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(status).to_have_attribute("data-status", "running", timeout=30_000)
    page.wait_for_function("() => window.layerlab.store.state.neurons !== null", timeout=20_000)
    neuron = '.neuron[data-layer="1"][data-index="2"]'
    tab_to(page, neuron)
    expect(page.locator(neuron)).to_have_attribute("aria-label", "Hidden layer 1, neuron 3")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused neuron shows that it has the focus"
    page.keyboard.press("Enter")
    detail = page.locator("#neuron-detail")
    expect(detail.locator("h3")).to_have_text("Hidden layer 1 · neuron 3")
    expect(page.locator(neuron)).to_have_attribute("aria-pressed", "true")
    expect(detail).to_be_in_viewport(ratio=1)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")  # on a neuron, Space chooses it: it does not pause the run
    expect(detail.locator("h3")).to_have_text("Hidden layer 1 · neuron 2")
    expect(status).to_have_attribute("data-status", "running")

    tab_to(page, ".detail-close")  # the detail is redrawn as the run trains: the focus stays
    step = page.evaluate("window.layerlab.store.state.model.step")
    page.wait_for_function(f"() => window.layerlab.store.state.model.step > {step}")
    page.keyboard.press("Enter")
    expect(detail).not_to_have_class(re.compile(r"\bopen\b"))
