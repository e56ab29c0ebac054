"""RunSpec: the one description of a run, shared by the CLI, REST and websockets.

The bounds a server may change come from the `Limits` in the validation context
(`RunSpec.model_validate(data, context={"limits": limits})`); without one, the defaults hold.
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.datasets import DATASETS
from layerlab.core.features import DEFAULT_FEATURES, Feature
from layerlab.core.limits import UNLIMITED, limits_in

if TYPE_CHECKING:  # a type checker sees the names the registries hold as strings
    DatasetName = str
    ActivationName = str
else:  # the names as Literal: the same refusals, and the JSON schema's enum lists them
    DatasetName = Literal[tuple(DATASETS)]
    ActivationName = Literal[tuple(ACTIVATIONS)]
OptimizerName = Literal["sgd", "momentum", "adam"]
Regularization = Literal["none", "l1", "l2"]

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
FEATURES: tuple[str, ...] = get_args(Feature)
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
REGULARIZATIONS: tuple[str, ...] = get_args(Regularization)

MAX_SEED = 2**31 - 1
MAX_LEARNING_RATE = 10.0
MIN_EPOCHS_PER_S, MAX_EPOCHS_PER_S = 0.1, 1000.0  # a pace a learner can follow, up to none

# The rates and the pace a run starts with and may change to while it trains (PATCH): one set
# of bounds for both. NaN and infinity are named as such, not as out of range.
LearningRate = Annotated[float, Field(gt=0.0, le=MAX_LEARNING_RATE, allow_inf_nan=False)]
RegularizationRate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
EpochsPerS = Annotated[float, Field(ge=MIN_EPOCHS_PER_S, le=MAX_EPOCHS_PER_S, allow_inf_nan=False)]


def _at_most(value: int, limit: int, what: str, setting: str) -> int:
    if value > limit:
        raise PydanticCustomError(
            "limit",
            "at most {limit} {what} (the limit LAYERLAB_{setting} sets); got {value}",
            {"limit": limit, "what": what, "setting": setting, "value": value},
        )
    return value


class DatasetSpec(BaseModel):
    """Which data a run learns from, and how it is generated and split."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    name: DatasetName = Field("moons", description="Which dataset; see GET /api/datasets.")
    samples: int = Field(1000, ge=20, description="Points generated (train + test).")
    noise: float = Field(
        0.2, ge=0.0, le=1.0, allow_inf_nan=False, description="0 = clean, 1 = very noisy."
    )
    train_fraction: float = Field(
        0.8, ge=0.1, le=0.9, allow_inf_nan=False, description="Share of points for training."
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the data; same seed, same points.")
    classes: int = Field(3, ge=3, le=5, description="Number of classes (blobs only).")
    source: str | None = Field(
        None,
        max_length=4096,
        description="csv only: a file path (CLI) or an uploaded dataset's id.",
    )
    label_column: str | None = Field(
        None, max_length=200, description="csv only: the label column's name (default: the last)."
    )

    @field_validator("samples")
    @classmethod
    def _samples_within_limit(cls, samples: int, info: ValidationInfo) -> int:
        if info.data.get("name") == "csv":  # unused: its rows are its points, bounded as read
            return samples
        return _at_most(samples, limits_in(info.context).max_samples, "samples", "MAX_SAMPLES")

    @model_validator(mode="after")
    def _csv_needs_source(self) -> "DatasetSpec":
        if self.name == "csv" and not self.source:
            raise PydanticCustomError(
                "missing_source",
                "the csv dataset needs 'source': an uploaded CSV's id (POST /api/datasets), "
                "or on the command line a file path",
            )
        return self


class RunSpec(BaseModel):
    """Everything that decides a run: same spec, same data, same initial weights, same result."""

    # Defaults are checked too, so a server's tighter limits hold for them as well.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    # A dict default, validated like any input, so that its errors name `dataset.<field>`.
    dataset: DatasetSpec = Field(default={})  # type: ignore[assignment]
    features: list[Feature] = Field(
        default_factory=lambda: list(DEFAULT_FEATURES),
        min_length=1,
        description="Input features computed from the two coordinates (2-D datasets).",
    )
    hidden_widths: list[int] = Field(
        default_factory=lambda: [8, 8],
        description="Neurons in each hidden layer; [] is a linear (or logistic) model.",
    )
    activation: ActivationName = "relu"
    optimizer: OptimizerName = "adam"
    learning_rate: LearningRate = 0.01
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(100, ge=1)
    regularization: Regularization = "none"
    regularization_rate: RegularizationRate = 0.0
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="Seed of the initial weights and shuffling."
    )
    grid_resolution: int = Field(64, ge=8, description="Cells per side of the output grid.")
    # How fast, not what: neither changes a run's numbers, so runs of any pace share a stack.
    epochs_per_s: EpochsPerS | None = Field(
        None,
        description="Train at most this many epochs per second, a pace a learner can follow; "
        "null trains as fast as the server goes. The numbers are the same at any pace.",
    )
    until_paused: bool = Field(
        False,
        description="Train on until paused or cancelled, ignoring epochs: the server's "
        "LAYERLAB_MAX_EPOCHS still ends the run, and so does nobody watching it.",
    )

    @field_validator("features")
    @classmethod
    def _features_fit_dataset(cls, features: list[str], info: ValidationInfo) -> list[str]:
        repeated = sorted({f for f in features if features.count(f) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicate", "each feature once; repeated: {repeated}", {"repeated": repeated}
            )
        dataset = info.data.get("dataset")
        # A built-in table of fixed columns and no plane (features4); a CSV is checked as read.
        table = DATASETS[dataset.name] if dataset else None
        if table and table.inputs and not table.extent and tuple(features) != DEFAULT_FEATURES:
            raise PydanticCustomError(
                "features_not_2d",
                "input features are computed from 2-D points; '{name}' feeds its {inputs} "
                "columns as they are, so leave features at x1, x2",
                {"name": table.name, "inputs": table.inputs},
            )
        return features

    @field_validator("hidden_widths")
    @classmethod
    def _widths_within_limits(cls, widths: list[int], info: ValidationInfo) -> list[int]:
        limits = limits_in(info.context)
        _at_most(len(widths), limits.max_hidden_layers, "hidden layers", "MAX_HIDDEN_LAYERS")
        for width in widths:
            if width < 1:
                raise PydanticCustomError(
                    "too_small",
                    "each hidden layer needs at least 1 neuron; got {width}",
                    {"width": width},
                )
            _at_most(width, limits.max_width, "neurons per layer", "MAX_WIDTH")
        return widths

    @field_validator("batch_size")
    @classmethod
    def _batch_within_limit(cls, batch_size: int, info: ValidationInfo) -> int:
        limit = limits_in(info.context).max_samples
        return _at_most(batch_size, limit, "samples per batch", "MAX_SAMPLES")

    @field_validator("epochs")
    @classmethod
    def _epochs_within_limit(cls, epochs: int, info: ValidationInfo) -> int:
        return _at_most(epochs, limits_in(info.context).max_epochs, "epochs", "MAX_EPOCHS")

    @field_validator("grid_resolution")
    @classmethod
    def _grid_within_limit(cls, resolution: int, info: ValidationInfo) -> int:
        limit = limits_in(info.context).max_grid_resolution
        return _at_most(resolution, limit, "grid cells per side", "MAX_GRID_RESOLUTION")

    @property
    def depth(self) -> int:
        return len(self.hidden_widths)

    @property
    def penalized(self) -> bool:
        """Whether the spec adds a regularization term to the loss (a kind and a rate above 0)."""
        return self.regularization != "none" and self.regularization_rate > 0.0


def admitted_spec(data: dict[str, Any]) -> "RunSpec":
    """A spec the server has already admitted under its own limits (stored, or sent to a
    worker): read again without checking them, which may have changed or be another's."""
    return RunSpec.model_validate(data, context={"limits": UNLIMITED})


def describe_errors(error: ValidationError) -> list[str]:
    """One readable line per problem: `field.path: message (got value)`."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "spec"
        got = item.get("input")
        quoted = isinstance(got, dict | list) or got is None or "got " in item["msg"]
        shown = "" if quoted else f" (got {got!r})"
        lines.append(f"{where}: {item['msg']}{shown}")
    return lines
