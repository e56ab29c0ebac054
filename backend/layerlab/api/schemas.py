"""Request and response bodies of the REST API, named by role (RunCreate is the RunSpec itself),
and the refusals each route documents.

One module of declarations (about 650 lines): the OpenAPI document's shapes are found in one
place, the refusals beside them, and shapes several routes share (a run's, a spec's) need no
import between route modules."""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from layerlab.config import ExecutorKind
from layerlab.core.limits import limits_in
from layerlab.core.room_rules import unshowable
from layerlab.core.spec import EpochsPerS, LearningRate, RegularizationRate, RunSpec
from layerlab.core.sweep import axis_problem
from layerlab.core.weight_edit import MAX_HAND_WEIGHT

# A number JSON may carry as NaN or Infinity (Python's parser reads them): refused, by name.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


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
    rates: dict[str, float | None] | None = Field(
        None, description="Rates (and pace) changed while it trained; null: no pace."
    )
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
    """New rates or pace for a run that is training, applied from its next step without a
    reset."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: LearningRate | None = None
    regularization_rate: RegularizationRate | None = None
    epochs_per_s: EpochsPerS | None = Field(
        None,
        description="A new pace in epochs per second; null lifts the pace (as fast as it goes). "
        "Left out, the pace stays.",
    )

    @model_validator(mode="after")
    def _something(self) -> "RatesUpdate":
        if self.changes() == {}:
            raise ValueError("give learning_rate, regularization_rate, epochs_per_s or several")
        return self

    def changes(self) -> dict[str, float | None]:
        """What to change: the rates given, and the pace if given (null too: no pace)."""
        changes: dict[str, float | None] = self.model_dump(
            exclude_none=True, exclude={"epochs_per_s"}
        )
        if "epochs_per_s" in self.model_fields_set:
            changes["epochs_per_s"] = self.epochs_per_s
        return changes


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


class ForwardRequest(BaseModel):
    """One point to walk through the network: `point` on a 2-D plane, or the data's `features`."""

    model_config = ConfigDict(extra="forbid")

    point: list[FiniteFloat] | None = Field(
        None,
        description="x1, x2 on the data's plane (runs whose model_info.extent is not null), in "
        "the units of /predict's points.",
        examples=[[0.5, -0.25]],
    )
    features: list[FiniteFloat] | None = Field(
        None,
        description="The data's raw input columns (as many as model_info.input_names), for any "
        "run.",
    )

    @model_validator(mode="after")
    def _one_of_them(self) -> "ForwardRequest":
        if (self.point is None) == (self.features is None):
            raise PydanticCustomError(
                "one_of",
                "point, features: give exactly one of them; got {given}",
                {"given": "both" if self.point is not None else "neither"},
            )
        return self


class LayerPass(BaseModel):
    """One linear layer at work: output = activation(weight · input + bias)."""

    layer: int = Field(description="1-based over the linear layers; the last is the output.")
    kind: Literal["hidden", "output"]
    activation: str = Field(description="The hidden activation; sigmoid, softmax or identity.")
    weight: list[list[float]] = Field(description="(out, in), as PyTorch stores it.")
    bias: list[float]
    input: list[float] = Field(description="What the layer takes: h of the layer before.")
    pre_activation: list[float] = Field(description="weight · input + bias (logits at the end).")
    output: list[float] = Field(description="activation(pre_activation); at the end, as /predict.")


class NamedValues(BaseModel):
    names: list[str]
    values: list[float]


class ForwardPass(BaseModel):
    run_id: str
    step: int | None = Field(description="The training step of the weights used.")
    task: Literal["binary", "multiclass", "regression"]
    point: list[float] | None = Field(description="The point asked about, when one was given.")
    input: NamedValues = Field(description="The model's input vector, features computed.")
    layers: list[LayerPass]
    probabilities: list[float] | None = Field(
        description="binary: [p(class 1)]; multiclass: one per class (as /predict, one point)."
    )
    value: float | None = Field(description="regression: the predicted value.")
    predicted_class: int | None
    class_names: list[str] | None


