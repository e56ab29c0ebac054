"""A CSV on the page: its columns' names in the network and the formulas, no console error on the
way to it, found again by its id on a reload, and downloadable beside the script that opens it."""

import re

import pytest
from playground import Playground
from playwright.sync_api import ConsoleMessage, Error, expect

pytestmark = pytest.mark.e2e

PETS = ("pets.csv", ["height", "weight", "label"], ["cat", "dog", "bird"])


def test_a_csvs_columns_name_the_networks_inputs_and_the_formulas(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=moons&hidden=4&epochs=20&lang=en")
    playground.upload_csv(*PETS)
    labels = page.locator(".net-inputs .input-label").all_inner_texts()
    features = ["height", "weight", "height²", "weight²", "height·weight", "sin height"]
    assert labels == [*features, "sin weight"]
    expect(page.locator('label[for="feature-x1_sq"]')).to_have_attribute(
        "title", "height²: the square of height"
    )
    playground.train_to_the_end()
    playground.open_neuron('.neuron[data-layer="1"]')
    formula = page.locator("#neuron-detail .formula")
    expect(formula).to_contain_text(re.compile(r"·height [+−] [\d.]+·weight"))
    names = page.locator("#neuron-detail .weight-name").all_inner_texts()
    assert names == ["height", "weight", "bias"]


def test_the_plane_then_a_csv_logs_no_error(playground: Playground) -> None:
    """Two errors there were: the loss chart, going from the plane's log axis to one with the
    accuracy on the right, drew an SVG path with NaN in it; and the plane's run was asked for its
    predictions on the table's three columns (422)."""
    page = playground.page
    console: list[ConsoleMessage] = []
    thrown: list[Error] = []
    page.on("console", lambda message: console.append(message))
    page.on("pageerror", lambda error: thrown.append(error))
    playground.open("dataset=moons&hidden=4&epochs=20&lang=en")
    page.select_option("#dataset", "plane")
    expect(page.locator("body")).to_have_attribute("data-task", "regression")
    page.wait_for_function(
        "() => document.getElementById('loss-chart').layout.yaxis.type === 'log'"
        " && window.layerlab.store.state.predictions?.task === 'regression'"
    )
    playground.upload_csv("pets.csv", ["height", "weight", "age", "label"], ["cat", "dog", "bird"])
    page.wait_for_function(  # the page's own restart on the table, the plane's run until then
        "() => window.layerlab.store.state.run.spec.dataset.name === 'csv'"
    )
    expect(page.locator("body")).to_have_attribute("data-task", "multiclass")
    playground.train_to_the_end()
    assert [message.text for message in console if message.type == "error"] == []
    assert thrown == []


def test_play_just_after_an_upload_trains_on_the_table(playground: Playground) -> None:
    """Play pressed while the page waits to start again on new data starts the new run: it does
    not go to the old one, which (one epoch here) would end meanwhile and leave the new idle."""
    page = playground.page
    playground.open("dataset=moons&samples=40&hidden=2&epochs=1&lang=en")
    playground.send_csv(*PETS)
    expect(page.locator("#dataset")).to_have_value(re.compile("^csv-"))
    page.click("#play")
    page.wait_for_function(
        "() => window.layerlab.store.state.run.spec.dataset.name === 'csv'"
        " && window.layerlab.store.state.run.status === 'done'",
        timeout=20_000,
    )


def test_a_reload_finds_its_upload_by_id(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=moons&hidden=4&epochs=20&lang=en")
    playground.upload_csv(*PETS)
    upload_id = page.locator("#dataset").input_value()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.reload()
    expect(page.locator("#play")).to_be_enabled()
    expect(page.locator("#dataset")).to_have_value(upload_id)
    expect(page.locator("#dataset option:checked")).to_have_text("pets.csv (CSV)")
    assert any(url.endswith(f"/api/datasets/{upload_id}/info") for url in asked)


def test_the_code_speaks_the_pages_language_and_offers_the_csv(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=moons&hidden=4&epochs=20&lang=es")
    code = page.locator("#code")
    expect(code).to_contain_text("Un entrenamiento de LayerLab")
    download = page.locator("#download-csv")
    expect(download).to_be_hidden()  # a built-in dataset: the script makes its own data
    page.select_option("#lang", "en")
    expect(code).to_contain_text("A LayerLab run")

    playground.upload_csv(*PETS)
    upload_id = page.locator("#dataset").input_value()
    expect(download).to_be_visible()
    expect(download).to_have_text("Download the CSV")
    expect(download).to_have_attribute("href", f"/api/datasets/{upload_id}/file")
    expect(page.locator("#code-csv-note")).to_contain_text("pets.csv")
    expect(code).to_contain_text("pets.csv")  # the script opens the file by its name
    answer = page.request.get(f"{playground.server.url}/api/datasets/{upload_id}/file")
    assert answer.text().splitlines()[0] == "height,weight,label"
    page.select_option("#lang", "es")
    expect(download).to_have_text("Descargar el CSV")
