"""Lessons: guided steps through the playground, read from a folder of YAML files.

One file per lesson holds both languages (`{es: ..., en: ...}` wherever a learner reads text).
A step sets the page's address state, and may ask a question or set a live goal the page checks
on the learner's run. Reading a lesson checks all of it: every state is a run the page can start
within the limits, every question has one right answer, every goal names a metric the run
reports for that task. A broken file is left out, named with the reason, and stops nothing.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from layerlab.core.datasets import DATASETS
from layerlab.core.limits import DEFAULT_LIMITS, Limits, limits_in
from layerlab.core.page_state import LESSON_KEYS, PageState, PageStateError, read_page_state
from layerlab.core.script_phrases import Language
from layerlab.core.spec import FEATURES, RunSpec, describe_errors
from layerlab.core.training import RunStatus

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
Said = Annotated[str, Field(pattern=r"\S", max_length=4000)]  # text a learner reads, not blank

# Goal metrics the page computes from its run, and the tasks each applies to (None: any task).
CLASSES = ("binary", "multiclass")
RUN_METRICS: dict[str, tuple[str, ...] | None] = {
    "train_loss": None,
    "test_loss": None,
    "test_loss_rise": None,  # test_loss − its lowest so far
    "epoch": None,
    "hidden_layers": None,
    "parameters": None,
    "train_acc": CLASSES,
    "test_acc": CLASSES,
    "best_test_acc": CLASSES,
    "test_acc_drop": CLASSES,  # best_test_acc − test_acc
    "train_rmse": ("regression",),
    "test_rmse": ("regression",),
}
# From the weights of a network with no hidden layer and one output: `weight:x1`, `bias`.
WEIGHT_PREFIX = "weight:"
SECOND_RUN_PREFIX = "b."  # a comparison's second run: `b.test_acc`
STATUSES = tuple(status.value for status in RunStatus)


class Bilingual(BaseModel):
    """A text in both of the page's languages."""

    model_config = ConfigDict(extra="forbid")

    es: Said
    en: Said


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Bilingual
    correct: bool = False
    why: Bilingual  # shown when chosen: why it is right, or why it is wrong


class ChoiceQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["choice"]
    prompt: Bilingual
    choices: list[Choice] = Field(min_length=2, max_length=8)

    @model_validator(mode="after")
    def _one_right_answer(self) -> "ChoiceQuestion":
        right = sum(choice.correct for choice in self.choices)
        if right != 1:
            raise PydanticCustomError(
                "right_answers",
                "a choice question needs exactly one choice with correct: true; got {right}",
                {"right": right},
            )
        return self


class NumberQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["number"]
    prompt: Bilingual
    answer: float = Field(allow_inf_nan=False)
    tolerance: float = Field(0.0, ge=0.0, allow_inf_nan=False)  # |given − answer| ≤ tolerance
    low: Bilingual  # shown when the answer is too low
    high: Bilingual  # shown when too high
    why: Bilingual  # shown when right


Question = Annotated[ChoiceQuestion | NumberQuestion, Field(discriminator="kind")]


class Condition(BaseModel):
    """One condition of a goal: `metric op value` on the learner's current run."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    op: Literal[">=", "<=", "==", "has", "near"]
    value: int | float | str | list[str]
    within: float | None = Field(None, ge=0.0, allow_inf_nan=False)  # op near: |m − value| ≤ it

    @model_validator(mode="after")
    def _within_goes_with_near(self) -> "Condition":
        if (self.op == "near") != (self.within is not None):
            raise PydanticCustomError(
                "within", "op near needs within (how close), and only near takes it"
            )
        return self


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Bilingual  # what to do
    all: list[Condition] = Field(min_length=1)  # every condition holds at once


class Step(BaseModel):
    """A step: text, the state it sets, and perhaps a question or a live goal."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    title: Bilingual
    text: Bilingual
    state: str = Field(max_length=2000)
    question: Question | None = None
    goal: Goal | None = None

    @model_validator(mode="after")
    def _state_and_goal_fit(self, info: ValidationInfo) -> "Step":
        named = LESSON_KEYS & {key for key, _ in parse_qsl(self.state.removeprefix("#"))}
        if named:
            message = f"state: {', '.join(sorted(named))}: the page adds the lesson and step itself"
            raise _step_error(self.id, message)
        try:
            page = read_page_state(self.state, limits_in(info.context))
        except PageStateError as error:
            raise _step_error(self.id, f"state: {error}") from None
        for condition in self.goal.all if self.goal else []:
            problem = condition_problem(condition, page)
            if problem:
                raise _step_error(self.id, f"goal: {condition.metric}: {problem}")
        return self


