"""The lesson files and their validator: every state a run within the default limits, every
question answerable, both languages alike, every goal a metric the run reports for its task."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from layerlab.config import LESSONS, Settings
from layerlab.core.datasets import DATASETS
from layerlab.core.lessons import (
    RUN_METRICS,
    Bilingual,
    ChoiceQuestion,
    Lesson,
    NumberQuestion,
    condition_problem,
    in_language,
    load_lessons,
    read_lesson,
)
from layerlab.core.limits import DEFAULT_LIMITS
from layerlab.core.page_state import PageStateError, read_page_state
from layerlab.core.spec import RunSpec

SHELF = load_lessons(LESSONS)
LESSONS_READ = list(SHELF.lessons.values())
STEPS = [(lesson, step) for lesson in LESSONS_READ for step in lesson.steps]
STEP_IDS = [f"{lesson.id}/{step.id}" for lesson, step in STEPS]


def texts(model: BaseModel) -> Iterator[Bilingual]:
    """Every two-language text a model holds, however deep."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Bilingual):
                yield item
            elif isinstance(item, BaseModel):
                yield from texts(item)


def test_the_four_lessons_load_in_order_with_at_least_six_steps() -> None:
    assert SHELF.problems == []
    assert list(SHELF.lessons) == [
        "beyond-the-line",
        "a-basic-network",
        "tensors-and-the-forward-pass",
        "linear-regression",
    ]
    assert [lesson.course for lesson in LESSONS_READ] == ["000", "001", "002", "003"]
    for lesson in LESSONS_READ:
        assert len(lesson.steps) >= 6, lesson.id


def test_the_default_settings_limits_are_those_the_lessons_are_checked_against() -> None:
    assert Settings().limits() == DEFAULT_LIMITS


@pytest.mark.parametrize(("lesson", "step"), STEPS, ids=STEP_IDS)
def test_every_state_is_a_run_within_the_default_limits(lesson: Lesson, step: Any) -> None:
    page = read_page_state(step.state, DEFAULT_LIMITS)
    for spec in page.runs.values():
        again = RunSpec.model_validate(spec.model_dump(), context={"limits": DEFAULT_LIMITS})
        assert again == spec
    if page.mode == "sweep":
        assert page.depths and page.widths


@pytest.mark.parametrize(("lesson", "step"), STEPS, ids=STEP_IDS)
def test_every_question_has_exactly_one_right_answer(lesson: Lesson, step: Any) -> None:
    if isinstance(step.question, ChoiceQuestion):
        assert sum(choice.correct for choice in step.question.choices) == 1
        assert len({choice.text.en for choice in step.question.choices}) == len(
            step.question.choices
        )
    elif isinstance(step.question, NumberQuestion):
        assert step.question.tolerance >= 0


@pytest.mark.parametrize("lesson", LESSONS_READ, ids=lambda lesson: lesson.id)
def test_every_text_has_both_languages(lesson: Lesson) -> None:
    found = list(texts(lesson))
    assert len(found) > 3 * len(lesson.steps)
    for text in found:
        assert text.es.strip() and text.en.strip()


