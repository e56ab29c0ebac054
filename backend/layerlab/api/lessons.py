"""REST routes of lessons: the index and one whole lesson, in the language asked for."""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from layerlab.api.errors import ApiError
from layerlab.api.schemas import LessonList, LessonPublic, refusals
from layerlab.config import Settings
from layerlab.core.lessons import LessonShelf, in_language, lesson_entry, load_lessons
from layerlab.core.script_phrases import Language

router = APIRouter(prefix="/api/lessons", tags=["lessons"])
logger = logging.getLogger("layerlab.lessons")

LanguageQuery = Annotated[
    Language, Query(description="The language of every text: en (English) or es (Spanish).")
]


def read_shelf(settings: Settings) -> LessonShelf:
    """The lessons of LAYERLAB_LESSONS_DIR, checked against the server's limits; each file left
    out is logged with its name and the reason, and the server starts all the same."""
    shelf = load_lessons(settings.lessons_dir, settings.limits())
    for problem in shelf.problems:
        logger.error("lesson %s left out: %s", problem.file, problem.reason)
    return shelf


def get_lessons(request: Request) -> LessonShelf:
    shelf: LessonShelf = request.app.state.lessons  # read when the server started
    return shelf


LessonsDep = Annotated[LessonShelf, Depends(get_lessons)]


@router.get(
    "",
    response_model=LessonList,
    responses=refusals(422),
    summary="The lessons, in the index's order (a broken file is left out and logged)",
)
async def list_lessons(shelf: LessonsDep, lang: LanguageQuery = "en") -> dict[str, Any]:
    return {"lessons": [lesson_entry(lesson, lang) for lesson in shelf.lessons.values()]}


@router.get(
    "/{lesson_id}",
    response_model=LessonPublic,
    response_model_exclude_none=True,
    responses=refusals(404, 422, reasons={404: "No lesson with this id."}),
    summary="One whole lesson in one language: its steps' states, questions with their answers "
    "(the page checks them at once) and live goals",
)
async def get_lesson(
    shelf: LessonsDep, lesson_id: str, lang: LanguageQuery = "en"
) -> dict[str, Any]:
    lesson = shelf.lessons.get(lesson_id)
    if lesson is None:
        raise ApiError(404, f"no lesson with id {lesson_id!r}")
    return in_language(lesson, lang)
