"""REST routes of runs: create, list, read, control, delete; their metrics and grids.

What a run's weights give (model, predict, neurons, export) is in trained.py."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, PlainValidator, ValidationError

from layerlab.api.deps import (
    ClientDep,
    RoomsDep,
    SchedulerDep,
    SettingsDep,
    TokenHeader,
    require_owner,
)
from layerlab.api.errors import ApiError
from layerlab.api.schemas import (
    OWNER_CONTROL,
    RUN_READ,
    MetricsPage,
    RatesUpdate,
    RunCreated,
    RunList,
    RunPublic,
    WeightSet,
    WeightUpdate,
    refusals,
)
from layerlab.config import Settings
from layerlab.core.datasets import Dataset, DatasetError, load_csv, model_inputs
from layerlab.core.limits import Limits
from layerlab.core.spec import RunSpec
from layerlab.core.training import RunStatus
from layerlab.engine.reads import ControlError
from layerlab.engine.scheduler import Scheduler

router = APIRouter(prefix="/api/runs", tags=["runs"])
Model = TypeVar("Model", bound=BaseModel)

MAX_OFFSET = 10**9  # SQLite takes at most 2**63 - 1; a bound in the schema names the limit
SPEC_EXAMPLE = {
    "dataset": {"name": "moons", "samples": 500, "noise": 0.2},
    "hidden_widths": [8, 8],
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.01,
    "epochs": 50,
}


# The body as it came (parsed JSON), documented as a RunSpec: `spec_in_body` validates it.
AS_SENT = PlainValidator(lambda body: body, json_schema_input_type=RunSpec)


async def spec_in_body(
    body: Annotated[Any, AS_SENT, Body(openapi_examples={"moons": {"value": SPEC_EXAMPLE}})],
    settings: SettingsDep,
) -> RunSpec:
    """The body's RunSpec, validated against this server's limits (LAYERLAB_MAX_*).

    FastAPI validates a body without a validation context, so it hands this one on as it came,
    and it is validated here as FastAPI would (`from_attributes`), with the limits in the
    context: a refusal is the same 422, each error placed under `body`.
    """
    return validate_body(RunSpec, body, settings)


def validate_body(model: type[Model], body: Any, settings: Settings) -> Model:
    """`body` validated as `model` against the server's limits; a refusal is FastAPI's 422,
    each error placed under `body`."""
    try:
        limits = settings.limits()
        return model.model_validate(body, from_attributes=True, context={"limits": limits})
    except ValidationError as error:
        errors = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


SpecBody = Annotated[RunSpec, Depends(spec_in_body)]


def _links(run_id: str) -> dict[str, str]:
    base = f"/api/runs/{run_id}"
    return {
        "self": base,
        "stream": f"/ws/runs/{run_id}",
        "metrics": f"{base}/metrics",
        "grid": f"{base}/grid",
        "model": f"{base}/model",
        "predict": f"{base}/predict",
        "forward": f"{base}/forward",
        "roc": f"{base}/roc",
        "weights": f"{base}/weights",
        "export": f"{base}/export",
    }


def run_view(scheduler: Scheduler, run_id: str) -> dict[str, Any]:
    view = scheduler.describe(run_id)
    if view is None:
        raise ApiError(404, f"no run with id {run_id!r}")
    return {**view, "links": _links(run_id)}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RunCreated,
    responses=refusals(413, 422, 429, 503),
    summary="Create a run; with ?wait=true, answer when it has ended",
)
async def create_run(
    spec: SpecBody,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    client: ClientDep,
    response: Response,
    wait: Annotated[bool, Query(description="Answer when the run has ended.")] = False,
    paused: Annotated[bool, Query(description="Start paused, to step it by hand.")] = False,
) -> dict[str, Any]:
    upload = await uploaded_csv(scheduler, spec, settings.limits())
    csv_text = upload.text if upload else None
    view, token = scheduler.create_run(spec, client, csv_text, paused)  # or Refused (429, 503)
    response.headers["Location"] = f"/api/runs/{view['id']}"
    if wait:
        await scheduler.wait_until_ended(view["id"], settings.max_wait_s)
    return {**run_view(scheduler, view["id"]), "token": token}


@dataclass(frozen=True)
class Upload:
    meta: dict[str, Any]  # {"id", "name", "created_at", **info}, as the store keeps it
    text: str
    dataset: Dataset


async def uploaded_csv(scheduler: Scheduler, spec: RunSpec, limits: Limits) -> Upload | None:
    """The upload a csv spec names, as stored and parsed, checked against the spec and the
    server's limits (else 422)."""
    if spec.dataset.name != "csv":
        return None
    found = scheduler.upload(spec.dataset.source or "")
    if found is None:
        raise ApiError(
            422,
            f"dataset.source: no uploaded dataset with id {spec.dataset.source!r}; "
            "upload the CSV with POST /api/datasets and use the id it returns",
        )
    meta, text = found

    def parse() -> Dataset:
        dataset = load_csv(text, spec.dataset, limits)
        model_inputs(dataset, spec)  # features that do not apply to it are refused here
        return dataset

    try:
        return Upload(meta, text, await run_in_threadpool(parse))
    except DatasetError as error:
        raise ApiError(422, str(error)) from None


@router.get("", response_model=RunList, responses=refusals(422), summary="List runs, newest first")
async def list_runs(
    scheduler: SchedulerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
) -> dict[str, Any]:
    wanted = status.value if status else None
    views = scheduler.list_runs(limit, offset, wanted)
    return {
        "runs": [{**view, "links": _links(view["id"])} for view in views],
        "total": scheduler.count_runs(wanted),
        "limit": limit,
        "offset": offset,
    }


