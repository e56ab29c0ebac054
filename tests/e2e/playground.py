"""The page driven as a learner drives it: open a link, upload a table, train, open a neuron,
click the plane, set a weight, compare two networks side by side, sweep depths and widths; and
what the page and the server say meanwhile."""

import csv
import io
import re
from typing import Any

from playwright.sync_api import Page, Response, expect

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

    # --- seeing inside: the run's numbers, the plane, the drawing ---------------------------------

    def refusals(self) -> list[str]:
        """From now on, each answer of the server with a status of 400 or more, as
        'STATUS METHOD URL', in a list that grows as they come."""
        found: list[str] = []

        def note(response: Response) -> None:
            if response.status >= 400:
                found.append(f"{response.status} {response.request.method} {response.url}")

        self.page.on("response", note)
        return found

    def state(self, path: str) -> Any:
        """A value of the page's store: state("run.id")."""
        return self.page.evaluate(f"() => window.layerlab.store.state.{path}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The server's JSON answer to a request sent from the page (as anyone, no token)."""
        return self.page.evaluate(
            """async ([method, path, body]) => {
                const init = {method};
                if (body !== null) {
                    init.headers = {"Content-Type": "application/json"};
                    init.body = JSON.stringify(body);
                }
                const response = await fetch(path, init);
                if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
                return response.json();
            }""",
            [method, path, body],
        )

    def pause(self) -> None:
        self.page.click("#play")
        expect(self.page.locator("#run-status")).to_have_attribute("data-status", "paused")

    def click_on_plane(self, x: float, y: float) -> None:
        """A click on the boundary plot where the data's plane has (x, y)."""
        plot = self.page.locator("#boundary-points")
        plot.scroll_into_view_if_needed()
        position = self.page.evaluate(
            """([x, y]) => {
                const {xaxis, yaxis} = document.getElementById("boundary-points")._fullLayout;
                return {x: xaxis._offset + xaxis.l2p(x), y: yaxis._offset + yaxis.l2p(y)};
            }""",
            [x, y],
        )
        plot.click(position=position)

    def wait_for_forward(self) -> dict[str, Any]:
        """The forward pass of the chosen point, once the page has it for the run on the page."""
        self.page.wait_for_function(
            "() => { const s = window.layerlab.store.state;"
            " return s.probe && s.forward?.probe === s.probe && s.forward.runId === s.run.id; }",
            timeout=20_000,
        )
        forward: dict[str, Any] = self.state("forward")
        return forward

    def click_link(self, layer: int, row: int, column: int) -> None:
        """A click on the link of weight W[layer][row][column] in the drawing, where no other
        link crosses it."""
        self.page.locator("#network").scroll_into_view_if_needed()
        at = self.page.evaluate(
            """([layer, row, column]) => {
                const path = document.querySelector(
                    `.link-hit[data-layer="${layer}"][data-row="${row}"][data-column="${column}"]`);
                const svg = path.ownerSVGElement.getBoundingClientRect();
                const length = path.getTotalLength();
                for (const share of [0.3, 0.2, 0.4, 0.25, 0.35, 0.15, 0.45, 0.1]) {
                    const point = path.getPointAtLength(share * length);
                    const [x, y] = [svg.left + point.x, svg.top + point.y];
                    if (document.elementFromPoint(x, y) === path) return {x, y};
                }
                return null;
            }""",
            [layer, row, column],
        )
        assert at is not None, f"no point of link {layer}/{row}/{column} that only it covers"
        self.page.mouse.click(at["x"], at["y"])

    # --- side by side and the sweep -------------------------------------------------------------

    def second(self, path: str) -> Any:
        """A value of run B's store, side by side: second("run.status")."""
        return self.page.evaluate(f"() => window.layerlab.second.state.{path}")

    def train_both_to_the_end(self) -> None:
        """Play, side by side: both runs train to their end."""
        self.page.click("#play")
        self.page.wait_for_function(
            "() => [window.layerlab.store, window.layerlab.second]"
            ".every((s) => s.state.run?.status === 'done' && s.state.run.finalMetrics)",
            timeout=60_000,
        )

    def sweep_to_the_end(self) -> dict[str, Any]:
        """Train all, in the sweep view: the sweep's document once it is done and every cell of
        the heatmap shows its number."""
        self.page.click("#sweep-start")
        self.page.wait_for_function(
            "() => window.layerlab.store.state.sweep?.status === 'done'", timeout=120_000
        )
        cells = self.page.locator(".sweep-cell")
        expect(cells).to_have_count(len(self.state("sweep.cells")))
        expect(self.page.locator('.sweep-cell[data-filled="false"]')).to_have_count(0)
        sweep: dict[str, Any] = self.state("sweep")
        return sweep

    def sweeps_on_the_server(self) -> bool:
        """Whether the server offers POST /api/sweeps (built beside the page, issue 16)."""
        found: bool = self.page.evaluate(
            "async () => '/api/sweeps' in (await (await fetch('/openapi.json')).json()).paths"
        )
        return found
