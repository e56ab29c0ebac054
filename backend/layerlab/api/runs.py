"""REST routes of runs: create, read, control, predict, export."""

import functools
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import PlainValidator, ValidationError
from torch import nn

from layerlab.api.deps import ClientDep, SchedulerDep, SettingsDep, TokenHeader, require_owner
from layerlab.api.errors import ApiError
from layerlab.api.schemas import (
    OWNER_CONTROL,
    RUN_READ,
    MetricsPage,
    ModelPublic,
    PredictRequest,
    PredictResponse,
    RatesUpdate,
    RunCreated,
    RunList,
    RunPublic,
    refusals,
)
from layerlab.core.datasets import Dataset, DatasetError, load_csv, model_inputs
from layerlab.core.grids import Grid, grid_points
from layerlab.core.inference import (
    ExportFormat,
    export_model,
    hidden_outputs,
    load_model,
    model_inputs_for,
    onnx_available,
    predict,
)
from layerlab.core.limits import Limits
from layerlab.core.spec import DatasetSpec, RunSpec
from layerlab.core.summary import model_summary, model_weights, tensor_stats
from layerlab.core.training import RunStatus
from layerlab.engine.admission import AdmissionError
from layerlab.engine.reads import ControlError
from layerlab.engine.scheduler import Scheduler

router = APIRouter(prefix="/api/runs", tags=["runs"])

MAX_OFFSET = 10**9  # SQLite takes at most 2**63 - 1; a bound in the schema names the limit
NO_WEIGHTS = {409: "The run has no weights yet (queued), or kept none (diverged)."}
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
    try:
        limits = settings.limits()
        return RunSpec.model_validate(body, from_attributes=True, context={"limits": limits})
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
        "export": f"{base}/export",
    }


def _view(scheduler: Scheduler, run_id: str) -> dict[str, Any]:
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
    try:
        view, token = scheduler.create_run(spec, client, csv_text, paused)
    except AdmissionError as refusal:
        raise ApiError(
            refusal.status_code, refusal.message, {"Retry-After": str(refusal.retry_after_s)}
        ) from None
    response.headers["Location"] = f"/api/runs/{view['id']}"
    if wait:
        await scheduler.wait_until_ended(view["id"], settings.max_wait_s)
    return {**_view(scheduler, view["id"]), "token": token}


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
    return _view(scheduler, run_id)


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
    view = _view(scheduler, run_id)
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
    view = _view(scheduler, run_id)
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


async def _trained_model(
    scheduler: Scheduler, run_id: str
) -> tuple[nn.Sequential, dict[str, Any], dict[str, Any]]:
    """(model, run view, weights reply): the weights now, from its worker or from the store."""
    view = _view(scheduler, run_id)
    info = view.get("model_info")
    reply = await scheduler.current_weights(run_id) if info else None
    if info is None or reply is None:
        why = {
            "queued": "it has not started yet",
            "diverged": "its weights blew up (NaN); there is nothing to use",
        }.get(view["status"], f"it is {view['status']} and kept no weights")
        raise ApiError(409, f"run {run_id!r} has no trained model: {why}")
    spec_json = json.dumps(view["spec"], sort_keys=True)
    model = await run_in_threadpool(
        _loaded_model, spec_json, info["n_inputs"], info["n_outputs"], reply["weights"]
    )
    return model, view, reply


@functools.lru_cache(maxsize=128)
def _loaded_model(spec_json: str, n_inputs: int, n_outputs: int, weights: bytes) -> nn.Sequential:
    """The network with these weights, loaded once for the reads that ask for the same ones: the
    page asks for the model, the neuron maps and predictions together, and a paused run's weights
    stay the same. Callers only read it (a forward pass, a summary, an export)."""
    return load_model(_spec_of(json.loads(spec_json)), n_inputs, n_outputs, weights)


def _spec_of(data: dict[str, Any]) -> RunSpec:
    """The run's spec as stored, even if the server's limits have changed since."""
    dataset = DatasetSpec.model_construct(**data["dataset"])
    return RunSpec.model_construct(**{**data, "dataset": dataset})


@router.get(
    "/{run_id}/model",
    response_model=ModelPublic,
    responses=refusals(404, 409, 422, reasons=NO_WEIGHTS),
    summary="Layer summary, weights and per-tensor statistics",
)
async def get_model(run_id: str, scheduler: SchedulerDep) -> dict[str, Any]:
    model, view, reply = await _trained_model(scheduler, run_id)
    scheduler.touch(run_id)
    tensors = tensor_stats(model)
    for tensor in tensors:
        tensor["grad_norm"] = reply["gradient_norms"].get(tensor["name"])
    return {
        "run_id": run_id,
        "step": reply["step"],
        "summary": model_summary(model, view["model_info"]["n_inputs"]),
        "weights": model_weights(model),
        "tensors": tensors,
    }


