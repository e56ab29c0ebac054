"""What routes depend on: the scheduler, the settings, who is asking, and whether they may."""

from typing import Annotated

from fastapi import Depends, Header, Request

from layerlab.api.errors import ApiError
from layerlab.config import Settings
from layerlab.engine.rooms import Rooms
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.sweeps import Sweeps


def get_scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


def get_sweeps(request: Request) -> Sweeps:
    sweeps: Sweeps = request.app.state.sweeps
    return sweeps


def get_rooms(request: Request) -> Rooms:
    rooms: Rooms = request.app.state.rooms
    return rooms


def get_settings_of_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_of(request: Request) -> str:
    """Who is asking, for per-client limits: the peer address, or the address a trusted proxy
    names in X-Forwarded-For (LAYERLAB_FORWARDED_ALLOW_IPS; uvicorn reads the header)."""
    return request.client.host if request.client else "unknown"


SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]
SweepsDep = Annotated[Sweeps, Depends(get_sweeps)]
RoomsDep = Annotated[Rooms, Depends(get_rooms)]
SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]
ClientDep = Annotated[str, Depends(client_of)]
TokenHeader = Annotated[
    str | None,
    Header(alias="X-Run-Token", description="The owner token POST /api/runs returned."),
]


def require_owner(scheduler: Scheduler, run_id: str, token: str | None) -> None:
    """401 without a token, 403 with the wrong one: nobody stops another learner's run."""
    if scheduler.describe(run_id) is None:
        raise ApiError(404, f"no run with id {run_id!r}")
    if not token:
        raise ApiError(401, "controlling a run needs its owner token in the X-Run-Token header")
    if not scheduler.owner_matches(run_id, token):
        raise ApiError(403, "X-Run-Token is not this run's owner token (nor the admin token)")
