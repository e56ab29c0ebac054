"""The page driven as a learner drives it: open a link, upload a table, train, open a neuron."""

import csv
import io
import re

from playwright.sync_api import Page, expect

from service import LiveServer


class Playground:
    def __init__(self, page: Page, server: LiveServer) -> None:
        self.page = page
        self.server = server

    def open(self, fragment: str) -> None:
        """The page loaded afresh at this hash (a shared link), ready to train."""
        self.page.goto("about:blank")  # a new page even where only the hash would change
        self.page.goto(f"{self.server.url}/#{fragment}")
        expect(self.page.locator("#play")).to_be_enabled()

    def upload_csv(self, name: str, header: list[str], classes: list[str]) -> None:
        """A CSV sent, and the page showing it."""
        self.send_csv(name, header, classes)
        expect(self.page.locator("#dataset")).to_have_value(re.compile("^csv-"), timeout=15_000)
        self.page.wait_for_function(
            "(names) => JSON.stringify(window.layerlab.store.state.preview?.input_names)"
            " === JSON.stringify(names)",
            arg=header[:-1],
        )

    def send_csv(self, name: str, header: list[str], classes: list[str], rows: int = 60) -> None:
        """A CSV with these columns (the last the label) through the file input; its classes lie
        side by side along the first column, so that a small network learns them."""
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(header)
        for i in range(rows):
            others = [(i % (k + 5)) / (k + 5) for k in range(len(header) - 2)]
            writer.writerow([i % len(classes) + (i % 7) / 10, *others, classes[i % len(classes)]])
        upload = {"name": name, "mimeType": "text/csv", "buffer": table.getvalue().encode()}
        self.page.set_input_files("#csv-file", files=[upload])

    def train_to_the_end(self) -> None:
        self.page.click("#play")
        expect(self.page.locator("#run-status")).to_have_attribute(
            "data-status", "done", timeout=60_000
        )
        self.page.wait_for_function(
            "() => window.layerlab.store.state.model?.run_id === window.layerlab.store.state.run.id"
        )

    def open_neuron(self, selector: str = ".neuron") -> None:
        self.page.locator(selector).first.click()
        expect(self.page.locator("#neuron-detail")).to_have_class(re.compile(r"\bopen\b"))
