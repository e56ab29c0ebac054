"""The page writes what the server's registries say: a neuron's activation by the symbol
/api/info gives, and a built-in table without a plane (/api/datasets: no extent) fed as columns."""

import re

import pytest
from playground import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_hidden_neurons_formula_writes_the_servers_symbol(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=moons&samples=200&hidden=3&activation=sigmoid&epochs=10&lang=en")
    symbol = page.evaluate("window.layerlab.store.state.info.choices.activation_symbols.sigmoid")
    assert symbol == "σ"
    playground.train_to_the_end()
    playground.open_neuron('.neuron[data-layer="1"]')
    expect(page.locator("#neuron-detail .formula")).to_have_text(re.compile(r"^h¹₁ = σ\(.+\)$"))


def test_a_table_without_a_plane_goes_in_as_its_columns(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=features4&samples=200&hidden=3&features=x1,x2,x1_sq&epochs=5&lang=en")
    labels = page.locator(".net-inputs .input-label")
    expect(labels).to_have_text(["x₁", "x₂", "x₃", "x₄"])
    playground.train_to_the_end()
    spec = page.evaluate("window.layerlab.store.state.run.spec")
    assert spec["dataset"]["name"] == "features4"
    assert spec["features"] == ["x1", "x2"]  # the link's x1² does not apply to a table
