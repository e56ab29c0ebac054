"""REST routes of teachers' rooms: open, read, change and close a room; learners join it and
create their runs in it; its leaderboard, results and join QR code.

A learner's run is an ordinary run owned by the learner's token (`/api/runs/{id}` controls it);
`/ws/rooms/{code}` (room_stream.py) is the teacher's wall. The routes (about 400 lines) stay
together, as runs.py's do: they share the teacher's and the learner's token checks and the
refusals they document.
"""

import csv
import datetime
import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import PlainValidator

from layerlab.api.deps import RoomsDep, SchedulerDep, SettingsDep, TokenHeader
from layerlab.api.errors import ApiError
from layerlab.api.lessons import LessonsDep
from layerlab.api.runs import SPEC_EXAMPLE, SpecBody, run_view, uploaded_csv, validate_body
from layerlab.api.schemas import (
    Leaderboard,
    LearnerCreated,
    LearnerJoin,
    RoomCreate,
    RoomCreated,
    RoomPublic,
    RoomSetup,
    RoomUpdate,
    RunCreated,
    refusals,
)
from layerlab.core.datasets import DatasetError, make_dataset, model_inputs
from layerlab.core.lessons import LessonShelf
from layerlab.core.limits import Limits
from layerlab.core.models import parameter_count
from layerlab.core.page_state import read_page_state
from layerlab.core.room_rules import csv_safe, locks_problem
from layerlab.core.spec import RunSpec
from layerlab.engine.rooms import Rooms
from layerlab.engine.scheduler import Scheduler
from layerlab.engine.store import RoomRecord

router = APIRouter(prefix="/api/rooms", tags=["rooms"])

ROOM_EXAMPLE = {
    "title": "Two moons",
    "setup": {"spec": SPEC_EXAMPLE, "locked": ["dataset", "noise", "samples"]},
    "challenge": {"metric": "test_acc", "target": 0.95, "max_parameters": 50},
}
ROOM_REASONS = {
    401: "No X-Run-Token header: the route needs the room's teacher token (or a learner's).",
    403: "The X-Run-Token is not a token this route takes.",
    404: "No open room with this code (or no such learner in it).",
    409: "The room is frozen, full, the name is taken, or the server has its most rooms.",
}
# The body as it came, documented as its model: validated against the server's limits (runs.py).
AS_CREATE = PlainValidator(lambda body: body, json_schema_input_type=RoomCreate)
AS_UPDATE = PlainValidator(lambda body: body, json_schema_input_type=RoomUpdate)


async def create_in_body(
    body: Annotated[Any, AS_CREATE, Body(openapi_examples={"moons": {"value": ROOM_EXAMPLE}})],
    settings: SettingsDep,
) -> RoomCreate:
    return validate_body(RoomCreate, body, settings)


async def update_in_body(
    body: Annotated[Any, AS_UPDATE, Body()], settings: SettingsDep
) -> RoomUpdate:
    return validate_body(RoomUpdate, body, settings)


CreateBody = Annotated[RoomCreate, Depends(create_in_body)]
UpdateBody = Annotated[RoomUpdate, Depends(update_in_body)]


def open_room(rooms: Rooms, code: str) -> RoomRecord:
    record = rooms.room(code)
    if record is None:
        raise ApiError(404, f"no open room with code {code.upper()!r}")
    return record


def teacher_room(rooms: Rooms, code: str, token: str | None) -> RoomRecord:
    """The room, if `token` is its teacher's (or the admin's): 404, 401 or 403 otherwise."""
    record = open_room(rooms, code)
    if not token:
        raise ApiError(401, "this needs the room's teacher token in the X-Run-Token header")
    if not rooms.is_teacher(record, token):
        raise ApiError(403, "X-Run-Token is not this room's teacher token (nor the admin token)")
    return record


async def data_facts(
    scheduler: Scheduler, spec: RunSpec, limits: Limits, where: str
) -> tuple[str, int, str | None]:
    """(the task, the network's parameters, the CSV text of an upload) of a spec; a 422 when
    its data cannot be made, naming the field under `where` (e.g. 'setup.spec.')."""
    upload = await uploaded_csv(scheduler, spec, limits)

    def facts() -> tuple[str, int]:
        dataset = upload.dataset if upload else make_dataset(spec.dataset, limits)
        x_train, _ = model_inputs(dataset, spec)
        return dataset.task, parameter_count(
            int(x_train.shape[1]), spec.hidden_widths, dataset.n_outputs
        )

    try:
        task, parameters = await run_in_threadpool(facts)
    except DatasetError as error:
        raise ApiError(422, f"{where}dataset.{error.field}: {error.message}") from None
    return task, parameters, upload.text if upload else None


