"""Issue 20 on the page: each lesson walked from its first step to its last, in Spanish and in
English, as a learner walks it (every step's state shown by the controls, every question answered
wrongly and then rightly, every live goal reached through the page's controls); the goals' and the
text's modules checked in the page; and screenshots of a step of each lesson."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from playground import Playground
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LESSON_FILES = sorted((ROOT / "lessons").glob("*.yaml"))
LESSON_IDS = [yaml.safe_load(path.read_text(encoding="utf-8"))["id"] for path in LESSON_FILES]
DICTIONARIES = {
    lang: json.loads((ROOT / "frontend" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in ["en", "es"]
}
GOAL_TIMEOUT_MS = 120_000

Action = Callable[[Playground], None]


# --- what a learner does on a step, through the page's controls -------------------------------


def play(app: Playground) -> None:
    app.page.click("#play")


def train_to_the_end(app: Playground) -> None:
    """Train and wait for the run (both runs, side by side) to end."""
    app.page.click("#play")
    app.page.wait_for_function(
        "() => [window.layerlab.store, window.layerlab.second]"
        ".filter((s) => s === window.layerlab.store || s.state.view.mode === 'compare')"
        ".every((s) => ['done', 'diverged'].includes(s.state.run?.status))",
        timeout=GOAL_TIMEOUT_MS,
    )


def tick(*features: str) -> Action:
    def act(app: Playground) -> None:
        for feature in features:
            app.page.check(f'input[name="feature"][value="{feature}"]')

    return act


def choose(select: str, value: str) -> Action:
    def act(app: Playground) -> None:
        app.page.select_option(f"#{select}", value)

    return act


def slide(slider: str, value: int) -> Action:
    def act(app: Playground) -> None:
        app.page.locator(f"#{slider}").fill(str(value))

    return act


# Steps whose state alone does not reach their goal: what the step asks the learner to do. Any
# other step with a goal is reached by pressing Train.
ACTIONS: dict[tuple[str, str], list[Action]] = {
    ("beyond-the-line", "features-instead"): [train_to_the_end, tick("x1_sq", "x2_sq"), play],
    ("a-basic-network", "random-labels"): [slide("depth", 3), play],
    ("linear-regression", "too-fast"): [choose("learning-rate", "10"), play],
}


# --- what the page shows ------------------------------------------------------------------------


def plain(text: str) -> str:
    """Lesson text as the page shows it: its markup gone, its spaces single."""
    return re.sub(r"\s+", " ", re.sub(r"\*\*|`", "", text)).strip()


def lesson_doc(app: Playground, lesson_id: str, lang: str) -> dict[str, Any]:
    """The lesson as the server gives it: what the page must show, and the answers."""
    reply = httpx.get(f"{app.server.url}/api/lessons/{lesson_id}", params={"lang": lang})
    reply.raise_for_status()
    doc: dict[str, Any] = reply.json()
    return doc


def expect_state_shown(page: Page, state: str, lang: str) -> None:
    """The controls show what the step's state says."""
    params = {key: values[0] for key, values in parse_qs(state, keep_blank_values=True).items()}
    expect(page.locator("html")).to_have_attribute("lang", lang)
    mode = params.get("mode", "play")
    expect(page.locator(f'.mode-button[data-mode="{mode}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    for key, select in [("dataset", "dataset"), ("optimizer", "optimizer")]:
        if key in params:
            expect(page.locator(f"#{select}")).to_have_value(params[key])
    if "activation" in params and params.get("hidden", "x") != "":
        expect(page.locator("#activation")).to_have_value(params["activation"])
    if "hidden" in params:
        depth = len([width for width in params["hidden"].split(",") if width])
        expect(page.locator("#depth")).to_have_value(str(depth))
    for key, field in [
        ("lr", "learning-rate"),
        ("batch", "batch-size"),
        ("epochs", "epochs"),
        ("noise", "noise"),
        ("samples", "samples"),
    ]:
        if key in params:
            shown = page.locator(f"#{field}").input_value()
            assert float(shown) == pytest.approx(float(params[key])), (key, shown)
    if "features" in params:
        ticked = page.eval_on_selector_all(
            'input[name="feature"]:checked', "(boxes) => boxes.map((box) => box.value)"
        )
        assert sorted(ticked) == sorted(params["features"].split(","))
    if "b.hidden" in params:
        expect(page.locator("#b-hidden")).to_have_value(
            re.compile(r"^\s*" + r"\s*,\s*".join(params["b.hidden"].split(",")) + r"\s*$")
        )
    if "threshold" in params:
        expect(page.locator("#threshold")).to_have_value(
            re.compile(rf"^{float(params['threshold']):g}$|^{params['threshold']}$")
        )
    for name in params.get("hide", "").split(","):
        if name:
            assert page.eval_on_selector_all(
                f'[data-control="{name}"]', "(all) => all.every((el) => el.hidden)"
            ), f"{name} is hidden"
    if params.get("only"):
        only = params["only"].split(",")
        shown = page.eval_on_selector_all(
            "[data-control]",
            "(all) => all.filter((el) => !el.hidden).map((el) => el.dataset.control)",
        )
        assert set(shown) <= set(only), f"only {only} show, not {set(shown) - set(only)}"


def answer_question(page: Page, question: dict[str, Any]) -> None:
    """Each wrong answer explained, then the right one accepted with its why."""
    panel = page.locator("#lesson-panel")
    feedback = panel.locator(".lesson-feedback")
    check = panel.locator(".lesson-check")
    if question["kind"] == "choice":
        choices = panel.locator(".lesson-choice input")
        expect(choices).to_have_count(len(question["choices"]))
        right = [i for i, choice in enumerate(question["choices"]) if choice.get("correct")]
        assert len(right) == 1
        order = [i for i in range(len(question["choices"])) if i != right[0]] + right
        for i in order:
            choices.nth(i).check()
            check.click()
            verdict = "right" if i == right[0] else "wrong"
            expect(feedback).to_have_attribute("data-verdict", verdict)
            expect(feedback).to_contain_text(plain(question["choices"][i]["why"]))
        return
    answer, tolerance = question["answer"], question.get("tolerance", 0)
    miss = tolerance + max(1.0, abs(answer) / 2)
    for given, why in [(answer - miss, question["low"]), (answer + miss, question["high"])]:
        panel.locator("input[name=answer]").fill(f"{given:g}")
        check.click()
        expect(feedback).to_have_attribute("data-verdict", "wrong")
        expect(feedback).to_contain_text(plain(why))
    # The learner's own decimal mark: a comma in Spanish.
    written = (
        f"{answer:g}"
        if page.locator("html").get_attribute("lang") == "en"
        else f"{answer:g}".replace(".", ",")
    )
    panel.locator("input[name=answer]").fill(written)
    check.click()
    expect(feedback).to_have_attribute("data-verdict", "right")
    expect(feedback).to_contain_text(plain(question["why"]))


def reach_goal(app: Playground, lesson_id: str, step: dict[str, Any], fresh: bool = True) -> None:
    """The step's goal reached by what the step asks; `fresh`: the step starts a new run (its
    state differs from the step before), so the goal cannot hold before anything is done."""
    panel = app.page.locator("#lesson-panel")
    status = panel.locator(".lesson-goal-status")
    if fresh:
        expect(status).to_have_attribute("data-reached", "false")
    expect(panel.locator(".lesson-conditions li")).to_have_count(len(step["goal"]["all"]))
    for act in ACTIONS.get((lesson_id, step["id"]), [play]):
        act(app)
    expect(status).to_have_attribute("data-reached", "true", timeout=GOAL_TIMEOUT_MS)
    expect(panel.locator('.lesson-conditions li[data-met="false"]')).to_have_count(0)


# --- the walk -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_a_learner_walks_the_lesson_from_first_step_to_last(
    playground: Playground, lesson_id: str, lang: str
) -> None:
    page = playground.page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    playground.open(f"lang={lang}")
    lesson = lesson_doc(playground, lesson_id, lang)
    steps = lesson["steps"]
    panel = page.locator("#lesson-panel")

    page.click("#lessons-button")
    expect(panel.locator("#lesson-heading")).to_have_text(DICTIONARIES[lang]["lesson.index_title"])
    page.click(f'.lesson-card[data-lesson="{lesson_id}"]')
    for n, step in enumerate(steps, start=1):
        expect(panel).to_have_attribute("data-step", str(n))
        expect(page).to_have_url(re.compile(rf"#lesson={lesson_id}&step={n}&"))
        expect(panel.locator("#lesson-heading")).to_have_text(lesson["title"])
        expect(panel.locator(".lesson-step-title")).to_have_text(step["title"])
        expect(panel.locator(".lesson-count")).to_contain_text(f"{n}")
        expect(panel.locator(".lesson-count")).to_contain_text(f"{len(steps)}")
        expect(panel.locator(".lesson-text")).to_contain_text(plain(step["text"]).split(". ")[0])
        expect_state_shown(page, step["state"], lang)
        if "question" in step:
            answer_question(page, step["question"])
        if "goal" in step:
            fresh = n == 1 or steps[n - 2]["state"] != step["state"]
            reach_goal(playground, lesson_id, step, fresh)
        panel.locator(".lesson-next").click()

    # Finished: back at the index, the lesson's progress full, and kept across a reload.
    expect(panel.locator(f'.lesson-card[data-lesson="{lesson_id}"]')).to_be_visible()
    progress = panel.locator(f'li:has(.lesson-card[data-lesson="{lesson_id}"]) progress')
    expect(progress).to_have_attribute("value", str(len(steps)))
    kept = page.evaluate("() => JSON.parse(localStorage.getItem('layerlab.lessons'))")[lesson_id]
    assert kept["furthest"] == len(steps)
    assert set(kept["answered"]) == {step["id"] for step in steps if "question" in step}
    assert set(kept["reached"]) == {step["id"] for step in steps if "goal" in step}
    assert errors == []


# --- the goals' arithmetic and the text's markup, in the page's own modules ----------------------

GOAL_CASES = """async () => {
    const { checkGoal, metricValue, conditionHolds } = await import("/js/lesson-goals.js");
    const spec = { hidden_widths: [], features: ["x1", "x2", "x1_sq"] };
    const run = { id: "r", status: "done", spec, modelInfo: { summary: { total_parameters: 4 } } };
    const model = { run_id: "r", weights: [{ weight: [[1.95, -3.04, 0.5]], bias: [4.9] }] };
    const point = { epoch: 100, test_acc: 0.8, test_loss: 0.6, train_acc: 1, test_rmse: 0.11 };
    const a = { run, point, model, history: { bestTestAcc: 0.9, lowestTestLoss: 0.4 } };
    const b = { run: { ...run, status: "running", spec: { ...spec, hidden_widths: [8, 8] } },
                point: { test_acc: 0.97 }, model: null, history: null };
    const none = { run: null, point: null, model: null, history: null };
    const value = (metric, facts = a) => metricValue(metric, facts);
    return {
        values: ["test_acc", "epoch", "best_test_acc", "test_acc_drop", "test_loss_rise",
                 "hidden_layers", "parameters", "features", "status", "weight:x1", "weight:x2",
                 "weight:x1_sq", "weight:sin_x1", "bias", "test_rmse"].map((m) => [m, value(m)]),
        deepHasNoWeights: value("weight:x1", b) ?? null,
        noRunNoValue: value("test_acc", none) ?? null,
        holds: [
            conditionHolds({ op: ">=", value: 0.8 }, 0.8),
            conditionHolds({ op: "<=", value: 0.8 }, 0.81),
            conditionHolds({ op: "==", value: "done" }, "done"),
            conditionHolds({ op: "near", value: 2, within: 0.1 }, 1.95),
            conditionHolds({ op: "near", value: -3, within: 0.01 }, -3.04),
            conditionHolds({ op: "has", value: ["x1_sq"] }, ["x1", "x1_sq"]),
            conditionHolds({ op: "has", value: ["x1_sq", "x2_sq"] }, ["x1", "x1_sq"]),
            conditionHolds({ op: ">=", value: 0 }, undefined),
            conditionHolds({ op: ">=", value: 0 }, NaN),
        ],
        reached: checkGoal({ all: [
            { metric: "weight:x1", op: "near", value: 2, within: 0.1 },
            { metric: "b.test_acc", op: ">=", value: 0.95 },
            { metric: "b.hidden_layers", op: "==", value: 2 },
        ] }, { a, b }).reached,
        notReached: checkGoal({ all: [
            { metric: "test_acc", op: ">=", value: 0.9 },
            { metric: "b.test_acc", op: ">=", value: 0.95 },
        ] }, { a, b }).conditions.map((c) => c.met),
        empty: checkGoal({ all: [] }, { a, b }).reached,
    };
}"""


def test_goals_read_the_runs_metrics_as_the_contract_says(playground: Playground) -> None:
    playground.open("lang=en")
    found = playground.page.evaluate(GOAL_CASES)
    values = dict(found["values"])
    assert values["test_acc"] == 0.8 and values["epoch"] == 100
    assert values["best_test_acc"] == 0.9
    assert values["test_acc_drop"] == pytest.approx(0.1)
    assert values["test_loss_rise"] == pytest.approx(0.2)
    assert values["hidden_layers"] == 0 and values["parameters"] == 4
    assert values["features"] == ["x1", "x2", "x1_sq"] and values["status"] == "done"
    assert (values["weight:x1"], values["weight:x2"], values["weight:x1_sq"]) == (1.95, -3.04, 0.5)
    assert values["weight:sin_x1"] is None  # not an input of this run
    assert values["bias"] == 4.9 and values["test_rmse"] == 0.11
    assert found["deepHasNoWeights"] is None  # weight:* reads a network with no hidden layer
    assert found["noRunNoValue"] is None
    assert found["holds"] == [True, False, True, True, False, True, False, False, False]
    assert found["reached"] is True
    assert found["notReached"] == [False, True]
    assert found["empty"] is False


def test_a_goal_is_not_reached_on_the_run_a_step_replaces(playground: Playground) -> None:
    """Right after a change of setup the old run is still on show: it does not count."""
    playground.open("dataset=moons&samples=200&hidden=&epochs=5&lang=en")
    playground.train_to_the_end()
    stale = playground.page.evaluate(
        """async () => {
            const { isCurrentRun } = await import("/js/lesson-goals.js");
            const store = window.layerlab.store;
            const before = isCurrentRun(store.state);
            store.set({ config: { ...store.state.config, hidden: [8] } });
            const after = isCurrentRun(store.state);
            const rates = { ...store.state, config: { ...store.state.config, hidden: [],
                learningRate: 0.3 } };
            return [before, after, isCurrentRun(rates)];
        }"""
    )
    assert stale == [True, False, True]  # a new rate is the same run, trained on


def test_an_answer_is_judged_at_once(playground: Playground) -> None:
    """A choice by its index, a number within its tolerance (a comma is a decimal mark too)."""
    playground.open("lang=en")
    verdicts = playground.page.evaluate(
        """async () => {
            const { judge } = await import("/js/lesson-question.js");
            const choice = { kind: "choice",
                             choices: [{ why: "no" }, { correct: true, why: "yes" }] };
            const number = { kind: "number", answer: 0.5, tolerance: 0.01, low: "L", high: "H",
                             why: "W" };
            return [judge(choice, null), judge(choice, 0), judge(choice, 1),
                    judge(number, ""), judge(number, "abc"), judge(number, "0,495"),
                    judge(number, "0.4"), judge(number, "0.6")].map((v) => [v.kind, v.why ?? null]);
        }"""
    )
    assert verdicts == [
        ["empty", None],
        ["wrong", "no"],
        ["right", "yes"],
        ["empty", None],
        ["empty", None],
        ["right", "W"],
        ["wrong", "L"],
        ["wrong", "H"],
    ]


def test_lesson_text_stays_text(playground: Playground) -> None:
    """Paragraphs, `code` and **bold**; anything that looks like HTML is shown as written."""
    playground.open("lang=en")
    found = playground.page.evaluate(
        """async () => {
            const { lessonParagraphs } = await import("/js/lesson-text.js");
            const box = document.createElement("div");
            box.append(...lessonParagraphs(
                "A **bold** word and `nn.Linear(2, 8)`\\nin one paragraph.\\n\\n"
                + "<img src=x onerror=alert(1)> y = σ(W·x + b), x₁²"));
            return {
                paragraphs: [...box.children].map((p) => p.textContent),
                strong: [...box.querySelectorAll("strong")].map((n) => n.textContent),
                code: [...box.querySelectorAll("code")].map((n) => n.textContent),
                images: box.querySelectorAll("img").length,
            };
        }"""
    )
    assert found["paragraphs"] == [
        "A bold word and nn.Linear(2, 8) in one paragraph.",
        "<img src=x onerror=alert(1)> y = σ(W·x + b), x₁²",
    ]
    assert found["strong"] == ["bold"] and found["code"] == ["nn.Linear(2, 8)"]
    assert found["images"] == 0


# --- links, language, the header's button, a room's call ---------------------------------------


def first_lesson(app: Playground, lang: str) -> dict[str, Any]:
    return lesson_doc(app, LESSON_IDS[0], lang)


def test_a_teachers_link_to_a_step_sets_the_playground_up(playground: Playground) -> None:
    page = playground.page
    playground.open("lang=es")
    lesson = first_lesson(playground, "es")
    n = len(lesson["steps"])
    playground.open(f"lesson={lesson['id']}&step={n}&lang=es")
    panel = page.locator("#lesson-panel")
    expect(panel.locator(".lesson-step-title")).to_have_text(lesson["steps"][n - 1]["title"])
    expect_state_shown(page, lesson["steps"][n - 1]["state"], "es")
    expect(page).to_have_url(re.compile(rf"#lesson={lesson['id']}&step={n}&dataset="))

    # A link the page wrote (the learner's own changes in it) is taken as it is.
    page.locator("#epochs").fill("7")
    page.wait_for_function("() => location.hash.includes('epochs=7')")
    page.reload()
    expect(page.locator("#epochs")).to_have_value("7")
    expect(panel).to_have_attribute("data-step", str(n))

    # The language switch: the same step, its text in the other language.
    english = first_lesson(playground, "en")
    page.select_option("#lang", "en")
    expect(panel.locator(".lesson-step-title")).to_have_text(english["steps"][n - 1]["title"])
    expect(panel.locator("#lesson-heading")).to_have_text(english["title"])

    # Closed: the playground stays as it is, the address forgets the lesson.
    panel.locator(".lesson-close").click()
    expect(panel).to_be_hidden()
    expect(page).not_to_have_url(re.compile("lesson="))
    expect(page.locator("#epochs")).to_have_value("7")


def test_a_room_opens_a_step_and_hide_hides_the_button(playground: Playground) -> None:
    page = playground.page
    playground.open("lang=en&hide=lessons")
    expect(page.locator("#lessons-button")).to_be_hidden()
    lesson = first_lesson(playground, "en")
    page.evaluate(
        "async (id) => (await import('/js/lessons.js')).openLessonStep(id, 2)", lesson["id"]
    )
    panel = page.locator("#lesson-panel")
    expect(panel.locator(".lesson-step-title")).to_have_text(lesson["steps"][1]["title"])
    expect_state_shown(page, lesson["steps"][1]["state"], "en")


# --- for everyone, and for people to look at ------------------------------------------------------


def axe_violations(page: Page, whole_page: bool = False) -> list[str]:
    context = None if whole_page else {"include": [["#lesson-panel"]]}
    results = Axe().run(page, context=context)
    return [
        f"{violation['id']} ({violation['impact']}): {[n['target'] for n in violation['nodes']]}"
        for violation in results.response["violations"]
    ]


def shown_step(lesson: dict[str, Any]) -> int:
    """The step a screenshot shows: the first with a live goal, else the first with a question."""
    for key in ["goal", "question"]:
        for n, step in enumerate(lesson["steps"], start=1):
            if key in step:
                return n
    return 1


def test_axe_finds_nothing_in_the_panel(playground: Playground) -> None:
    page = playground.page
    playground.open("lang=en")
    page.click("#lessons-button")
    expect(page.locator(".lesson-card")).to_have_count(len(LESSON_IDS))
    assert axe_violations(page, whole_page=True) == []  # the page beside the open panel too
    for lesson_id in LESSON_IDS:
        lesson = lesson_doc(playground, lesson_id, "es")
        for key in ["question", "goal"]:
            n = next((n for n, s in enumerate(lesson["steps"], 1) if key in s), None)
            if n is None:
                continue
            playground.open(f"lesson={lesson_id}&step={n}&lang=es&theme=dark")
            expect(page.locator("#lesson-panel")).to_have_attribute("data-step", str(n))
            if key == "question":
                page.locator(".lesson-check").click()  # nothing chosen: a hint in the live region
                expect(page.locator(".lesson-feedback")).to_have_attribute("data-verdict", "empty")
            assert axe_violations(page, whole_page=key == "goal") == [], (lesson_id, n)


def english_left(panel_text: str) -> list[str]:
    """The panel's own English strings (lesson.* where Spanish says otherwise) found in a text."""
    found = []
    for key, english in DICTIONARIES["en"].items():
        if not key.startswith("lesson.") or DICTIONARIES["es"][key] == english:
            continue
        for fragment in re.split(r"\{\w+\}", english):
            if len(fragment.strip()) >= 4 and fragment.strip() in panel_text:
                found.append(f"{key}: {fragment.strip()!r}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_screenshots_of_a_step(playground: Playground, screenshots: Path, lesson_id: str) -> None:
    """A step of each lesson with its goal reached (or its question answered): in Spanish at
    1366×768, then on a projector (dark, 1920×1080) in English."""
    page = playground.page
    for lang, theme, size in [("es", "light", (1366, 768)), ("en", "dark", (1920, 1080))]:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        lesson = lesson_doc(playground, lesson_id, lang)
        n = shown_step(lesson)
        step = lesson["steps"][n - 1]
        playground.open(f"lesson={lesson_id}&step={n}&lang={lang}&theme={theme}")
        panel = page.locator("#lesson-panel")
        expect(panel).to_have_attribute("data-step", str(n))
        if "goal" in step:
            reach_goal(playground, lesson_id, step)
        else:
            answer_question(page, step["question"])
        # The panel beside the playground leaves the output in view: the decision boundary
        # where the data lies on a plane.
        boundary = page.locator("#boundary-points")
        shown = boundary if boundary.is_visible() else page.locator("#loss-chart")
        expect(shown).to_be_in_viewport(ratio=0.9)
        if lang == "es":
            assert english_left(panel.inner_text()) == []
            assert (
                plain(lesson_doc(playground, lesson_id, "en")["steps"][n - 1]["text"])[:40]
                not in panel.inner_text()
            )
        page.screenshot(path=str(screenshots / f"lesson-{lesson_id}-{lang}-{theme}.png"))
