"""The playground in Chromium: train, change the network, switch language, share, see refusals."""

import itertools
import os
import re
import signal
from pathlib import Path

import pytest
from playground import Playground
from playwright.sync_api import Page, expect

from service import LiveServer, wait_for

pytestmark = pytest.mark.e2e

# Moons that a small network learns to ≥ 0.9 in a few seconds.
MOONS = "dataset=moons&samples=400&noise=0.1&hidden=8,8&activation=relu&lr=0.03&epochs=300"
LONG_MOONS = "dataset=moons&samples=400&noise=0.1&hidden=8,8&activation=relu&lr=0.01&epochs=1000"


def linear_parameters(widths: list[int], inputs: int = 2, outputs: int = 1) -> int:
    sizes = [inputs, *widths, outputs]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def test_moons_trains_to_090_test_accuracy_on_the_page(page: Page, server: LiveServer) -> None:
    Playground(page, server).open(f"{MOONS}&lang=en")
    page.click("#play")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "() => Number(document.querySelector('#test-accuracy').dataset.value) >= 0.9",
        timeout=60_000,
    )
    assert page.evaluate("window.layerlab.stats.gridsDrawn") > 0
    expect(page.locator("#epoch")).not_to_have_text("0")


def test_the_depth_slider_starts_a_new_run_with_a_new_summary(
    page: Page, server: LiveServer
) -> None:
    Playground(page, server).open(f"{LONG_MOONS}&lang=en")
    page.click("#play")
    summary = page.locator("#summary-table")
    expect(summary).to_have_attribute("data-total-parameters", str(linear_parameters([8, 8])))
    page.locator("#depth").fill("3")
    expect(summary).to_have_attribute(
        "data-total-parameters", str(linear_parameters([8, 8, 8])), timeout=15_000
    )
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    assert "hidden=8,8,8" in page.evaluate("location.hash")


