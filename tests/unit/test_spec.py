from typing import Any

import pytest
from pydantic import ValidationError

from layerlab.config import Settings
from layerlab.core.activations import ACTIVATIONS
from layerlab.core.datasets import DATASETS
from layerlab.core.limits import DEFAULT_LIMITS, UNLIMITED, Limits
from layerlab.core.spec import DATASET_NAMES, MAX_SEED, RunSpec, describe_errors


def errors_for(data: dict[str, Any], limits: Limits | None = None) -> list[str]:
    """The spec's errors, validated against `limits` (as a server does), or with no context."""
    context = None if limits is None else {"limits": limits}
    with pytest.raises(ValidationError) as caught:
        RunSpec.model_validate(data, context=context)
    return describe_errors(caught.value)


def test_defaults_are_the_classic_moons_run() -> None:
    spec = RunSpec()
    assert spec.dataset.name == "moons"
    assert spec.hidden_widths == [8, 8]
    assert spec.activation == "relu"
    assert spec.optimizer == "adam"
    assert spec.depth == 2


def test_every_dataset_name_has_a_registry_entry() -> None:
    assert set(DATASET_NAMES) == set(DATASETS)


def test_the_spec_takes_the_registries_names_and_its_schema_lists_them() -> None:
    schema = RunSpec.model_json_schema()
    assert schema["properties"]["activation"]["enum"] == list(ACTIVATIONS)
    assert schema["$defs"]["DatasetSpec"]["properties"]["name"]["enum"] == list(DATASETS)
    for name in ACTIVATIONS:
        assert RunSpec.model_validate({"activation": name}).activation == name


# Each case: a spec fragment just past a bound, and the field path the message must name.
JUST_PAST_BOUNDS = [
    ({"dataset": {"samples": 19}}, "dataset.samples"),
    ({"dataset": {"samples": 5001}}, "dataset.samples"),
    ({"dataset": {"noise": -0.001}}, "dataset.noise"),
    ({"dataset": {"noise": 1.001}}, "dataset.noise"),
    ({"dataset": {"train_fraction": 0.099}}, "dataset.train_fraction"),
    ({"dataset": {"train_fraction": 0.901}}, "dataset.train_fraction"),
    ({"dataset": {"seed": -1}}, "dataset.seed"),
    ({"dataset": {"seed": MAX_SEED + 1}}, "dataset.seed"),
    ({"dataset": {"classes": 2}}, "dataset.classes"),
    ({"dataset": {"classes": 6}}, "dataset.classes"),
    ({"dataset": {"name": "csv"}}, "dataset"),
    ({"dataset": {"name": "mnist"}}, "dataset.name"),
    ({"hidden_widths": [8] * 9}, "hidden_widths"),
    ({"hidden_widths": [129]}, "hidden_widths"),
    ({"hidden_widths": [8, 0]}, "hidden_widths"),
    ({"features": []}, "features"),
    ({"features": ["x1", "x1"]}, "features"),
    ({"features": ["x3"]}, "features.0"),
    ({"activation": "softmax"}, "activation"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": 10.001}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 5001}, "batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1001}, "epochs"),
    ({"regularization": "l3"}, "regularization"),
    ({"regularization_rate": -0.001}, "regularization_rate"),
    ({"regularization_rate": 1.001}, "regularization_rate"),
    ({"grid_resolution": 7}, "grid_resolution"),
    ({"grid_resolution": 129}, "grid_resolution"),
    ({"seed": -1}, "seed"),
    ({"seed": MAX_SEED + 1}, "seed"),
    ({"dataset": {"name": "features4"}, "features": ["x1", "x2", "x1_x2"]}, "features"),
    ({"hidden_layers": [8]}, "hidden_layers"),
    ({"learning_rate": "fast"}, "learning_rate"),
]


@pytest.mark.parametrize(("fragment", "field"), JUST_PAST_BOUNDS)
def test_value_just_past_each_bound_is_rejected_naming_the_field(
    fragment: dict[str, Any], field: str
) -> None:
    lines = errors_for(fragment)
    assert len(lines) == 1
    assert lines[0].startswith(f"{field}: ")