class RocCurve(BaseModel):
    fpr: list[float]
    tpr: list[float]
    thresholds: list[float] = Field(description="Decreasing, clipped to [0, 1].")


class RocPublic(BaseModel):
    """What a decision threshold does on the test points, from the run's latest weights."""

    run_id: str
    step: int | None
    labels: list[int] = Field(description="Each test point's class (0 or 1).")
    scores: list[float] = Field(description="Each test point's p(class 1), as /predict gives.")
    points: list[list[float]] | None = Field(
        description="The test points (raw units) where the data has a 2-D plane."
    )
    roc: RocCurve
    auc: float = Field(description="Area under the ROC curve.")


class WeightUpdate(BaseModel):
    """One weight (or bias) of a paused run, set by hand; resuming trains on from it."""

    model_config = ConfigDict(extra="forbid")

    layer: int = Field(ge=1, description="1-based over the linear layers; the last is the output.")
    row: int = Field(ge=0, description="The neuron the weight feeds: its output index.")
    column: int | None = Field(ge=0, description="The input it weighs; null for the neuron's bias.")
    value: float = Field(
        ge=-MAX_HAND_WEIGHT, le=MAX_HAND_WEIGHT, allow_inf_nan=False, examples=[-0.5]
    )


class WeightSet(BaseModel):
    run_id: str
    step: int | None = Field(description="The run's step: setting a weight takes none.")
    layer: int
    row: int
    column: int | None
    value: float = Field(description="As the weights now hold it (float32).")


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


# --- lessons, in one language (the files hold both; see core/lessons.py) -----------------------
class LessonEntry(BaseModel):
    id: str = Field(description="The page's #lesson=<id>.")
    order: int
    course: str | None = Field(description="The course lesson it follows, e.g. '000'.")
    title: str
    summary: str
    steps: int = Field(description="How many steps it has.")


class LessonList(BaseModel):
    lessons: list[LessonEntry]


class ChoicePublic(BaseModel):
    text: str
    correct: bool
    why: str = Field(description="Shown when chosen: why it is right, or why it is wrong.")


class ChoiceQuestionPublic(BaseModel):
    kind: Literal["choice"]
    prompt: str
    choices: list[ChoicePublic] = Field(description="Exactly one is correct.")


class NumberQuestionPublic(BaseModel):
    kind: Literal["number"]
    prompt: str
    answer: float
    tolerance: float = Field(description="An answer within this of `answer` is right.")
    low: str = Field(description="Shown when the answer is too low.")
    high: str = Field(description="Shown when the answer is too high.")
    why: str = Field(description="Shown when the answer is right.")


class GoalCondition(BaseModel):
    metric: str = Field(description="e.g. test_acc, b.test_acc, weight:x1, status, features.")
    op: Literal[">=", "<=", "==", "has", "near"]
    value: float | str | list[str]
    within: float | None = Field(None, description="op near: |metric − value| ≤ within.")


class GoalPublic(BaseModel):
    text: str = Field(description="What to do.")
    all: list[GoalCondition] = Field(description="Met when every condition holds at once.")


class StepPublic(BaseModel):
    id: str
    title: str
    text: str = Field(description="Paragraphs split by a blank line; `code` and **bold**.")
    state: str = Field(description="The playground's address state the step sets.")
    question: (
        Annotated[ChoiceQuestionPublic | NumberQuestionPublic, Field(discriminator="kind")] | None
    ) = None
    goal: GoalPublic | None = None


class LessonPublic(BaseModel):
    id: str
    order: int
    course: str | None = None
    title: str
    summary: str
    steps: list[StepPublic]


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
    status: Literal["ok", "starting"] = Field(
        description="'starting' while no worker can train yet: runs wait in the queue."
    )
    workers: int
    workers_ready: int = Field(description="Workers that have started and warmed up.")
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


class NodePublic(BaseModel):
    id: str = Field(description="'local' for this machine, else the Ray node's id (shortened).")
    address: str
    cpus: float
    gpus: float
    alive: bool


