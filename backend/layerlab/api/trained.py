"""REST routes of what a run's weights give: its model, predictions, a forward pass with its
numbers, the ROC curve of its test points, neuron maps, export."""

import functools
import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from torch import nn

from layerlab.api.deps import SchedulerDep, SettingsDep
from layerlab.api.errors import ApiError
from layerlab.api.runs import run_view
from layerlab.api.schemas import (
    ForwardPass,
    ForwardRequest,
    ModelPublic,
    PredictRequest,
    PredictResponse,
    RocPublic,
    refusals,
)
from layerlab.core.datasets import load_csv, make_dataset
from layerlab.core.grids import Grid, grid_points
from layerlab.core.inference import (
    ExportFormat,
    PointTooFarOut,
    explain_point,
    export_model,
    hidden_outputs,
    load_model,
    model_inputs_for,
    onnx_available,
    predict,
)
from layerlab.core.limits import UNLIMITED
from layerlab.core.spec import DatasetSpec, RunSpec
from layerlab.core.summary import model_summary, model_weights, tensor_stats
from layerlab.core.threshold import roc_of
from layerlab.engine.scheduler import Scheduler

router = APIRouter(prefix="/api/runs", tags=["runs"])
NO_WEIGHTS = {409: "The run has no weights yet (queued), or kept none (diverged)."}


async def _trained_model(
    scheduler: Scheduler, run_id: str
) -> tuple[nn.Sequential, dict[str, Any], dict[str, Any]]:
    """(model, run view, weights reply): the weights now, from its worker or from the store."""
    view = run_view(scheduler, run_id)
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


@router.post(
    "/{run_id}/forward",
    response_model=ForwardPass,
    responses=refusals(404, 409, 413, 422, reasons=NO_WEIGHTS),
    summary="Walk one point through the network layer by layer, with every number",
)
async def forward(run_id: str, request: ForwardRequest, scheduler: SchedulerDep) -> dict[str, Any]:
    model, view, reply = await _trained_model(scheduler, run_id)
    info, spec = view["model_info"], _spec_of(view["spec"])
    names, on_plane = info["input_names"], info["extent"] is not None
    if request.point is not None:
        if not on_plane:
            raise ApiError(
                422,
                f"point: run {run_id!r} has no 2-D plane; send its {len(names)} input columns "
                f"as features ({', '.join(names)})",
            )
        field, raw = "point", request.point
    else:
        field, raw = "features", request.features or []
    if len(raw) != len(names):
        raise ApiError(
            422, f"{field}: expected {len(names)} numbers ({', '.join(names)}); got {len(raw)}"
        )
    try:
        explained = explain_point(model, spec, raw, info["task"], names, on_plane)
    except PointTooFarOut as error:
        raise ApiError(422, f"{field}: {error}") from None
    classified = info["task"] != "regression"
    return {
        "run_id": run_id,
        "step": reply["step"],
        "task": info["task"],
        "point": raw if on_plane else None,
        **explained,
        "class_names": info["class_names"] if classified else None,
    }


@router.get(
    "/{run_id}/roc",
    response_model=RocPublic,
    responses=refusals(
        404, 409, 422, reasons={409: "No weights yet, not a binary task, or its data is gone."}
    ),
    summary="Labels and p(class 1) of the test points, their ROC curve and AUC",
)
async def get_roc(run_id: str, scheduler: SchedulerDep) -> dict[str, Any]:
    info = run_view(scheduler, run_id).get("model_info")
    if info is not None and info["task"] != "binary":
        raise ApiError(
            409,
            f"run {run_id!r} is a {info['task']} task: a decision threshold and its ROC curve "
            "are for binary classification (two classes)",
        )
    model, view, reply = await _trained_model(scheduler, run_id)
    scheduler.touch(run_id)
    spec, on_plane = _spec_of(view["spec"]), view["model_info"]["extent"] is not None
    x_test, y_test = await _test_split(scheduler, run_id, spec.dataset)
    scores = predict(model, model_inputs_for(x_test, spec, is_2d=on_plane), "binary")
    labels = y_test.astype(np.int64).tolist()
    try:
        roc = roc_of(labels, scores["probabilities"])
    except ValueError as error:
        raise ApiError(409, f"run {run_id!r} has no ROC curve: {error}") from None
    return {
        "run_id": run_id,
        "step": reply["step"],
        "labels": labels,
        "scores": scores["probabilities"],
        "points": x_test.tolist() if on_plane else None,
        "roc": {name: roc[name] for name in ("fpr", "tpr", "thresholds")},
        "auc": roc["auc"],
    }


async def _test_split(
    scheduler: Scheduler, run_id: str, dataset: DatasetSpec
) -> tuple[np.ndarray, np.ndarray]:
    """The run's test points and labels, made again from its spec (an upload, from the store)."""
    csv_text = None
    if dataset.name == "csv":
        upload = scheduler.upload(dataset.source or "")
        if upload is None:
            raise ApiError(409, f"run {run_id!r}'s uploaded data has been deleted")
        csv_text = upload[1]
    dataset_json = json.dumps(dataset.model_dump(mode="json"), sort_keys=True)
    return await run_in_threadpool(_test_points, dataset_json, csv_text)


@functools.lru_cache(maxsize=16)
def _test_points(dataset_json: str, csv_text: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(x_test, y_test) of a dataset spec, made once for the page's repeated reads (the data of a
    spec never changes). Callers only read them."""
    spec = DatasetSpec.model_construct(**json.loads(dataset_json))
    if csv_text is not None:
        data = load_csv(csv_text, spec, UNLIMITED)
    else:
        data = make_dataset(spec, UNLIMITED)
    return data.x_test, data.y_test


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
        raise ApiError(
            409,
            "format: onnx needs the onnx and onnxscript packages on the server "
            "(pip install 'layerlab[onnx]', or in a clone pip install -e '.[onnx]'); "
            "state_dict and torchscript need nothing more",
        )
    model, view, _ = await _trained_model(scheduler, run_id)
    data = await run_in_threadpool(export_model, model, view["model_info"]["n_inputs"], format)
    suffix = "onnx" if format == "onnx" else "pt"
    name = f"layerlab-{run_id}-{format}.{suffix}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
