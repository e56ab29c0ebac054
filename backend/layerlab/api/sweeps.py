"""REST routes of sweeps: one base spec trained at every (depth, width) of two axes.

Each cell's run is an ordinary run (`/api/runs/{run_id}` reads it); the sweep's document
gathers their status and latest metrics, and `/ws/sweeps/{id}` (sweep_stream.py) streams them.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import PlainValidator

from layerlab.api.deps import ClientDep, SchedulerDep, SettingsDep, SweepsDep, TokenHeader
from layerlab.api.errors import ApiError
from layerlab.api.runs import SPEC_EXAMPLE, uploaded_csv, validate_body
from layerlab.api.schemas import SweepCreate, SweepCreated, SweepPublic, refusals
from layerlab.core.datasets import Dataset, DatasetError, make_dataset, model_inputs
from layerlab.core.limits import Limits
from layerlab.core.spec import RunSpec
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import SweepRecord
from layerlab.engine.sweeps import Sweeps

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

SWEEP_EXAMPLE = {"base": SPEC_EXAMPLE, "depths": [0, 1, 2, 3, 4], "widths": [2, 4, 8, 16, 32]}
SWEEP_REASONS = {
    404: "No sweep with this id.",
    409: "This client already has a sweep training (one at a time).",
    403: "The X-Run-Token is neither the sweep's token nor the admin token.",
}
# The body as it came, documented as a SweepCreate: `sweep_in_body` validates it (see runs.py).
AS_SENT = PlainValidator(lambda body: body, json_schema_input_type=SweepCreate)
EXAMPLES = Body(openapi_examples={"5x5": {"value": SWEEP_EXAMPLE}})


async def sweep_in_body(
    body: Annotated[Any, AS_SENT, EXAMPLES], settings: SettingsDep
) -> SweepCreate:
    """The body's SweepCreate, its base and axes validated against this server's limits."""
    return validate_body(SweepCreate, body, settings)


SweepBody = Annotated[SweepCreate, Depends(sweep_in_body)]


async def data_shape(
    scheduler: Scheduler, spec: RunSpec, limits: Limits
) -> tuple[tuple[str, int, int], str | None]:
    """((task, inputs, outputs), the CSV text for an upload): what each cell's parameter count
    and every run's worker need of the data."""
    upload = await uploaded_csv(scheduler, spec, limits)

    def shape(dataset: Dataset) -> tuple[str, int, int]:
        x_train, _ = model_inputs(dataset, spec)
        return dataset.task, int(x_train.shape[1]), dataset.n_outputs

    try:
        dataset = (
            upload.dataset
            if upload
            else await run_in_threadpool(make_dataset, spec.dataset, limits)
        )
        return await run_in_threadpool(shape, dataset), upload.text if upload else None
    except DatasetError as error:
        raise ApiError(422, f"base.{error.field}: {error.message}") from None


def sweep_view(sweeps: Sweeps, sweep_id: str) -> dict[str, Any]:
    document = sweeps.describe(sweep_id)
    if document is None:
        raise ApiError(404, f"no sweep with id {sweep_id!r}")
    return document


def owned(sweeps: Sweeps, sweep_id: str, token: str | None) -> SweepRecord:
    """The sweep, if `token` is its token (or the admin's): 404, 401 or 403 otherwise."""
    record = sweeps.record(sweep_id)
    if record is None:
        raise ApiError(404, f"no sweep with id {sweep_id!r}")
    if not token:
        raise ApiError(401, "controlling a sweep needs its token in the X-Run-Token header")
    if not sweeps.owner_matches(record, token):
        raise ApiError(403, "X-Run-Token is not this sweep's token (nor the admin token)")
    return record


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SweepCreated,
    responses=refusals(409, 413, 422, 429, 503, reasons=SWEEP_REASONS),
    summary="Train a base spec at every depth × width; its runs count per minute and in the "
    "queue, not among the client's active runs (LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT)",
)
async def create_sweep(
    sweep: SweepBody,
    sweeps: SweepsDep,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    client: ClientDep,
    response: Response,
) -> dict[str, Any]:
    base = sweep.base.model_copy(update={"hidden_widths": []})
    shape, csv_text = await data_shape(scheduler, base, settings.limits())
    # or Refused: the sweep's own (409, 422) or its client's and the server's (429, 503)
    document, token = sweeps.create(base, sweep.depths, sweep.widths, client, shape, csv_text)
    response.headers["Location"] = document["links"]["self"]
    return {**document, "token": token}


@router.get(
    "/{sweep_id}",
    response_model=SweepPublic,
    responses=refusals(404, 422, reasons=SWEEP_REASONS),
    summary="Read a sweep: every cell's run status and latest metrics",
)
async def get_sweep(sweep_id: str, sweeps: SweepsDep) -> dict[str, Any]:
    record = sweeps.record(sweep_id)
    if record is not None:
        sweeps.touch(record)
    return sweep_view(sweeps, sweep_id)


@router.post(
    "/{sweep_id}/cancel",
    response_model=SweepPublic,
    responses=refusals(401, 403, 404, 422, reasons=SWEEP_REASONS),
    summary="Cancel the sweep's runs that have not ended (its token)",
)
async def cancel_sweep(
    sweep_id: str, sweeps: SweepsDep, token: TokenHeader = None
) -> dict[str, Any]:
    await sweeps.cancel(owned(sweeps, sweep_id, token))
    return sweep_view(sweeps, sweep_id)


@router.delete(
    "/{sweep_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(401, 403, 404, 422, reasons=SWEEP_REASONS),
    summary="Delete a sweep and its runs, cancelling those that train (its token)",
)
async def delete_sweep(sweep_id: str, sweeps: SweepsDep, token: TokenHeader = None) -> Response:
    sweeps.delete(owned(sweeps, sweep_id, token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
