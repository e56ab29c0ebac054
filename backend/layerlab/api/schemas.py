"""Request and response bodies of the REST API, named by role (RunCreate is the RunSpec itself),
and the refusals each route documents."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layerlab.core.spec import MAX_LEARNING_RATE


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, naming the field, the value and the limit.")
    detail: list[dict[str, Any]] | None = None


# --- the refusals each route documents, all in the ErrorBody shape ------------------------------
# Routes name the statuses they answer (`responses=refusals(404, 409)`), each with a sentence a
# route may sharpen (`refusals(404, reasons={404: "No such dataset."})`). A route with parameters
# lists 422 with this body, in place of FastAPI's validation-error schema, which errors.py never
# sends.

Responses = dict[int | str, dict[str, Any]]

REASONS: dict[int, str] = {
    401: "No X-Run-Token header.",
    403: "The X-Run-Token is neither the run's owner token nor the admin token.",
    404: "No run with this id.",
    409: "The run's state does not allow it.",
    413: "The body is larger than LAYERLAB_MAX_REQUEST_BYTES.",
    422: "A parameter or a field of the body is wrong or out of bounds; the error names it.",
    429: "This client has too many active runs, or created too many this minute; see Retry-After.",
    503: "The queue of runs waiting for a worker is full; see Retry-After.",
}


def refusals(*codes: int, reasons: dict[int, str] | None = None) -> Responses:
    """The OpenAPI `responses` of these refusal statuses, each with its reason."""
    reasons = {**REASONS, **(reasons or {})}
    unknown = [code for code in codes if code not in reasons]
    if unknown:
        raise ValueError(f"no reason written for status {unknown}; add one to REASONS")
    return {code: {"model": ErrorBody, "description": reasons[code]} for code in codes}


# What the routes of a run have in common.
RUN_READ = refusals(404, 422)  # 422: FastAPI checks every route's parameters
OWNER_CONTROL = refusals(401, 403, 404, 409, 422)
WITH_BODY = refusals(413, 422)


class RunPublic(BaseModel):
    """What anyone may read about a run (never its owner token)."""

    id: str
    status: str = Field(
        description="queued, running, paused, done, diverged, failed, cancelled or interrupted."
    )
    error: str | None = Field(None, description="A sentence a learner can act on.")
    spec: dict[str, Any] = Field(description="The RunSpec the run was created with.")
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    queue_position: int | None = Field(None, description="1 = next to start, while queued.")
    model_info: dict[str, Any] | None = Field(
        None, description="Task, inputs, classes, plane extent, steps and the layer summary."
    )
    final_metrics: dict[str, Any] | None = None
    has_weights: bool = False
    rates: dict[str, float] | None = Field(None, description="Rates changed while it trained.")
    links: dict[str, str] = Field(default_factory=dict)


class RunCreated(RunPublic):
    token: str = Field(description="The owner token: send it as X-Run-Token to control the run.")


class RunList(BaseModel):
    runs: list[RunPublic]
    total: int
    limit: int
    offset: int


class MetricsPage(BaseModel):
    run_id: str
    status: str
    points: list[dict[str, Any]] = Field(description="Metric points, oldest first.")


class RatesUpdate(BaseModel):
    """New rates for a run that is training, applied from its next step without a reset."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: float | None = Field(None, gt=0, le=MAX_LEARNING_RATE)
    regularization_rate: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _something(self) -> "RatesUpdate":
        if self.learning_rate is None and self.regularization_rate is None:
            raise ValueError("give learning_rate, regularization_rate or both")
        return self


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[list[float]] = Field(
        min_length=1,
        description="Raw input points, one list per point (x1, x2 for the 2-D datasets).",
        examples=[[[0.0, 0.5], [1.0, -0.5]]],
    )


class PredictResponse(BaseModel):
    task: Literal["binary", "multiclass", "regression"]
    step: int | None = Field(None, description="The training step of the weights used.")
    probabilities: list[float] | list[list[float]] | None = None
    classes: list[int] | None = None
    class_names: list[str] | None = None
    values: list[float] | None = None


class ModelPublic(BaseModel):
    run_id: str
    step: int | None
    summary: dict[str, Any] = Field(description="Layers: type, in/out, shapes, parameter counts.")
    weights: list[dict[str, Any]] | None = Field(
        None, description="Each linear layer's weight (out × in) and bias; none for large models."
    )
    tensors: list[dict[str, Any]] = Field(
        description="Per parameter tensor: shape, dtype, device, mean/std/min/max, grad norm."
    )


class Script(BaseModel):
    script: str = Field(description="A standalone PyTorch script: same data, init and batches.")


class DatasetPublic(BaseModel):
    name: str
    task: str | None
    title: str
    description: str
    extent: list[float] | None


class DatasetPreview(BaseModel):
    name: str
    task: str
    input_names: list[str]
    class_names: list[str]
    extent: list[float] | None
    train: dict[str, list[Any]] = Field(description="{'x': points, 'y': labels}")
    test: dict[str, list[Any]]


class UploadedDataset(BaseModel):
    id: str = Field(description="Use it as dataset.source with dataset.name 'csv'.")
    name: str
    created_at: float
    task: str
    rows: int
    input_names: list[str]
    label_column: str
    class_names: list[str]


class Health(BaseModel):
    status: Literal["ok"]
    workers: int
    active_runs: int
    queued_runs: int


class Choices(BaseModel):
    """The values a RunSpec's fields take, as the registries list them."""

    datasets: list[str]
    features: list[str]
    activations: list[str]
    activation_symbols: dict[str, str] = Field(
        description="How a neuron's formula writes each activation: ReLU(…), σ(…); '' for "
        "linear, whose formula is the bare sum."
    )
    optimizers: list[str]
    regularizations: list[str]


class Info(BaseModel):
    version: str
    device: str
    workers: int
    runs_per_worker: int
    limits: dict[str, Any]
    stream: dict[str, float]
    choices: Choices
    export_formats: list[str]
