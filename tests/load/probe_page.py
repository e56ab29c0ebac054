"""Measure the playground page while it trains: grids drawn per second, bytes received per second.

    python tests/load/probe_page.py --url http://127.0.0.1:8000 --seconds 10

Opens the page in Debian's Chromium (headless), presses play on a long moons run and reads the
page's own counters (`window.layerlab.stats`) at the start and the end of the window.
"""

import argparse

from playwright.sync_api import sync_playwright

FRAGMENT = "dataset=moons&samples=1000&hidden=8,8&lr=0.01&epochs=1000&lang=en"
COUNTERS = "({...window.layerlab.stats, now: performance.now()})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fragment", default=FRAGMENT, help="The page's URL hash: the setup.")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{args.url}/#{args.fragment}")
        page.click("#play")
        page.wait_for_function("() => window.layerlab.stats.gridsDrawn >= 2", timeout=30_000)
        start = page.evaluate(COUNTERS)
        page.wait_for_timeout(args.seconds * 1000)
        end = page.evaluate(COUNTERS)
        browser.close()
    elapsed_s = (end["now"] - start["now"]) / 1000
    for name, key, unit in (
        ("grids drawn", "gridsDrawn", "/ s"),
        ("frames received", "framesReceived", "/ s"),
        ("bytes received", "bytesReceived", "B / s"),
    ):
        print(f"{name:<16} {(end[key] - start[key]) / elapsed_s:10.1f} {unit}")


if __name__ == "__main__":
    main()
