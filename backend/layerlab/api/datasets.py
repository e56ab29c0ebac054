"""REST routes of datasets: the built-in generators, previews of their points, CSV uploads."""

import re
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from layerlab.api.deps import ClientDep, SchedulerDep, SettingsDep
from layerlab.api.errors import ApiError
from layerlab.api.schemas import (
    WITH_BODY,
    DatasetPreview,
    DatasetPublic,
    UploadedDataset,
    refusals,
)
from layerlab.core.codegen import script_file_name
from layerlab.core.datasets import DATASETS, Dataset, DatasetError, load_csv, make_dataset
from layerlab.core.spec import DatasetSpec, describe_errors
from layerlab.engine.scheduler import Scheduler

router = APIRouter(prefix="/api/datasets", tags=["datasets"])
MAX_PAGE = 200  # uploads in one listing: a class's uploads of a week can run to thousands


@router.get("", summary="The built-in datasets and a page of the uploaded CSV files, newest first")
async def list_datasets(
    scheduler: SchedulerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Uploads per page.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Uploads to skip.")] = 0,
) -> dict[str, Any]:
    built_in = [
        DatasetPublic(
            name=info.name,
            task=info.task,
            title=info.title,
            description=info.description,
            extent=list(info.extent) if info.extent else None,
        ).model_dump()
        for info in DATASETS.values()
    ]
    return {
        "datasets": built_in,
        "uploads": scheduler.uploads(limit, offset),
        "uploads_total": scheduler.count_uploads(),
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/{dataset_id}/info",
    response_model=UploadedDataset,
    responses=refusals(404, reasons={404: "No such upload."}),
    summary="What an uploaded CSV holds: its name, task, rows, columns and classes",
)
async def upload_info(dataset_id: str, scheduler: SchedulerDep) -> dict[str, Any]:
    return _upload(scheduler, dataset_id)[0]


@router.get(
    "/{dataset_id}/file",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **refusals(404, reasons={404: "No such upload."}),
    },
    summary="An uploaded CSV as it was sent, as a download under its file name",
)
async def upload_file(dataset_id: str, scheduler: SchedulerDep) -> Response:
    meta, text = _upload(scheduler, dataset_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(meta["name"], dataset_id)},
    )


def _upload(scheduler: Scheduler, dataset_id: str) -> tuple[dict[str, Any], str]:
    upload = scheduler.upload(dataset_id)
    if upload is None:
        raise ApiError(404, f"no upload {dataset_id!r}: uploads are named by the id POST returned")
    return upload


def _attachment(name: str, dataset_id: str) -> str:
    """Content-Disposition under the name the code panel's script opens; for clients that read
    only the plain form, its safe ASCII letters."""
    saved = script_file_name(name, dataset_id)
    plain = re.sub(r"[^A-Za-z0-9._ -]", "_", saved).strip(" .") or f"{dataset_id}.csv"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(saved, safe='')}"


@router.get(
    "/{name}",
    response_model=DatasetPreview,
    responses=refusals(404, 422, reasons={404: "No such dataset or upload."}),
    summary="The points of a dataset (or an uploaded CSV's id), split as a run would split them",
)
async def preview_dataset(
    name: str,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    samples: Annotated[int, Query(ge=20)] = 1000,
    noise: Annotated[float, Query(ge=0, le=1)] = 0.2,
    train_fraction: Annotated[float, Query(ge=0.1, le=0.9)] = 0.8,
    seed: Annotated[int, Query(ge=0)] = 0,
    classes: Annotated[int, Query(ge=3, le=5)] = 3,
    label_column: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "samples": samples, "noise": noise, "train_fraction": train_fraction,
        "seed": seed, "classes": classes,
    }  # fmt: skip
    upload = scheduler.upload(name) if name not in DATASETS else None
    if name not in DATASETS and upload is None:
        known = ", ".join(n for n in DATASETS if n != "csv")
        raise ApiError(404, f"no dataset {name!r}; built in: {known}; or an uploaded CSV's id")
    if name == "csv":
        raise ApiError(404, "preview an uploaded CSV by the id its upload returned")
    if upload is not None:  # an upload: `name` is its id
        fields |= {"name": "csv", "source": name, "label_column": label_column}
    else:
        fields["name"] = name
    limits = settings.limits()
    try:
        spec = DatasetSpec.model_validate(fields, context={"limits": limits})
        if upload is not None:
            dataset = await run_in_threadpool(load_csv, upload[1], spec, limits)
        else:
            dataset = await run_in_threadpool(make_dataset, spec, limits)
    except ValidationError as error:
        raise ApiError(422, "; ".join(describe_errors(error))) from None
    except DatasetError as error:
        raise ApiError(422, str(error)) from None
    return _preview(dataset)