def lesson_setup(setup: RoomSetup, shelf: LessonShelf, limits: Limits) -> RoomSetup:
    """A setup that names a lesson step: the learners' pages open the step, and without a spec
    of its own the step's state is what their runs start from. 422 for a step the server
    lacks."""
    if setup.lesson is None:
        return setup
    lesson = shelf.lessons.get(setup.lesson.id)
    if lesson is None:
        known = ", ".join(shelf.lessons) or "none"
        raise ApiError(
            422, f"setup.lesson.id: no lesson {setup.lesson.id!r} on this server (it has: {known})"
        )
    if setup.lesson.step > len(lesson.steps):
        raise ApiError(
            422,
            f"setup.lesson.step: lesson {lesson.id!r} has {len(lesson.steps)} steps; "
            f"got {setup.lesson.step}",
        )
    if "spec" in setup.model_fields_set:  # the teacher's, perhaps changed from the step's
        return setup
    step = lesson.steps[setup.lesson.step - 1]
    return setup.model_copy(update={"spec": read_page_state(step.state, limits).spec})


def checked_setup(setup: RoomSetup) -> dict[str, Any]:
    """The setup as stored; 422 for locks it cannot have."""
    dumped: dict[str, Any] = setup.model_dump(mode="json")
    dumped["locked"] = list(dict.fromkeys(dumped["locked"]))
    problem = locks_problem(dumped["spec"], dumped["locked"])
    if problem:
        raise ApiError(422, problem)
    return dumped


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RoomCreated,
    responses=refusals(
        401,
        403,
        409,
        413,
        422,
        reasons={
            **ROOM_REASONS,
            401: "The server has LAYERLAB_ADMIN_TOKEN set: opening a room needs it.",
            403: "The X-Run-Token is not the server's admin token.",
            409: "The server has LAYERLAB_MAX_ROOMS rooms open.",
        },
    ),
    summary="Open a room: a join code, and the teacher token (on a server with an admin token, "
    "opening one needs it)",
)
async def create_room(
    room: CreateBody,
    rooms: RoomsDep,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    shelf: LessonsDep,
    response: Response,
    token: TokenHeader = None,
) -> dict[str, Any]:
    admin = settings.admin_token
    if admin and not token:
        raise ApiError(
            401,
            "opening a room on this server needs its admin token (LAYERLAB_ADMIN_TOKEN) in the "
            "X-Run-Token header",
        )
    if admin and token and not rooms.is_admin(token):
        raise ApiError(403, "X-Run-Token is not this server's admin token")
    limits = settings.limits()
    asked = lesson_setup(room.setup, shelf, limits)
    setup = checked_setup(asked)
    task, _, _ = await data_facts(scheduler, asked.spec, limits, "setup.spec.")
    challenge = room.challenge.model_dump() if room.challenge else None
    record, teacher = rooms.create(room.title, setup, challenge, task)  # or Refused (409)
    response.headers["Location"] = f"/api/rooms/{record.code}"
    return {**rooms.public(record, {"role": "teacher"}), "token": teacher}


@router.get(
    "/{code}",
    response_model=RoomPublic,
    responses=refusals(404, 422, reasons=ROOM_REASONS),
    summary="Read a room: setup, challenge, frozen, learners; `you` says who X-Run-Token is",
)
async def get_room(code: str, rooms: RoomsDep, token: TokenHeader = None) -> dict[str, Any]:
    record = open_room(rooms, code)
    return rooms.public(record, rooms.you(record, token))


@router.patch(
    "/{code}",
    response_model=RoomPublic,
    responses=refusals(401, 403, 404, 413, 422, reasons=ROOM_REASONS),
    summary="Change the title, setup or challenge, or freeze and resume every run (teacher)",
)
async def update_room(
    code: str,
    update: UpdateBody,
    rooms: RoomsDep,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    shelf: LessonsDep,
    token: TokenHeader = None,
) -> dict[str, Any]:
    record = teacher_room(rooms, code, token)
    changes: dict[str, Any] = {}
    if "title" in update.model_fields_set:
        changes["title"] = update.title
    if update.setup is not None:
        limits = settings.limits()
        asked = lesson_setup(update.setup, shelf, limits)
        changes["setup"] = checked_setup(asked)
        changes["task"], _, _ = await data_facts(scheduler, asked.spec, limits, "setup.spec.")
    if "challenge" in update.model_fields_set:
        changes["challenge"] = update.challenge.model_dump() if update.challenge else None
    if update.frozen is not None:
        changes["frozen"] = update.frozen
    updated = await rooms.update(record, changes)
    return rooms.public(updated, {"role": "teacher"})


