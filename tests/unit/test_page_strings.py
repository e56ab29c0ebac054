"""The page's strings for what the registries list: every activation and dataset has its words
in both languages, and the two catalogues hold the same keys."""

import json
from pathlib import Path

import pytest

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.datasets.generated import GENERATED

I18N = Path(__file__).resolve().parents[2] / "frontend" / "i18n"
CATALOGUES = {lang: json.loads((I18N / f"{lang}.json").read_text()) for lang in ("en", "es")}


def test_both_languages_hold_the_same_keys() -> None:
    assert set(CATALOGUES["en"]) ^ set(CATALOGUES["es"]) == set()


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_activation_has_its_name_and_tip(lang: str) -> None:
    strings = CATALOGUES[lang]
    missing = [
        key
        for name in ACTIVATIONS
        for key in (f"activation.{name}", f"tip.activation.{name}")
        if not strings.get(key, "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_dataset_has_its_title_and_description(lang: str) -> None:
    strings = CATALOGUES[lang]
    missing = [
        key
        for name in (info.name for info in GENERATED)  # an upload is titled by its file
        for key in (f"dataset.{name}.title", f"dataset.{name}.description")
        if not strings.get(key, "").strip()
    ]
    assert missing == []