def _preview(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "task": dataset.task,
        "input_names": list(dataset.input_names),
        "class_names": list(dataset.class_names),
        "extent": list(dataset.extent) if dataset.extent else None,
        "train": {"x": dataset.x_train.tolist(), "y": dataset.y_train.tolist()},
        "test": {"x": dataset.x_test.tolist(), "y": dataset.y_test.tolist()},
    }


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadedDataset,
    responses={
        **WITH_BODY,
        **refusals(429, reasons={429: "This client uploaded too much this hour; see Retry-After."}),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "x,y,label\n"},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
    summary="Upload a CSV (header row, numeric feature columns, one label column), as the "
    "request body or as a form's one file (curl -F file=@data.csv)",
)
async def upload_dataset(
    request: Request,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    client: ClientDep,
    name: Annotated[
        str | None,
        Query(max_length=200, description="A name to show; a form's file name by default."),
    ] = None,
    label_column: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        body, file_name = await _form_file(request)
    else:
        body, file_name = await request.body(), None
    name = (name or file_name or "upload.csv")[:200]
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(422, "body: the CSV must be UTF-8 text") from None
    if not text.strip():
        raise ApiError(422, "body: empty; send the CSV file's text as the request body")
    dataset_id = "csv-" + secrets.token_hex(6)
    spec = DatasetSpec(name="csv", source=dataset_id, label_column=label_column)
    try:
        dataset = await run_in_threadpool(load_csv, text, spec, settings.limits())
    except DatasetError as error:  # name what the uploader sent: the body or a query parameter
        where = {"dataset.label_column": "label_column"}  # all else is about the table
        raise ApiError(422, f"{where.get(error.field, 'body')}: {error.message}") from None
    # counted once it is a CSV that will be kept: a refused file costs its uploader nothing
    scheduler.admit_upload(client, len(body))  # or Refused (429)
    info = {
        "task": dataset.task,
        "rows": len(dataset.y_train) + len(dataset.y_test),
        "input_names": list(dataset.input_names),
        "label_column": dataset.label_name,
        "class_names": list(dataset.class_names),
    }
    created_at = scheduler.add_upload(dataset_id, name, text, info)
    return {"id": dataset_id, "name": name, "created_at": created_at, **info}


async def _form_file(request: Request) -> tuple[bytes, str | None]:
    """The bytes and file name of a form's one file. The body is already bounded in size
    (LAYERLAB_MAX_REQUEST_BYTES); the form may hold nothing else of note."""
    try:
        form = await request.form(max_files=1, max_fields=10)
    except (HTTPException, MultiPartException) as error:
        detail = getattr(error, "detail", None) or getattr(error, "message", "")
        raise ApiError(422, f"body: not a readable multipart form ({detail})") from None
    files = [value for value in form.values() if isinstance(value, UploadFile)]
    if len(files) != 1:
        raise ApiError(422, "body: a form upload holds one file, e.g. curl -F file=@data.csv")
    try:
        return await files[0].read(), files[0].filename
    finally:
        await form.close()