@pytest.mark.parametrize("lesson", LESSONS_READ, ids=lambda lesson: lesson.id)
def test_both_languages_have_the_same_steps_and_answers(lesson: Lesson) -> None:
    spanish, english = in_language(lesson, "es"), in_language(lesson, "en")

    def shape(value: Any) -> Any:
        """The lesson with every text blanked: ids, states, answers and goals remain."""
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item) for item in value]
        return value

    def blank(value: Any, path: tuple[str, ...] = ()) -> Any:
        if isinstance(value, dict):
            return {key: blank(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [blank(item, path) for item in value]
        prose = path[-1:] in [("title",), ("summary",), ("text",), ("prompt",), ("why",)]
        return "" if prose or path[-1:] in [("low",), ("high",)] else value

    assert shape(blank(spanish)) == shape(blank(english))
    assert spanish["steps"][0]["title"] != english["steps"][0]["title"]


# Words that only one of the two languages uses: a text in the other is a leftover.
ENGLISH_ONLY = {"the", "and", "with", "which", "is", "are", "of", "to", "it", "this"}
SPANISH_ONLY = {"el", "la", "los", "las", "que", "con", "una", "es", "del", "por"}  # y: a variable


def words(text: str) -> set[str]:
    """The words of a text outside `code` spans."""
    return set(re.findall(r"[a-záéíóúñü]+", re.sub(r"`[^`]*`", "", text.lower())))


@pytest.mark.parametrize("lesson", LESSONS_READ, ids=lambda lesson: lesson.id)
def test_no_text_is_left_in_the_other_language(lesson: Lesson) -> None:
    for text in texts(lesson):
        assert not words(text.es) & ENGLISH_ONLY, text.es
        assert not words(text.en) & SPANISH_ONLY, text.en


@pytest.mark.parametrize(("lesson", "step"), STEPS, ids=STEP_IDS)
def test_every_goal_names_a_metric_the_run_reports_for_its_task(lesson: Lesson, step: Any) -> None:
    if step.goal is None:
        return
    page = read_page_state(step.state)
    assert page.mode != "sweep"
    for condition in step.goal.all:
        assert condition_problem(condition, page) is None
        prefix = "b." if condition.metric.startswith("b.") else ""
        spec = page.runs[prefix]
        name = condition.metric.removeprefix(prefix)
        task = DATASETS[spec.dataset.name].task
        if name in ("train_rmse", "test_rmse"):
            assert task == "regression"
        if name.endswith("_acc") or name == "test_acc_drop":
            assert task in ("binary", "multiclass")
        if name.startswith("weight:") or name == "bias":
            assert spec.hidden_widths == []
            assert name == "bias" or name.removeprefix("weight:") in spec.features
        assert name in RUN_METRICS or name in ("features", "status", "bias") or ":" in name


@pytest.mark.parametrize("lesson", LESSONS_READ, ids=lambda lesson: lesson.id)
def test_step_ids_are_unique(lesson: Lesson) -> None:
    ids = [step.id for step in lesson.steps]
    assert len(ids) == len(set(ids))


def test_the_weight_goal_is_set_on_the_full_batch_run() -> None:
    step = next(
        s for s in SHELF.lessons["linear-regression"].steps if s.id == "recover-the-weights"
    )
    spec = read_page_state(step.state).spec
    train_points = round(spec.dataset.samples * spec.dataset.train_fraction)
    assert (spec.batch_size, spec.optimizer, spec.learning_rate) == (train_points, "sgd", 0.02)
    assert step.goal is not None
    assert {c.metric for c in step.goal.all} == {"weight:x1", "weight:x2"}


# --- the validator refuses what the page could not show or check -------------------------------

TEXT = {"es": "Texto.", "en": "Text."}
STATE = "dataset=moons&hidden=8&epochs=50"


def lesson_with(**step: Any) -> dict[str, Any]:
    """A one-step lesson whose step has these fields over a plain one."""
    plain = {"id": "only", "title": TEXT, "text": TEXT, "state": STATE}
    return {"id": "tiny", "order": 9, "title": TEXT, "summary": TEXT, "steps": [plain | step]}


def refusal(data: dict[str, Any], tmp_path: Path) -> str:
    path = tmp_path / "09-tiny.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        read_lesson(path)
    return str(caught.value)


def choice(correct: bool) -> dict[str, Any]:
    return {"text": TEXT, "correct": correct, "why": TEXT}


def goal(metric: str, op: str, value: Any, **within: float) -> dict[str, Any]:
    """A goal of one condition."""
    return {"text": TEXT, "all": [{"metric": metric, "op": op, "value": value, **within}]}


REFUSED = [
    ({"question": {"kind": "choice", "prompt": TEXT, "choices": [choice(True), choice(True)]}},
     "exactly one choice with correct: true; got 2"),
    ({"question": {"kind": "choice", "prompt": TEXT, "choices": [choice(False), choice(False)]}},
     "exactly one choice with correct: true; got 0"),
    ({"title": {"es": "Título"}}, "steps.0.title.en: Field required"),
    ({"text": {"es": "Texto", "en": "  "}}, "steps.0.text.en: String should match pattern"),
    ({"id": "Not A Slug"}, "steps.0.id: String should match pattern"),
    ({"state": "dataset=moons&hiden=8"}, "state: hiden: not a key of the page's address"),
    ({"state": "dataset=moons&samples=6000"}, "at most 5000 samples"),
    ({"state": "dataset=moons&hidden=8,8,8,8,8,8,8,8,8"}, "at most 8 hidden layers"),
    ({"state": "dataset=spirals"}, "dataset.name"),
    ({"state": "lesson=tiny&step=2&hidden=8"}, "state: lesson, step: the page adds the lesson and"),
    ({"goal": goal("test_rmse", "<=", 1)},
     "test_rmse: reported for regression runs; this run's task is binary"),
    ({"state": "dataset=plane&hidden=", "goal": goal("test_acc", ">=", 1)},
     "test_acc: reported for binary or multiclass runs; this run's task is regression"),
    ({"state": "dataset=plane&hidden=8", "goal": goal("weight:x1", "near", 2, within=0.1)},
     "weight:x1: read from a network with no hidden layer"),
    ({"state": "dataset=plane&hidden=", "goal": goal("weight:x3", ">=", 2)},
     "weight:x3: this run's inputs are x1, x2"),
    ({"goal": goal("b.test_acc", ">=", 0.9)},
     "b.test_acc: a second run's metric (b.) needs mode=compare"),
    ({"goal": goal("status", "==", "finished")},
     "status: takes op == and one of queued, running"),
    ({"goal": goal("accuracy", ">=", 0.9)},
     "accuracy: not a goal metric"),
    ({"goal": goal("test_acc", "near", 0.9)},
     "op near needs within"),
    ({"goal": goal("features", "has", ["x3"])},
     "features are x1, x2, x1_sq"),
    ({"state": "mode=sweep&depths=0,1&widths=2,4", "goal": goal("test_acc", ">=", 0.9)},
     "a sweep has no one run to check a goal on"),
]  # fmt: skip


@pytest.mark.parametrize(("step", "reason"), REFUSED, ids=[reason for _, reason in REFUSED])
def test_the_validator_refuses_with_a_reason(
    step: dict[str, Any], reason: str, tmp_path: Path
) -> None:
    assert reason in refusal(lesson_with(**step), tmp_path)


def test_repeated_step_ids_are_refused(tmp_path: Path) -> None:
    data = lesson_with()
    data["steps"] = data["steps"] * 2
    assert "each step id once; repeated: ['only']" in refusal(data, tmp_path)


def test_a_broken_file_is_left_out_with_its_name_and_reason(tmp_path: Path) -> None:
    (tmp_path / "01-beyond-the-line.yaml").write_bytes(
        (LESSONS / "01-beyond-the-line.yaml").read_bytes()
    )
    (tmp_path / "02-broken.yaml").write_text("id: broken\nsteps: [\n", encoding="utf-8")
    (tmp_path / "03-too-big.yaml").write_text(
        (LESSONS / "01-beyond-the-line.yaml")
        .read_text(encoding="utf-8")
        .replace("id: beyond-the-line", "id: too-big")
        .replace("samples=500&features", "samples=9000&features", 1),
        encoding="utf-8",
    )
    (tmp_path / "04-again.yaml").write_bytes((LESSONS / "01-beyond-the-line.yaml").read_bytes())
    shelf = load_lessons(tmp_path)
    assert list(shelf.lessons) == ["beyond-the-line"]
    problems = {problem.file: problem.reason for problem in shelf.problems}
    assert set(problems) == {"02-broken.yaml", "03-too-big.yaml", "04-again.yaml"}
    assert problems["02-broken.yaml"].startswith("cannot be read as YAML")
    assert (
        "step linear-fails: state: dataset.samples: at most 5000 samples"
        in (problems["03-too-big.yaml"])
    )
    assert problems["04-again.yaml"] == "id 'beyond-the-line' is already another's"


def test_a_missing_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    shelf = load_lessons(tmp_path / "nowhere")
    assert shelf.lessons == {}
    assert shelf.problems[0].reason == "no such folder"


def test_one_language_keeps_the_answers() -> None:
    lesson = SHELF.lessons["tensors-and-the-forward-pass"]
    spanish = in_language(lesson, "es")
    count = next(s for s in spanish["steps"] if s["id"] == "count-the-parameters")
    assert count["question"]["answer"] == 17
    assert count["question"]["why"].startswith("Eso es")
    assert spanish["title"] == "Tensores y el paso hacia delante"


# --- the page's state, read as the page reads it ------------------------------------------------


def test_a_state_keeps_the_pages_defaults_for_what_it_leaves_out() -> None:
    spec = read_page_state("#dataset=xor&hidden=").spec
    assert spec.dataset.name == "xor"
    assert spec.hidden_widths == []
    # state.js defaultConfig, not RunSpec's own defaults
    assert (spec.dataset.samples, spec.activation, spec.learning_rate, spec.batch_size) == (
        500,
        "tanh",
        0.03,
        10,
    )


def test_a_comparison_without_second_keys_is_linear_and_shares_the_data() -> None:
    page = read_page_state("mode=compare&dataset=circles&hidden=8,8")
    assert page.second is not None
    assert page.second.hidden_widths == []
    assert page.second.dataset == page.spec.dataset
    own = read_page_state("mode=compare&hidden=&activation=relu&b.hidden=8,8&b.lr=0.1")
    assert own.second is not None
    assert (own.second.hidden_widths, own.second.activation, own.second.learning_rate) == (
        [8, 8],
        "relu",
        0.1,
    )


def test_a_table_dataset_takes_its_columns_as_they_are() -> None:
    assert read_page_state("dataset=features4&features=x1,x2,x1_sq").spec.features == ["x1", "x2"]


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ("noise=loud", "noise: a number; got 'loud'"),
        ("mode=compare&b.noise=0.5", "b.noise: the second run shares the data and seeds"),
        ("b.hidden=8", "b.hidden: a second run's key needs mode=compare"),
        ("depths=1,2", "depths: a sweep's axis needs mode=sweep"),
        ("threshold=1.5", "threshold: from 0 to 1; got 1.5"),
        ("mode=grid", "mode: one of play, compare, sweep; got 'grid'"),
        ("hidden=8&hidden=4", "hidden: given twice"),
    ],
)
def test_a_state_the_page_would_misread_is_named(state: str, problem: str) -> None:
    with pytest.raises(PageStateError) as caught:
        read_page_state(state)
    assert problem in str(caught.value)


def test_the_server_reads_the_repositorys_lessons_folder_by_default() -> None:
    assert Settings().lessons_dir == LESSONS
    assert (LESSONS / "01-beyond-the-line.yaml").is_file()


def test_the_pages_own_address_with_its_lesson_step_reads_as_the_steps_run() -> None:
    page = read_page_state("#lesson=beyond-the-line&step=2&dataset=circles&hidden=&lang=es")
    assert (page.spec.dataset.name, page.spec.hidden_widths) == ("circles", [])
    assert page.view == {"lang": "es"}
