"""Suite-wide: one PyTorch thread (tiny tensors; a second thread only waits on the other core,
which the servers' workers use), the browser tests last, and `--executor ray` to run the service
and page tests against workers on a Ray cluster."""

import contextlib

import pytest
import torch

from service import TEST_SETTINGS

torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Playwright leaves an event loop running in the main thread once it has started, where
    later tests' `asyncio.run` would fail; so the e2e tests go after everything else."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="Where the test servers train runs: local worker processes, or actors on a Ray "
        "cluster of two nodes that the session starts on 127.0.0.1 (tests that kill worker "
        "processes assume local ones; run the service and page tests this way).",
    )


_cluster = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--executor") == "ray":
        from ray_cluster import ray_settings, two_node_cluster

        cluster, _ = _cluster.enter_context(two_node_cluster())
        TEST_SETTINGS.update(ray_settings(cluster.address))  # before any server reads them


def pytest_unconfigure(config: pytest.Config) -> None:
    _cluster.close()
