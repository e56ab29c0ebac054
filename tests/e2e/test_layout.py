"""The page at a laptop's 1366×768: long names stay in their panel, a chosen neuron's detail comes
into view, and screenshots after training in both languages for people to look at."""

from pathlib import Path

import pytest
from playground import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LONG_NAMES = [
    "Ornithorhynchus anatinus, the duck-billed platypus",
    "Tachyglossus aculeatus, the short-beaked echidna",
    "Zaglossus bruijni, the western long-beaked echidna",
]


def test_long_class_names_keep_the_confusion_matrix_inside_its_panel(
    playground: Playground,
) -> None:
    page = playground.page
    playground.open("dataset=moons&hidden=4&epochs=20&lang=en")
    playground.upload_csv("monotremes.csv", ["length", "mass", "species"], LONG_NAMES)
    playground.train_to_the_end()
    matrix = page.locator("#confusion-matrix table")
    expect(matrix.locator("tbody td")).to_have_count(len(LONG_NAMES) ** 2)
    # measured in one go inside the page: the matrix may be drawn again between two reads
    panel, cells = page.evaluate(
        """() => {
            const edges = (element) => {
                const box = element.getBoundingClientRect();
                return [box.left, box.right];
            };
            const cells = document.querySelectorAll(
                "#confusion-matrix table th, #confusion-matrix table tbody td");
            return [edges(document.querySelector(".results-card")),
                    [...cells].map((cell) => [cell.innerText, ...edges(cell)])];
        }"""
    )
    assert len(cells) >= len(LONG_NAMES) ** 2
    for text, left, right in cells:
        assert panel[0] <= left and right <= panel[1], (
            f"{text!r} at x {left:.0f}–{right:.0f} leaves the panel's {panel[0]:.0f}–{panel[1]:.0f}"
        )
    names = matrix.locator("tbody th .class-name")
    assert [names.nth(k).get_attribute("title") for k in range(3)] == LONG_NAMES


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_a_clicked_neurons_detail_comes_into_view(playground: Playground, motion: str) -> None:
    page = playground.page
    page.emulate_media(reduced_motion=motion)
    playground.open("dataset=moons&hidden=4,4&epochs=20&lang=en")
    playground.train_to_the_end()
    page.evaluate("window.scrollTo(0, 0)")
    playground.open_neuron(".neuron.output")
    expect(page.locator("#neuron-detail")).to_be_in_viewport(ratio=1)
    # and it had to come: at the top of the page its bottom lies below the fold
    bottom = page.evaluate(
        "(() => { const box = document.querySelector('#neuron-detail').getBoundingClientRect();"
        " return box.bottom + window.scrollY; })()"
    )
    assert bottom > page.viewport_size["height"]
    assert page.evaluate("window.scrollY") > 0


def test_screenshots_after_training(playground: Playground, screenshots: Path) -> None:
    """English and Spanish at the end of a run, a neuron open, for people to look at."""
    page = playground.page
    page.emulate_media(reduced_motion="reduce")  # no scrolling still under way in the picture
    for lang in ["en", "es"]:
        playground.open(f"dataset=moons&samples=300&hidden=8,8&epochs=60&lang={lang}")
        playground.train_to_the_end()
        playground.open_neuron()
        page.evaluate("window.scrollTo(0, 0)")
        path = screenshots / f"trained-{lang}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 50_000  # a drawn page, not a blank one
