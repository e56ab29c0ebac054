"""Numbers in the page's language: one format for shares and one for losses wherever they show
(readout, tables, the charts' hover), Spanish decimal commas in Plotly's ticks too, and the
plane's rule written on the page."""

import re

import pytest
from playground import Playground
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

MOONS = "dataset=moons&samples=200&noise=0.1&hidden=8,8&activation=relu&epochs=40"
CHARTS = ["data-preview", "loss-chart", "boundary", "boundary-points"]
FORMATS = {  # (share, loss) as the readout shows them
    "en": (r"^\d{1,3}\.\d%$", r"^\d+\.\d{3}$"),
    "es": (r"^\d{1,3},\d\s%$", r"^\d+,\d{3}$"),  # 96,7 % with a no-break space
}


def hover_texts(page: Page, chart: str) -> list[str]:
    """The last point's hover text of each of the chart's traces."""
    return page.evaluate(
        "(id) => document.getElementById(id).data.map((trace) => trace.text.at(-1))", chart
    )


def tick_labels(page: Page, chart: str) -> list[str]:
    return page.locator(f"#{chart} .ytick text").all_text_contents()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_shares_and_losses_read_alike_everywhere(playground: Playground, lang: str) -> None:
    page = playground.page
    playground.open(f"{MOONS}&lang={lang}")
    playground.train_to_the_end()
    share, loss = FORMATS[lang]
    scores = ["train-loss", "test-loss", "train-accuracy", "test-accuracy"]
    readout = {name: page.locator(f"#{name}").inner_text() for name in scores}
    for name, text in readout.items():
        assert re.match(share if "accuracy" in name else loss, text), f"{name}: {text!r}"
    # The chart's last point is the readout's: the hover shows it in the same words.
    assert hover_texts(page, "loss-chart") == list(readout.values())
    caption = page.locator("#confusion-matrix .hint").inner_text()
    accuracy = caption[caption.rindex("(") + 1 : caption.rindex(")")]
    assert re.match(share, accuracy), caption
    for cell in page.locator("#confusion-matrix tbody td").all():
        assert re.match(share, cell.get_attribute("title") or ""), cell.get_attribute("title")


def test_plotly_writes_decimals_as_the_page_does(playground: Playground) -> None:
    page = playground.page
    playground.open(f"{MOONS}&lang=es")
    playground.train_to_the_end()
    drawn_with = (
        "([ids, marks]) => ids.every((id) => document.getElementById(id)._fullLayout.separators"
        " === marks)"
    )
    assert page.evaluate(drawn_with, [CHARTS, ",."])
    assert any("," in label for label in tick_labels(page, "loss-chart"))
    assert not any("." in label for label in tick_labels(page, "loss-chart"))
    page.select_option("#lang", "en")  # every chart drawn again, in English
    page.wait_for_function(drawn_with, arg=[CHARTS, ".,"])
    assert any("." in label for label in tick_labels(page, "loss-chart"))


def test_the_planes_rule_is_written_in_the_pages_language(playground: Playground) -> None:
    page = playground.page
    playground.open("dataset=plane&samples=200&hidden=&optimizer=sgd&lr=0.01&epochs=20&lang=es")
    playground.train_to_the_end()
    formula = page.locator("#learned-weights .formula")
    expect(formula).to_have_text("y = 2·x₁ − 3·x₂ + 5 + ruido")
    separators = page.evaluate(
        "document.getElementById('regression-scatter')._fullLayout.separators"
    )
    assert separators == ",."
    page.select_option("#lang", "en")
    expect(formula).to_have_text("y = 2·x₁ − 3·x₂ + 5 + noise")