@router.delete(
    "/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(401, 403, 404, 422, reasons=ROOM_REASONS),
    summary="Close the room: its learners' runs stop (teacher)",
)
async def delete_room(code: str, rooms: RoomsDep, token: TokenHeader = None) -> Response:
    rooms.close(teacher_room(rooms, code, token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{code}/learners",
    status_code=status.HTTP_201_CREATED,
    response_model=LearnerCreated,
    responses=refusals(404, 409, 413, 422, reasons=ROOM_REASONS),
    summary="Join a room with a display name: the learner's id and token",
)
async def join_room(code: str, join: LearnerJoin, rooms: RoomsDep) -> dict[str, Any]:
    record = open_room(rooms, code)
    learner, token = rooms.join(record, join.name)  # or Refused: the name, a full room
    return {"id": learner.id, "name": learner.name, "token": token}


@router.delete(
    "/{code}/learners/{learner_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(401, 403, 404, 422, reasons=ROOM_REASONS),
    summary="Leave the room: the learner's runs stop, their results stay (theirs or teacher)",
)
async def leave_room(
    code: str, learner_id: str, rooms: RoomsDep, token: TokenHeader = None
) -> Response:
    record = open_room(rooms, code)
    learner = rooms.learner(record, learner_id)
    if learner is None or learner.left_at is not None:
        raise ApiError(404, f"no learner with id {learner_id!r} in room {record.code!r}")
    if not token:
        raise ApiError(
            401, "leaving needs the learner's token (or the teacher's) in the X-Run-Token header"
        )
    mine = rooms.learner_of(record, token)
    if not rooms.is_teacher(record, token) and (mine is None or mine.id != learner.id):
        raise ApiError(
            403, "X-Run-Token is neither this learner's token nor the room's teacher token"
        )
    rooms.leave(record, learner)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{code}/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=RunCreated,
    responses=refusals(
        401,
        403,
        404,
        409,
        413,
        422,
        429,
        503,
        reasons={
            **ROOM_REASONS,
            403: "The X-Run-Token is not the token of a learner in this room.",
            409: "The teacher has frozen the room.",
            422: "A field of the spec is wrong, or breaks one of the teacher's locks.",
        },
    ),
    summary="A learner's run in the room, checked against the teacher's locks (learner token)",
)
async def create_room_run(
    code: str,
    spec: SpecBody,
    rooms: RoomsDep,
    scheduler: SchedulerDep,
    settings: SettingsDep,
    response: Response,
    paused: Annotated[bool, Query(description="Start paused, to step it by hand.")] = False,
    token: TokenHeader = None,
) -> dict[str, Any]:
    record = open_room(rooms, code)
    if not token:
        raise ApiError(
            401,
            "a run in a room needs the learner's token in the X-Run-Token header (POST "
            f"/api/rooms/{record.code}/learners gives one)",
        )
    learner = rooms.learner_of(record, token)
    if learner is None:
        raise ApiError(403, "X-Run-Token is not the token of a learner in this room")
    # Refused: frozen (409), a lock broken (422), the learner's limits or a full server
    rooms.check_run(record, spec)  # before the data is made: a refusal costs nothing
    _, parameters, csv_text = await data_facts(scheduler, spec, settings.limits(), "")
    view = rooms.create_run(record, learner, spec, parameters, csv_text, paused)
    response.headers["Location"] = f"/api/runs/{view['id']}"
    return {**run_view(scheduler, view["id"]), "token": token}


@router.get(
    "/{code}/leaderboard",
    response_model=Leaderboard,
    responses=refusals(404, 422, reasons=ROOM_REASONS),
    summary="Each learner's best run, ranked by the challenge (names and metrics, no tokens)",
)
async def leaderboard(code: str, rooms: RoomsDep) -> dict[str, Any]:
    return rooms.leaderboard(open_room(rooms, code))


def csv_cell(column: str, value: Any) -> Any:
    """A value as the results table writes it: times in ISO 8601, lists spaced, met yes or
    no, a name a spreadsheet never runs as a formula."""
    if value is None:
        return ""
    if column.endswith("_at"):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return csv_safe(value) if column == "name" else value


@router.get(
    "/{code}/results.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **refusals(401, 403, 404, 422, reasons=ROOM_REASONS),
    },
    summary="One row per learner: their best run's spec, size, metrics and the challenge (teacher)",
)
async def results(code: str, rooms: RoomsDep, token: TokenHeader = None) -> Response:
    record = teacher_room(rooms, code, token)
    columns, rows = rooms.results(record)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([csv_cell(column, row[column]) for column in columns] for row in rows)
    filename = f"room-{record.code}-results.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/{code}/qr.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}},
        **refusals(404, 422, reasons=ROOM_REASONS),
    },
    summary="The room's join link as a QR code, for the projector",
)
async def qr_code(code: str, rooms: RoomsDep, request: Request) -> Response:
    record = open_room(rooms, code)
    link = f"{str(request.base_url).rstrip('/')}/#room={record.code}"
    svg = io.BytesIO()
    segno.make(link, error="m").save(svg, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(svg.getvalue(), media_type="image/svg+xml")