@pytest.mark.parametrize(
    "fragment",
    [
        {"dataset": {"samples": 20}},
        {"dataset": {"samples": 5000}},
        {"dataset": {"noise": 0.0, "train_fraction": 0.1}},
        {"dataset": {"noise": 1.0, "train_fraction": 0.9, "classes": 5}},
        {"hidden_widths": [128] * 8},
        {"hidden_widths": []},
        {"learning_rate": 10.0, "batch_size": 5000, "epochs": 1000},
        {"regularization_rate": 1.0, "grid_resolution": 128, "seed": MAX_SEED},
    ],
)
def test_values_on_each_bound_are_accepted(fragment: dict[str, Any]) -> None:
    RunSpec.model_validate(fragment)


def test_limit_messages_quote_the_limit_the_value_and_the_setting() -> None:
    (line,) = errors_for({"hidden_widths": [8] * 9})
    assert "at most 8 hidden layers" in line
    assert line.count("got") == 1
    assert "LAYERLAB_MAX_HIDDEN_LAYERS" in line
    assert "got 9" in line


def test_a_server_can_tighten_the_bounds() -> None:
    tight = Limits(max_width=16, max_hidden_layers=3, max_samples=500, max_epochs=50)
    fits = {"dataset": {"samples": 500}, "epochs": 50}
    RunSpec.model_validate({**fits, "hidden_widths": [16, 16, 16]}, context={"limits": tight})
    assert errors_for({**fits, "hidden_widths": [17]}, tight)[0].startswith(
        "hidden_widths: at most 16"
    )
    assert errors_for({**fits, "hidden_widths": [4] * 4}, tight)[0].startswith(
        "hidden_widths: at most 3"
    )
    assert errors_for({**fits, "dataset": {"samples": 501}}, tight)[0].startswith(
        "dataset.samples: at most 500"
    )
    assert errors_for({**fits, "epochs": 51}, tight)[0].startswith("epochs: at most 50")


def test_a_server_can_loosen_the_bounds_and_without_limits_the_defaults_hold() -> None:
    loose = Limits(max_width=256, max_epochs=5000)
    beyond = {"hidden_widths": [200], "epochs": 4000}
    spec = RunSpec.model_validate(beyond, context={"limits": loose})
    assert spec.hidden_widths == [200] and spec.epochs == 4000
    assert errors_for(beyond) == errors_for(beyond, DEFAULT_LIMITS)
    assert [line.split(":")[0] for line in errors_for(beyond)] == ["hidden_widths", "epochs"]
    assert RunSpec.model_validate(beyond, context={"limits": UNLIMITED}) == spec  # admitted


def test_settings_give_the_limits_validation_takes() -> None:
    settings = Settings(max_width=16, max_hidden_layers=3, max_samples=500, max_epochs=50)
    assert settings.limits() == Limits(
        max_hidden_layers=3, max_width=16, max_samples=500, max_epochs=50,
        max_grid_resolution=DEFAULT_LIMITS.max_grid_resolution,
    )  # fmt: skip
    assert Settings().limits() == DEFAULT_LIMITS


def test_defaults_past_a_tightened_limit_are_refused_not_trained() -> None:
    (line,) = errors_for({}, Limits(max_samples=500))
    assert line == (
        "dataset.samples: at most 500 samples (the limit LAYERLAB_MAX_SAMPLES sets); got 1000"
    )


def test_a_csv_spec_takes_any_samples_its_rows_decide() -> None:
    tight = Limits(max_samples=500)
    spec = RunSpec.model_validate(
        {"dataset": {"name": "csv", "source": "csv-0123456789ab"}}, context={"limits": tight}
    )
    assert spec.dataset.samples == 1000  # the default, unused: a CSV's rows are its points
    assert errors_for({"dataset": {"name": "moons"}}, tight)[0].startswith(
        "dataset.samples: at most 500"
    )


def test_spec_round_trips_through_json() -> None:
    spec = RunSpec.model_validate(
        {"dataset": {"name": "blobs", "classes": 4}, "hidden_widths": [4], "regularization": "l2"}
    )
    assert RunSpec.model_validate_json(spec.model_dump_json()) == spec