class WorkerPublic(BaseModel):
    index: int
    node: str = Field(description="The id of the node it runs on.")
    device: str
    runs: int = Field(description="Runs it holds: training, paused, or starting.")


class ExecutorPublic(BaseModel):
    kind: ExecutorKind = Field(description="Where runs train (LAYERLAB_EXECUTOR).")
    nodes: list[NodePublic]
    workers: list[WorkerPublic]
    restarts: int = Field(description="Workers that died and were replaced since the start.")


class Info(BaseModel):
    version: str
    device: str
    workers: int
    runs_per_worker: int
    executor: ExecutorPublic
    limits: dict[str, Any]
    stream: dict[str, float]
    choices: Choices
    export_formats: list[str]


# --- sweeps -----------------------------------------------------------------------------------


class SweepCreate(BaseModel):
    """A base spec and two axes: every (depth, width) is a cell, `[width] * depth` its network."""

    model_config = ConfigDict(extra="forbid")

    base: RunSpec = Field(
        default_factory=RunSpec,
        description="Data, seeds and training settings of every run; hidden_widths is ignored.",
    )
    depths: list[int] = Field(description="Hidden layers, 0 to LAYERLAB_MAX_HIDDEN_LAYERS.")
    widths: list[int] = Field(description="Neurons per hidden layer, 1 to LAYERLAB_MAX_WIDTH.")

    @field_validator("depths", "widths")
    @classmethod
    def _axis(cls, values: list[int], info: ValidationInfo) -> list[int]:
        limits = limits_in(info.context)
        if info.field_name == "depths":
            bounds = (0, limits.max_hidden_layers, "LAYERLAB_MAX_HIDDEN_LAYERS")
        else:
            bounds = (1, limits.max_width, "LAYERLAB_MAX_WIDTH")
        problem = axis_problem(str(info.field_name), values, *bounds)
        if problem is not None:
            _, _, message = problem.partition(": ")  # the error's location names the field
            raise PydanticCustomError("sweep_axis", message)
        return values


class SweepCell(BaseModel):
    depth: int
    width: int
    hidden_widths: list[int]
    run_id: str = Field(description="The run that trains it: one run serves the depth-0 row.")
    parameters: int = Field(description="Trainable parameters of its network.")
    status: str = Field(description="Its run's status ('deleted' when the run was deleted).")
    epoch: float | None = None
    metrics: dict[str, float | None] | None = Field(
        None,
        description="train_loss, test_loss and train_acc/test_acc (train_rmse/test_rmse for "
        "regression): the run's latest point, final when it has ended.",
    )


class SweepPublic(BaseModel):
    """What anyone may read about a sweep (never its token)."""

    id: str
    status: str = Field(description="running until every run has ended; then done or cancelled.")
    task: str = Field(description="binary, multiclass or regression.")
    base: dict[str, Any]
    depths: list[int]
    widths: list[int]
    cells: list[SweepCell] = Field(description="Row by row: depths in order, widths in order.")
    created_at: float
    links: dict[str, str] = Field(default_factory=dict)


class SweepCreated(SweepPublic):
    token: str = Field(description="Cancels or deletes the sweep (X-Run-Token); keep it.")


# --- rooms ------------------------------------------------------------------------------------

ChallengeMetric = Literal[
    "test_acc", "train_acc", "test_rmse", "train_rmse", "test_loss", "train_loss"
]


class RoomLesson(BaseModel):
    """A lesson step as a room's setup."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=80, description="A lesson of /api/lessons.")
    step: int = Field(
        ge=1, le=1000, description="Its step, from 1: the room's runs start from its state."
    )


class RoomSetup(BaseModel):
    """What learners start from, and which of the page's controls they may not change."""

    model_config = ConfigDict(extra="forbid")

    spec: RunSpec = Field(
        default_factory=RunSpec, description="The run the learners' pages start from."
    )
    locked: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Control names (the page's hide= names) learners may not change; those "
        "that decide a spec field are checked on every run of the room.",
    )
    lesson: RoomLesson | None = Field(
        None,
        description="A lesson step the learners' pages open; without a `spec`, its state is "
        "the spec.",
    )


