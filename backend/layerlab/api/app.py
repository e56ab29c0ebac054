"""The application: wires settings, the engine, the routes and the static page together."""

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from layerlab import __version__
from layerlab.api import (
    code,
    datasets,
    lessons,
    metrics,
    room_stream,
    rooms,
    runs,
    stream,
    sweep_stream,
    sweeps,
    trained,
)
from layerlab.api.access import AccessLog
from layerlab.api.deps import SchedulerDep, SettingsDep
from layerlab.api.errors import install_error_handlers
from layerlab.api.limits import BodySizeLimit
from layerlab.api.origins import OriginPolicy
from layerlab.api.page_headers import PageHeaders
from layerlab.api.schemas import Health, Info
from layerlab.config import Settings, get_settings
from layerlab.core.activations import ACTIVATIONS
from layerlab.core.inference import EXPORT_FORMATS, onnx_available
from layerlab.core.spec import (
    DATASET_NAMES,
    FEATURES,
    MAX_LEARNING_RATE,
    OPTIMIZERS,
    REGULARIZATIONS,
)
from layerlab.engine.executors import executor_for
from layerlab.engine.hub import Hub
from layerlab.engine.rooms import Rooms
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import Store, claim_database
from layerlab.engine.sweeps import Sweeps

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

service = APIRouter(prefix="/api", tags=["service"])


@service.get(
    "/health",
    response_model=Health,
    summary="Whether the server and its workers are up: 'starting' until a worker can train",
)
async def health(scheduler: SchedulerDep) -> dict[str, Any]:
    """Always 200 while the server answers; `status` says "starting" while no worker has
    imported PyTorch and warmed up yet (a fresh server's first seconds, or every worker being
    replaced): runs are taken meanwhile and wait in the queue."""
    statuses, queued = scheduler.run_counts()
    workers = scheduler.executor_info().workers
    ready = sum(worker.ready for worker in workers)
    return {
        "status": "ok" if ready else "starting",
        "workers": len(workers),
        "workers_ready": ready,
        "active_runs": statuses.total(),
        "queued_runs": queued,
    }


@service.get("/info", response_model=Info, summary="Version, device, workers and every limit")
async def info(scheduler: SchedulerDep, settings: SettingsDep) -> dict[str, Any]:
    limit_names = (
        "max_hidden_layers", "max_width", "max_samples", "max_epochs", "max_grid_resolution",
        "max_active_runs_per_client", "max_runs_per_minute", "max_sweep_runs", "max_queued_runs",
        "max_uploads_per_hour", "max_upload_bytes_per_hour",
        "max_request_bytes", "max_predict_points", "max_ws_message_bytes", "max_wait_s",
        "idle_run_timeout_s", "retention_s",
        "room_ttl_s", "max_rooms", "max_learners_per_room", "max_name_chars",
    )  # fmt: skip
    formats = [f for f in EXPORT_FORMATS if f != "onnx" or onnx_available()]
    executor = scheduler.executor_info()
    return {
        "version": __version__,
        "device": ", ".join(sorted(set(executor.devices))),
        "workers": len(executor.workers),
        "runs_per_worker": settings.runs_per_worker,
        "executor": {
            "kind": executor.kind,
            "nodes": [dataclasses.asdict(node) for node in executor.nodes],
            "workers": [
                {"index": w.index, "node": w.node, "device": w.device, "runs": len(w.runs)}
                for w in executor.workers
            ],
            "restarts": executor.restarts,
        },
        "limits": {
            **{name: getattr(settings, name) for name in limit_names},
            "max_learning_rate": MAX_LEARNING_RATE,
        },
        "stream": {
            "metrics_frames_per_s": settings.metrics_frames_per_s,
            "grid_frames_per_s": settings.grid_frames_per_s,
            "slow_viewer_timeout_s": settings.slow_viewer_timeout_s,
            "time_slice_s": settings.time_slice_s,
            "room_frames_per_s": settings.room_frames_per_s,
        },
        "checkpoints": {
            "checkpoint_interval_s": settings.checkpoint_interval_s,
            "park_paused_after_s": settings.park_paused_after_s,
        },
        "choices": {
            "datasets": list(DATASET_NAMES),
            "features": list(FEATURES),
            "activations": list(ACTIVATIONS),
            "activation_symbols": {name: entry.symbol for name, entry in ACTIVATIONS.items()},
            "optimizers": list(OPTIMIZERS),
            "regularizations": list(REGULARIZATIONS),
        },
        "export_formats": formats,
    }


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    app.state.lessons = lessons.read_shelf(settings)  # a broken file is logged, never fatal
    claim = claim_database(settings.database)
    store = Store(settings.database)
    scheduler = Scheduler(settings, store, Hub(), executor_for(settings))
    app.state.scheduler = scheduler
    app.state.sweeps = Sweeps(scheduler)
    app.state.rooms = Rooms(scheduler)
    await scheduler.start()
    await app.state.rooms.start()
    try:
        yield
    finally:
        await app.state.rooms.stop()
        await scheduler.stop()
        store.close()
        if claim is not None:
            claim.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A LayerLab server configured by `settings`, by default the LAYERLAB_* variables."""
    settings = settings or get_settings()
    app = FastAPI(
        title="LayerLab",
        version=__version__,
        summary="Train small neural networks in PyTorch and watch them learn.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(OriginPolicy, allowed_origins=settings.allowed_origins)
    app.add_middleware(PageHeaders)
    app.state.requests = metrics.RequestCounts()
    app.add_middleware(AccessLog, counts=app.state.requests)  # outermost: sees every refusal
    app.include_router(service)
    app.include_router(runs.router)
    app.include_router(trained.router)
    app.include_router(datasets.router)
    app.include_router(code.router)
    app.include_router(sweeps.router)
    app.include_router(rooms.router)
    app.include_router(lessons.router)
    app.include_router(stream.router)
    app.include_router(sweep_stream.router)
    app.include_router(room_stream.router)
    app.include_router(metrics.router)

    @app.api_route("/plotly.min.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/", StaticFiles(directory=FRONTEND, html=True), name="frontend")  # last
    return app
