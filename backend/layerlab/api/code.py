"""The PyTorch script for a spec: what the code panel shows beside the sliders."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from layerlab.api.deps import SchedulerDep, SettingsDep
from layerlab.api.errors import ApiError
from layerlab.api.runs import SpecBody, uploaded_csv
from layerlab.api.schemas import WITH_BODY, Script
from layerlab.core.codegen import generate_script
from layerlab.core.datasets import DatasetError
from layerlab.core.script_phrases import Language

router = APIRouter(prefix="/api", tags=["code"])


@router.post(
    "/code",
    response_model=Script,
    responses=WITH_BODY,
    summary="The standalone PyTorch script of this spec: on the CPU it ends exactly where "
    "`layerlab train --device cpu` does",
)
async def code_for_spec(
    spec: SpecBody,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    lang: Annotated[
        Language,
        Query(
            description="The language of the script's comments and printed messages: en "
            "(English) or es (Spanish). The code is the same."
        ),
    ] = "en",
) -> dict[str, Any]:
    upload = await uploaded_csv(scheduler, spec, settings.limits())
    try:
        script = await run_in_threadpool(
            generate_script,
            spec,
            upload.dataset if upload else None,
            upload_name=upload.meta["name"] if upload else None,
            language=lang,
        )
    except DatasetError as error:
        raise ApiError(422, str(error)) from None
    return {"script": script}
