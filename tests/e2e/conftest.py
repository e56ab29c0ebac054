"""The page in a real browser: Debian's Chromium driven by Playwright, against a real server."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playground import Playground
from playwright.sync_api import Page

from service import TEST_SETTINGS, LiveServer, serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

E2E_SETTINGS = {
    **TEST_SETTINGS,
    "workers": 1,
    "max_samples": 2000,  # a bound a test can exceed, to see the server's refusal on the page
    "checkpoint_interval_s": 0.5,  # a run killed mid-run has one to go on from
}


@pytest.fixture(scope="session", autouse=True)
def chromium_present() -> None:
    """Without Chromium the browser tests are skipped, except in CI, where they fail."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium rather than a downloaded one, headless and sandbox-free for CI."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "en-US"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """A server for one test module: its LAYERLAB_* values must not outlive the module."""
    with serve_in_thread(E2E_SETTINGS) as live:
        yield live


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def playground(page: Page, server: LiveServer) -> Playground:
    return Playground(page, server)
