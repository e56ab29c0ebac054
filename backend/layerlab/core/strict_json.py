"""Strict JSON for numbers that may not be numbers: a diverged run's NaN and infinite losses."""

import math
from typing import Any


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float, however deep, replaced by None (JSON null).

    Python's json writes NaN and Infinity, which browsers' JSON.parse and most readers reject.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value
