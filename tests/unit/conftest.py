from collections.abc import Callable, Iterator

import pytest

from layerlab.config import get_settings


@pytest.fixture
def override_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set LAYERLAB_* variables for one test: override_settings(max_width=16)."""

    def override(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"LAYERLAB_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield override
    monkeypatch.undo()
    get_settings.cache_clear()