class Challenge(BaseModel):
    """A goal on a metric, and perhaps a limit on the network that reaches it."""

    model_config = ConfigDict(extra="forbid")

    metric: ChallengeMetric
    target: FiniteFloat = Field(
        description="Met when the metric is at least this (accuracy, 0 to 1) or at most this "
        "(RMSE, loss, 0 or more)."
    )
    max_parameters: int | None = Field(None, ge=1, le=10**9, description="At most this many.")
    max_hidden_layers: int | None = Field(
        None, ge=0, le=32, description="At most this many hidden layers; 0: none."
    )

    @model_validator(mode="after")
    def _target_in_range(self) -> "Challenge":
        if self.metric.endswith("_acc") and not 0.0 <= self.target <= 1.0:
            raise PydanticCustomError(
                "target",
                "target: an accuracy target is from 0 to 1; got {target}",
                {"target": self.target},
            )
        if not self.metric.endswith("_acc") and self.target < 0.0:
            raise PydanticCustomError(
                "target",
                "target: an RMSE or loss target is 0 or more; got {target}",
                {"target": self.target},
            )
        return self


def _showable_title(title: str | None) -> str | None:
    found = unshowable(title or "")
    if found:
        raise PydanticCustomError(
            "unshowable",
            "control characters are not allowed; found {found}",
            {"found": ", ".join(found)},
        )
    return title


ShowableTitle = Annotated[str | None, Field(max_length=80), AfterValidator(_showable_title)]


class RoomCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShowableTitle = None
    setup: RoomSetup = Field(default_factory=RoomSetup)
    challenge: Challenge | None = None


class RoomUpdate(BaseModel):
    """What the teacher changes; left out, it stays (a challenge of null clears it)."""

    model_config = ConfigDict(extra="forbid")

    title: ShowableTitle = None
    setup: RoomSetup | None = None
    challenge: Challenge | None = None
    frozen: bool | None = Field(
        None, description="true pauses every training run of the room; false resumes them."
    )

    @model_validator(mode="after")
    def _something(self) -> "RoomUpdate":
        if not self.model_fields_set:
            raise ValueError("give title, setup, challenge, frozen or several")
        return self


class RoomPublic(BaseModel):
    """What anyone may read about a room (never a token)."""

    code: str = Field(description="6 letters and digits, without 0/O or 1/I.")
    title: str | None
    setup: dict[str, Any]
    challenge: dict[str, Any] | None
    frozen: bool
    learners: int = Field(description="Learners in the room (not those who left).")
    max_learners: int
    version: int = Field(description="Bumps on every change of setup, challenge or frozen.")
    created_at: float
    expires_at: float
    you: dict[str, str] | None = Field(
        None,
        description="Who the X-Run-Token is in the room: {'role': 'teacher'}, or {'role': "
        "'learner', 'id', 'name'}; null for anyone else.",
    )
    links: dict[str, str]


class RoomCreated(RoomPublic):
    token: str = Field(description="The teacher token: send it as X-Run-Token; keep it.")


class LearnerJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=1000, description="The display name, unique in the room.")


class LearnerCreated(BaseModel):
    id: str
    name: str = Field(description="As the room shows it: whitespace trimmed and collapsed.")
    token: str = Field(description="The learner token: the owner token of their room runs.")


class LeaderboardEntry(BaseModel):
    rank: int
    learner_id: str
    name: str
    status: str = Field(description="training, paused, finished, diverged, waiting or left.")
    run_id: str | None = Field(description="The learner's best run.")
    metric: float | None
    met: bool
    met_at: float | None
    parameters: int | None
    hidden_widths: list[int] | None
    activation: str | None
    epoch: float | None


class Leaderboard(BaseModel):
    challenge: dict[str, Any] | None
    metric: str = Field(description="What entries are ranked by.")
    entries: list[LeaderboardEntry]