class Lesson(BaseModel):
    """One lesson file: an id (the page's lesson=), its place in the index, and its steps."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    order: int = Field(ge=0)
    course: str | None = Field(None, max_length=20)  # the course lesson it follows
    title: Bilingual
    summary: Bilingual
    steps: list[Step] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _step_ids_unique(self) -> "Lesson":
        ids = [step.id for step in self.steps]
        repeated = sorted({step_id for step_id in ids if ids.count(step_id) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicate", "each step id once; repeated: {repeated}", {"repeated": repeated}
            )
        return self


def _step_error(step_id: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "step", "step {step}: {message}", {"step": step_id, "message": message}
    )


def condition_problem(condition: Condition, page: PageState) -> str | None:
    """Why the page could not check `condition` on the runs `page` starts, or None."""
    if page.mode == "sweep":
        return "a sweep has no one run to check a goal on; set mode=play or mode=compare"
    metric = condition.metric
    prefix = SECOND_RUN_PREFIX if metric.startswith(SECOND_RUN_PREFIX) else ""
    spec = page.runs.get(prefix)
    if spec is None:
        return "a second run's metric (b.) needs mode=compare"
    name = metric.removeprefix(prefix)
    numeric = condition.op in (">=", "<=", "==", "near")
    number = isinstance(condition.value, int | float) and not isinstance(condition.value, bool)
    task = DATASETS[spec.dataset.name].task  # None: a CSV's label decides
    if name in RUN_METRICS:
        tasks = RUN_METRICS[name]
        if tasks and task and task not in tasks:
            return f"reported for {' or '.join(tasks)} runs; this run's task is {task}"
        return None if numeric and number else "takes >=, <=, == or near and a number"
    if name == "features":
        if condition.op != "has" or not isinstance(condition.value, list):
            return "takes op has and a list of features, e.g. [x1_sq, x2_sq]"
        unknown = [item for item in condition.value if item not in FEATURES]
        if unknown:
            return f"features are {', '.join(FEATURES)}; got {unknown}"
        if DATASETS[spec.dataset.name].extent is None:
            return f"'{spec.dataset.name}' has no 2-D points to compute features from"
        return None
    if name == "status":
        if condition.op != "==" or condition.value not in STATUSES:
            return f"takes op == and one of {', '.join(STATUSES)}"
        return None
    if name == "bias" or name.startswith(WEIGHT_PREFIX):
        if spec.hidden_widths or task == "multiclass":
            return "read from a network with no hidden layer and one output (hidden= empty)"
        inputs = _input_names(spec)
        if name != "bias" and inputs is not None and name[len(WEIGHT_PREFIX) :] not in inputs:
            return f"this run's inputs are {', '.join(inputs)}"
        return None if numeric and number else "takes >=, <=, == or near and a number"
    vocabulary = [*RUN_METRICS, "features", "status", "bias", f"{WEIGHT_PREFIX}<input>"]
    return f"not a goal metric; the page computes {', '.join(vocabulary)} (b. for a second run)"


def _input_names(spec: RunSpec) -> list[str] | None:
    """The model's inputs: the features of 2-D points, a table's columns; None: a CSV's."""
    info = DATASETS[spec.dataset.name]
    if info.extent is not None:
        return list(spec.features)
    return [f"x{i + 1}" for i in range(info.inputs)] if info.inputs else None


@dataclass(frozen=True)
class LessonProblem:
    """A lesson file left out, and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class LessonShelf:
    """The lessons a folder holds, in the index's order, and the files left out."""

    lessons: dict[str, Lesson]
    problems: list[LessonProblem]


def read_lesson(path: Path, limits: Limits = DEFAULT_LIMITS) -> Lesson:
    """One lesson file, its states checked against `limits`; raises ValueError saying why not."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"cannot be read as YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"should hold a lesson (a mapping with id, steps...); got {data!r:.60}")
    try:
        return Lesson.model_validate(data, context={"limits": limits})
    except ValidationError as error:
        raise ValueError("; ".join(describe_errors(error))) from None


def load_lessons(folder: Path, limits: Limits = DEFAULT_LIMITS) -> LessonShelf:
    """Every `*.yaml` lesson in `folder`; a file that fails (or repeats an id) is left out."""
    lessons: dict[str, Lesson] = {}
    problems: list[LessonProblem] = []
    if not folder.is_dir():
        return LessonShelf({}, [LessonProblem(str(folder), "no such folder")])
    for path in sorted(folder.glob("*.yaml")):
        try:
            lesson = read_lesson(path, limits)
        except ValueError as error:
            problems.append(LessonProblem(path.name, str(error)))
            continue
        if lesson.id in lessons:
            problems.append(LessonProblem(path.name, f"id {lesson.id!r} is already another's"))
            continue
        lessons[lesson.id] = lesson
    ordered = sorted(lessons.values(), key=lambda lesson: (lesson.order, lesson.id))
    return LessonShelf({lesson.id: lesson for lesson in ordered}, problems)


def in_language(lesson: Lesson, lang: Language) -> dict[str, Any]:
    """The whole lesson with every text in `lang`: the file's structure, answers included."""
    return _pick(lesson.model_dump(exclude_none=True), lang)


def lesson_entry(lesson: Lesson, lang: Language) -> dict[str, Any]:
    """The lesson as the index lists it."""
    return {
        "id": lesson.id,
        "order": lesson.order,
        "course": lesson.course,
        "title": getattr(lesson.title, lang),
        "summary": getattr(lesson.summary, lang),
        "steps": len(lesson.steps),
    }


def _pick(value: Any, lang: Language) -> Any:
    if isinstance(value, dict):
        if value.keys() == set(Bilingual.model_fields):
            return value[lang]
        return {key: _pick(item, lang) for key, item in value.items()}
    if isinstance(value, list):
        return [_pick(item, lang) for item in value]
    return value