@router.post(
    "/{run_id}/predict",
    response_model=PredictResponse,
    response_model_exclude_none=True,
    responses=refusals(404, 409, 413, 422, reasons=NO_WEIGHTS),
    summary="Predict on given points with the run's current weights",
)
async def predict_points(
    run_id: str, request: PredictRequest, scheduler: SchedulerDep, settings: SettingsDep
) -> dict[str, Any]:
    if len(request.points) > settings.max_predict_points:
        raise ApiError(
            422,
            f"points: at most {settings.max_predict_points} points per request "
            f"(LAYERLAB_MAX_PREDICT_POINTS); got {len(request.points)}",
        )
    model, view, reply = await _trained_model(scheduler, run_id)
    info = view["model_info"]
    width = len(info["input_names"])
    for index, point in enumerate(request.points):
        if len(point) != width:
            names = ", ".join(info["input_names"])
            raise ApiError(
                422, f"points[{index}]: expected {width} numbers ({names}); got {len(point)}"
            )
    spec = _spec_of(view["spec"])
    with np.errstate(over="ignore", invalid="ignore"):  # points too far out: refused below
        inputs = model_inputs_for(request.points, spec, is_2d=info["extent"] is not None)
    result = predict(model, inputs, info["task"])
    outputs = result.get("probabilities", result.get("values", []))
    for index, output in enumerate(outputs):
        if not np.isfinite(output).all():
            raise ApiError(
                422,
                f"points[{index}]: {request.points[index]} is too far out: the network's output "
                "there overflows float32 (about ±3.4e38); use smaller numbers",
            )
    class_names = info["class_names"] if info["task"] != "regression" else None
    return {"task": info["task"], "step": reply["step"], "class_names": class_names, **result}


@router.get(
    "/{run_id}/neurons",
    responses=refusals(
        404, 409, 422, reasons={409: "No weights yet, or the data has no plane to map."}
    ),
    summary="Each hidden neuron's output over the plane, encoded like the stream's grids",
)
async def get_neurons(
    run_id: str,
    scheduler: SchedulerDep,
    resolution: Annotated[int, Query(ge=4, le=64, description="Cells per side.")] = 24,
) -> dict[str, Any]:
    model, view, reply = await _trained_model(scheduler, run_id)
    extent = view["model_info"]["extent"]
    if extent is None:
        raise ApiError(409, f"run {run_id!r} has no neurons to map: its data has no 2-D plane")
    spec = _spec_of(view["spec"])
    inputs = model_inputs_for(grid_points(tuple(extent), resolution), spec, is_2d=True)
    step = reply["step"]
    layers = [
        {
            "layer": number,
            "neurons": [
                Grid(
                    step or 0, tuple(extent), "value", column.reshape(resolution, resolution)
                ).encode()
                for column in outputs.T.numpy()
            ],
        }
        for number, outputs in enumerate(hidden_outputs(model, inputs), start=1)
    ]
    return {"step": step, "extent": extent, "layers": layers}


def _control_route(action: Literal["pause", "resume", "step", "cancel"], summary: str) -> None:
    @router.post(
        f"/{{run_id}}/{action}",
        response_model=RunPublic,
        responses=OWNER_CONTROL,
        summary=summary,
        name=f"{action}_run",
    )
    async def control(
        run_id: str, scheduler: SchedulerDep, token: TokenHeader = None
    ) -> dict[str, Any]:
        require_owner(scheduler, run_id, token)
        scheduler.touch(run_id)
        try:
            await scheduler.control(run_id, action)
        except ControlError as error:
            raise ApiError(409, str(error)) from None
        return _view(scheduler, run_id)


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
    run_id: str, rates: RatesUpdate, scheduler: SchedulerDep, token: TokenHeader = None
) -> dict[str, Any]:
    require_owner(scheduler, run_id, token)
    try:
        scheduler.set_rates(run_id, rates.model_dump(exclude_none=True))
    except ControlError as error:
        raise ApiError(409, str(error)) from None
    return _view(scheduler, run_id)


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


@router.get(
    "/{run_id}/export",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The model file."},
        **refusals(404, 409, 422, reasons={409: "No weights, or ONNX is not installed."}),
    },
    response_class=Response,
    summary="Download the model: state dict, TorchScript or ONNX",
)
async def export_run(
    run_id: str,
    scheduler: SchedulerDep,
    format: Annotated[ExportFormat, Query(description="File format.")] = "state_dict",
) -> Response:
    if format == "onnx" and not onnx_available():
        raise ApiError(409, "format: onnx needs the onnx and onnxscript packages on the server")
    model, view, _ = await _trained_model(scheduler, run_id)
    data = await run_in_threadpool(export_model, model, view["model_info"]["n_inputs"], format)
    suffix = "onnx" if format == "onnx" else "pt"
    name = f"layerlab-{run_id}-{format}.{suffix}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