@router.get("/{run_id}", response_model=RunPublic, responses=RUN_READ, summary="Read a run")
async def get_run(run_id: str, scheduler: SchedulerDep) -> dict[str, Any]:
    scheduler.touch(run_id)
    return run_view(scheduler, run_id)


@router.get(
    "/{run_id}/metrics",
    response_model=MetricsPage,
    responses=RUN_READ,
    summary="The run's metric history (poll with since_step)",
)
async def get_metrics(
    run_id: str,
    scheduler: SchedulerDep,
    since_step: Annotated[int, Query(ge=0, description="Only points after this step.")] = 0,
) -> dict[str, Any]:
    view = run_view(scheduler, run_id)
    scheduler.touch(run_id)
    points = scheduler.history(run_id) or []
    if since_step:
        points = [point for point in points if point["step"] > since_step]
    return {"run_id": run_id, "status": view["status"], "points": points}


@router.get(
    "/{run_id}/grid",
    responses=refusals(404, 422, reasons={404: "No run with this id, or no grid from it yet."}),
    summary="The latest decision-boundary grid, encoded as on the websocket",
)
async def get_grid(run_id: str, scheduler: SchedulerDep) -> dict[str, Any]:
    view = run_view(scheduler, run_id)
    scheduler.touch(run_id)
    grid = scheduler.latest_grid(run_id)
    if grid is None:
        info = view.get("model_info")
        why = (
            "its data has no 2-D plane to draw"
            if info and info.get("extent") is None
            else "it has not reported one yet"
        )
        raise ApiError(404, f"run {run_id!r} has no grid: {why}")
    return {"type": "grid", **grid}


def _control_route(action: Literal["pause", "resume", "step", "cancel"], summary: str) -> None:
    @router.post(
        f"/{{run_id}}/{action}",
        response_model=RunPublic,
        responses=OWNER_CONTROL,
        summary=summary,
        name=f"{action}_run",
    )
    async def control(
        run_id: str, scheduler: SchedulerDep, rooms: RoomsDep, token: TokenHeader = None
    ) -> dict[str, Any]:
        require_owner(scheduler, run_id, token)
        scheduler.touch(run_id)
        rooms.check_control(run_id, action)  # a room's run waits for its teacher's resume
        try:
            await scheduler.control(run_id, action)
        except ControlError as error:
            raise ApiError(409, str(error)) from None
        return run_view(scheduler, run_id)


_control_route("pause", "Pause a run (owner token)")
_control_route("resume", "Resume a paused run (owner token)")
_control_route("step", "Take one training step while paused (owner token)")
_control_route("cancel", "Stop a run for good, keeping its weights (owner token)")


@router.patch(
    "/{run_id}",
    response_model=RunPublic,
    responses={**OWNER_CONTROL, **refusals(413)},
    summary="Change the learning or regularization rate while it trains (owner token)",
)
async def update_rates(
    run_id: str,
    rates: RatesUpdate,
    scheduler: SchedulerDep,
    rooms: RoomsDep,
    token: TokenHeader = None,
) -> dict[str, Any]:
    require_owner(scheduler, run_id, token)
    rooms.check_rates(run_id, rates.changes())  # a room's run keeps its locks
    try:
        scheduler.set_rates(run_id, rates.changes())
    except ControlError as error:
        raise ApiError(409, str(error)) from None
    return run_view(scheduler, run_id)


@router.patch(
    "/{run_id}/weights",
    response_model=WeightSet,
    responses={**OWNER_CONTROL, **refusals(413)},
    summary="Set one weight or bias of a paused run by hand (owner token)",
)
async def set_weight(
    run_id: str, update: WeightUpdate, scheduler: SchedulerDep, token: TokenHeader = None
) -> dict[str, Any]:
    require_owner(scheduler, run_id, token)
    view = run_view(scheduler, run_id)
    if view["status"] != "paused" or not view.get("model_info"):
        raise ApiError(409, f"run {run_id!r} is {view['status']}: weights are set while paused")
    address = weight_address(update, view["model_info"]["summary"])
    scheduler.touch(run_id)
    try:
        held = await scheduler.set_weight(run_id, address, update.value)
    except ControlError as error:
        raise ApiError(409, str(error)) from None
    return {"run_id": run_id, **update.model_dump(exclude={"value"}), **held}


def weight_address(update: WeightUpdate, summary: dict[str, Any]) -> tuple[int, int, int | None]:
    """(layer, row, column) checked against the network's shapes; 422 naming what is out of
    range, and the range."""
    shapes = [layer["weight_shape"] for layer in summary["layers"] if "weight_shape" in layer]
    if update.layer > len(shapes):
        raise ApiError(
            422,
            f"layer: this network has {len(shapes)} layers of weights, 1 to {len(shapes)} (the "
            f"last is the output layer); got {update.layer}",
        )
    out_features, in_features = shapes[update.layer - 1]
    if update.row >= out_features:
        raise ApiError(
            422,
            f"row: layer {update.layer} has {out_features} neurons, rows 0 to "
            f"{out_features - 1}; got {update.row}",
        )
    if update.column is not None and update.column >= in_features:
        raise ApiError(
            422,
            f"column: layer {update.layer} takes {in_features} inputs, columns 0 to "
            f"{in_features - 1} (or null for the bias); got {update.column}",
        )
    return update.layer, update.row, update.column


@router.delete(
    "/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(401, 403, 404, 422),
    summary="Delete a run and its weights, cancelling it if it trains (owner token)",
)
async def delete_run(run_id: str, scheduler: SchedulerDep, token: TokenHeader = None) -> Response:
    require_owner(scheduler, run_id, token)
    scheduler.delete(run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
