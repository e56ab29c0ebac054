"""Suite-wide: one PyTorch thread (tiny tensors; a second thread only waits on the other core,
which the servers' workers use), and the browser tests last."""

import pytest
import torch

torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Playwright leaves an event loop running in the main thread once it has started, where
    later tests' `asyncio.run` would fail; so the e2e tests go after everything else."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/"))