def test_the_language_switches_between_spanish_and_english(page: Page, server: LiveServer) -> None:
    Playground(page, server).open(f"{MOONS}&lang=es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    spanish = page.locator("body").inner_text()
    page.select_option("#lang", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english = page.locator("body").inner_text()
    assert "Tasa de aprendizaje".lower() in spanish.lower()
    assert "learning rate" in english.lower()
    assert "lang=en" in page.evaluate("location.hash")


def test_a_shared_url_opens_the_same_controls(page: Page, server: LiveServer) -> None:
    Playground(page, server).open(
        "dataset=xor&hidden=4,4&activation=tanh&lr=0.03&lang=en&hide=width,activation",
    )
    expect(page.locator("#dataset")).to_have_value("xor")
    expect(page.locator("#depth")).to_have_value("2")
    expect(page.locator("#activation")).to_have_value("tanh")
    expect(page.locator("#learning-rate")).to_have_value("0.03")
    expect(page.locator('[data-control="width"]')).to_be_hidden()
    expect(page.locator('[data-control="activation"]')).to_be_hidden()
    expect(page.locator('[data-control="layers"]')).to_be_hidden()  # their −/+ change widths
    expect(page.locator('[data-control="depth"]')).to_be_visible()


def test_a_refused_upload_is_explained_next_to_its_control(page: Page, server: LiveServer) -> None:
    Playground(page, server).open(f"{MOONS}&lang=en")
    rows = "".join(f"{i / 10},{1 - i / 10},{i % 2}\n" for i in range(12))
    page.set_input_files(
        "#csv-file",
        files=[
            {
                "name": "broken.csv",
                "mimeType": "text/csv",
                "buffer": f"x,y,label\n{rows}0.3,abc,1\n".encode(),
            }
        ],
    )
    error = page.locator('[data-control="csv"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("row 14")
    expect(error).to_contain_text("abc")


def test_screenshots_mid_training(page: Page, server: LiveServer, screenshots: Path) -> None:
    """Classification and regression while they train, for people to look at."""
    cases = {
        "classification": f"{LONG_MOONS}&lang=en",
        "regression": "dataset=plane&samples=400&noise=0.3&hidden=&optimizer=sgd&lr=0.003"
        "&epochs=1000&lang=es",
    }
    for name, fragment in cases.items():
        Playground(page, server).open(fragment)
        page.click("#play")
        page.wait_for_function("() => window.layerlab.stats.gridsDrawn >= 5", timeout=30_000)
        page.wait_for_timeout(1000)  # a second more of training, mid-run rather than at start
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 50_000  # a drawn page, not a blank one
        page.click("#play")  # pause before the next case


def test_the_plane_trains_to_the_end_while_the_page_reads_it(
    page: Page, server: LiveServer
) -> None:
    """The report's case: the page's regression, read every second as it trains, never fails."""
    Playground(page, server).open("dataset=plane&epochs=100&lang=es")
    page.click("#play")
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    assert page.evaluate("window.layerlab.store.state.model") is not None, "the page read /model"


def test_an_interrupted_run_goes_on_from_its_checkpoint_with_play(
    page: Page, server: LiveServer
) -> None:
    """Its worker killed mid-run, the run is interrupted; play takes it on from its checkpoint."""
    Playground(page, server).open(f"{LONG_MOONS}&lang=en")
    page.click("#play")
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-status", "running")
    run_id = page.evaluate("window.layerlab.store.state.run.id")
    scheduler = server.scheduler
    wait_for(lambda: scheduler.store.load_checkpoint(run_id), 20, "a checkpoint")
    pid = server.worker_pid(run_id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    expect(status).to_have_attribute("data-status", "interrupted", timeout=20_000)
    step = page.evaluate("window.layerlab.store.state.metrics.step")
    page.click("#play")
    expect(status).to_have_attribute("data-status", "running", timeout=30_000)
    page.wait_for_function(f"() => window.layerlab.store.state.metrics.step > {step}")
    assert page.evaluate("window.layerlab.store.state.run.id") == run_id, "the same run went on"
    page.click("#play")  # pause: the next test's runs need the worker


MARKUP = [
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(2)>",
    "</script><script>alert(3)</script>",
    '"><b id=injected>4</b>',
]


def test_markup_in_a_csvs_names_stays_text_under_the_pages_policy(
    page: Page, server: LiveServer
) -> None:
    """Column names and class labels that are markup: trained, every neuron opened, no script
    runs and no element is injected; the page's Content-Security-Policy refuses inline script
    and the page itself breaks none of it."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    answer = page.goto(f"{server.url}/#{MOONS}&lang=en")
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    expect(page.locator("#play")).to_be_enabled()
    # markup in the file's name, both feature names, the label's name and every class: each
    # would add an element (img, svg, b#injected) or run script if it were read as markup
    header = [MARKUP[3], MARKUP[1], MARKUP[0]]
    classes = [MARKUP[0], MARKUP[2], '<b id="injected-class">5</b>']
    playground = Playground(page, server)
    playground.upload_csv("<b>pets</b>.csv", header, classes)
    assert "<b>pets</b>.csv" in page.locator("#dataset option:checked").inner_text()
    # Plotly draws its own tags (<b>, <br>, <a>) in titles and hover text: the names stay text
    expect(page.locator("#boundary .xtitle")).to_have_text(header[0])
    expect(page.locator("#boundary .ytitle")).to_have_text(header[1])
    page.click("#play")
    # 60 rows train fast: the run may be done before the status is read as running
    trained = re.compile(r"^(running|done)$")
    expect(page.locator("#run-status")).to_have_attribute("data-status", trained)
    page.wait_for_function("() => window.layerlab.store.state.model !== null", timeout=20_000)
    neurons = page.locator(".neuron")
    for k in range(neurons.count()):
        neurons.nth(k).click()
        page.wait_for_timeout(150)  # the detail re-renders as the model updates
    neurons.first.click()  # a first-layer neuron: its weights are named by the columns
    page.wait_for_timeout(1500)
    assert dialogs == []
    injected = "#injected, #injected-class, body img[src='x'], body svg[onload], b"
    assert page.locator(injected).count() == 0
    assert (
        page.evaluate("[...document.scripts].filter((s) => s.textContent.includes('alert')).length")
        == 0
    )
    detail = page.locator("#neuron-detail").inner_text()
    assert header[0] in detail and header[1] in detail
    assert page.evaluate("window.__violations") == []
