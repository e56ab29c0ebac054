"""One run as an offline HTML page: its boundary or fit, its curves and its weights, in Plotly."""

import html
import string
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from layerlab.cli.console import compare_with_truth, run_text
from layerlab.core.datasets import Dataset
from layerlab.core.grids import Grid
from layerlab.core.summary import truth_formula
from layerlab.core.training import MetricPoint, RunResult, RunStatus, Trainer

# Okabe–Ito: told apart with any of the common colour-vision deficiencies.
CLASS_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
RED, BLUE = "#b2182b", "#2166ac"  # RdBu's ends: class 0, class 1; also test and train curves
BINARY_SCALE = [[0.0, "#f4a582"], [0.5, "#f7f7f7"], [1.0, "#92c5de"]]  # RdBu's pale middle
MARKERS = {
    "train": {"symbol": "circle", "size": 6, "line": {"width": 0.6, "color": "#222"}},
    "test": {"symbol": "diamond", "size": 9, "line": {"width": 1.2, "color": "white"}},
}
LOSS_NAMES = {"binary": "binary cross-entropy", "multiclass": "cross-entropy", "regression": "MSE"}
FIGURE_HTML = {"full_html": False, "default_width": "100%", "default_height": "460px"}
PAGE = string.Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>$title</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
pre { background: #f5f5f5; padding: .6rem .8rem; border-radius: 4px; overflow-x: auto; }
.error { color: #b2182b; }
/* auto-fill, not auto-fit: each figure is drawn at its final width while the page loads */
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; }
</style></head>
<body><h1>$title</h1>
<pre>$run</pre>$error
<main>
$figures
</main></body></html>
""")


def write_report(path: str | Path, trainer: Trainer, result: RunResult) -> None:
    """Write a standalone page (Plotly's JavaScript inlined, so that it opens offline)."""
    candidates = [
        boundary_figure(trainer),
        surface_figure(trainer),
        fit_figure(trainer),
        loss_figure(trainer, result),
        score_figure(result),
        confusion_figure(trainer, result),
        truth_figure(trainer),
    ]
    figures = [figure for figure in candidates if figure is not None]
    config = {"responsive": True, "displaylogo": False}
    divs = [
        figure.to_html(include_plotlyjs=index == 0, config=config, **FIGURE_HTML)
        for index, figure in enumerate(figures)
    ]
    page = PAGE.substitute(
        title=html.escape(report_title(trainer, result)),
        run=html.escape(run_text(trainer, trainer.device)),
        error=f"<p class='error'>{html.escape(result.error)}</p>" if result.error else "",
        figures="\n".join(f"<section>{div}</section>" for div in divs),
    )
    Path(path).write_text(page, encoding="utf-8")


def report_title(trainer: Trainer, result: RunResult) -> str:
    """The spec's essentials and the final test score: what a saved report is about."""
    spec = trainer.spec
    network = f"hidden {spec.hidden_widths}, {spec.activation}"
    if not spec.hidden_widths:
        network = "no hidden layer"
    if result.status is not RunStatus.DONE:
        outcome = result.status.value
    elif "test_acc" in result.metrics:
        outcome = f"test accuracy {result.metrics['test_acc']:.1%}"
    else:
        outcome = f"test RMSE {result.metrics['test_rmse']:.4g}"
    optimizer = f"{spec.optimizer}, lr {spec.learning_rate:g}"
    return f"{spec.dataset.name} · {network} · {optimizer} — {outcome}"


def _styled(figure: go.Figure, title: str) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0.02},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.15},
    )
    return figure


def _splits(data: Dataset) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    return ("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)


def _grid_axes(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The x of each column and the y of each row, as the grid's points were laid out."""
    x0, x1, y0, y1 = grid.extent
    ny, nx = grid.values.shape
    return np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)


def _on_plane(figure: go.Figure, data: Dataset, grid: Grid) -> None:
    x0, x1, y0, y1 = grid.extent
    figure.update_xaxes(title=data.input_names[0], range=[x0, x1], showgrid=False)
    figure.update_yaxes(title=data.input_names[1], range=[y0, y1], showgrid=False)
    if data.name != "csv":  # a CSV's two columns may have unrelated units
        _equal_scales(figure)


def _equal_scales(figure: go.Figure) -> None:
    """One unit as long on both axes; the plot area shrinks rather than the ranges growing."""
    figure.update_xaxes(constrain="domain")
    figure.update_yaxes(scaleanchor="x", scaleratio=1, constrain="domain")


def _pale(color: str, share: float = 0.55) -> str:
    """`color` mixed with white, so that points of the full colour stand out on it."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * share + 255 * (1 - share)):02x}" for c in (red, green, blue))


def _add_points(
    figure: go.Figure, points: np.ndarray, split: str, name: str, marker: dict, **more: object
) -> None:
    """2-D points as markers: circles for training points, white-edged diamonds for test ones."""
    marker = {**MARKERS[split], **marker}
    figure.add_scatter(
        x=points[:, 0], y=points[:, 1], mode="markers", name=name, marker=marker, **more
    )


def boundary_figure(trainer: Trainer) -> go.Figure | None:
    """Classes over the plane: the model's confidence as a heatmap, the points on top."""
    data = trainer.dataset
    if not data.is_2d or data.task == "regression":
        return None
    grid = trainer.grid()
    xs, ys = _grid_axes(grid)
    figure = go.Figure()
    if grid.classes is None:  # binary: P(class 1), white where the model is unsure
        colors: tuple[str, ...] = (RED, BLUE)
        figure.add_heatmap(
            x=xs,
            y=ys,
            z=grid.values,
            zmin=0,
            zmax=1,
            colorscale=BINARY_SCALE,
            colorbar={"title": "P(class 1)"},
        )
    else:  # a colour per class, paler where the winning class is less sure
        colors = tuple(CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(data.n_classes))
        for k, name in enumerate(data.class_names):
            figure.add_heatmap(
                x=xs,
                y=ys,
                z=np.where(grid.classes == k, grid.values, np.nan),
                name=f"class {name}",
                zmin=1 / data.n_classes,
                zmax=1,
                colorscale=[[0, "#fff"], [1, _pale(colors[k])]],
                showscale=False,
                hovertemplate=f"class {name}: %{{z:.2f}} sure<extra></extra>",
            )
    for split, points, labels in _splits(data):
        for k, name in enumerate(data.class_names):
            marker = {"color": colors[k]}
            _add_points(figure, points[labels == k], split, f"class {name}, {split}", marker)
    _on_plane(figure, data, grid)
    return _styled(figure, "Decision boundary (train ●, test ◆)")


def surface_figure(trainer: Trainer) -> go.Figure | None:
    """Regression over the plane: the prediction as a heatmap, points coloured by their true y."""
    data = trainer.dataset
    if not data.is_2d or data.task != "regression":
        return None
    grid = trainer.grid()
    xs, ys = _grid_axes(grid)
    figure = go.Figure()
    figure.add_heatmap(
        x=xs,
        y=ys,
        z=grid.values,
        coloraxis="coloraxis",
        hovertemplate="predicted y = %{z:.3g}<extra></extra>",
    )
    for split, points, target in _splits(data):
        marker = {"color": target, "coloraxis": "coloraxis"}
        _add_points(figure, points, split, f"{split} points", marker, text=target)
    figure.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {"title": "y"}})
    _on_plane(figure, data, grid)
    return _styled(figure, "Prediction surface (points coloured by their true y)")


def fit_figure(trainer: Trainer) -> go.Figure | None:
    """Regression: each point's prediction against its target; a perfect fit lies on y = x."""
    data = trainer.dataset
    if data.task != "regression":
        return None
    with torch.no_grad():
        predicted = {
            "train": trainer.model(trainer.x_train).squeeze(1).cpu().numpy(),
            "test": trainer.model(trainer.x_test).squeeze(1).cpu().numpy(),
        }
    figure = go.Figure()
    for split, _, target in _splits(data):
        marker = {**MARKERS[split], "color": RED if split == "test" else BLUE}
        figure.add_scatter(
            x=target, y=predicted[split], mode="markers", name=split, opacity=0.7, marker=marker
        )
    low = float(min(data.y_train.min(), data.y_test.min()))
    high = float(max(data.y_train.max(), data.y_test.max()))
    line = {"color": "#222", "dash": "dash", "width": 2}
    figure.add_scatter(x=[low, high], y=[low, high], mode="lines", name="y = x", line=line)
    figure.update_xaxes(title="true y")
    figure.update_yaxes(title="predicted y")
    _equal_scales(figure)
    return _styled(figure, "Predicted vs true (perfect on the dashed line)")


def _curves(history: list[MetricPoint], curves: dict[str, tuple[str, list]]) -> go.Figure:
    """One line per {name: (colour, values)} over the steps of `history`."""
    steps = [point.step for point in history]
    figure = go.Figure()
    for name, (color, values) in curves.items():
        dash = "dot" if "penalty" in name else "solid"
        figure.add_scatter(x=steps, y=values, name=name, line={"color": color, "dash": dash})
    figure.update_xaxes(title="step")
    return figure


def loss_figure(trainer: Trainer, result: RunResult) -> go.Figure:
    """Train and test loss over the steps (log scale), and the penalty term when there is one."""
    history = result.history
    curves = {
        "train loss": (BLUE, [point.train_loss for point in history]),
        "test loss": (RED, [point.test_loss for point in history]),
    }
    if trainer.penalized:
        penalty = f"{trainer.spec.regularization.upper()} penalty"
        curves[penalty] = ("#666", [point.regularization_loss for point in history])
    figure = _curves(history, curves)
    figure.update_yaxes(title=LOSS_NAMES[trainer.dataset.task], type="log")
    return _styled(figure, "Loss (log scale)")


def score_figure(result: RunResult) -> go.Figure:
    """Accuracy (classes) or RMSE (regression) on the train and test sets over the steps."""
    history = result.history
    if history and history[0].test_acc is not None:
        figure = _curves(
            history,
            {
                "train accuracy": (BLUE, [point.train_acc for point in history]),
                "test accuracy": (RED, [point.test_acc for point in history]),
            },
        )
        figure.update_yaxes(title="accuracy", tickformat=".0%", range=[0, 1.02])
        return _styled(figure, "Accuracy")
    figure = _curves(
        history,
        {
            "train RMSE": (BLUE, [point.train_rmse for point in history]),
            "test RMSE": (RED, [point.test_rmse for point in history]),
        },
    )
    figure.update_yaxes(title="RMSE (in units of y)", type="log")
    return _styled(figure, "RMSE (log scale)")


def confusion_figure(trainer: Trainer, result: RunResult) -> go.Figure | None:
    """Test-set counts of each (true, predicted) pair of classes; the diagonal is right."""
    matrix = result.metrics.get("confusion_matrix")
    if matrix is None:
        return None
    names = [f"class {name}" for name in trainer.dataset.class_names]
    figure = go.Figure()
    figure.add_heatmap(
        z=matrix,
        x=names,
        y=names,
        colorscale="Blues",
        showscale=False,
        texttemplate="%{z}",
        hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
    )
    figure.update_xaxes(title="predicted", type="category")
    figure.update_yaxes(title="true", type="category", autorange="reversed")
    return _styled(figure, "Confusion matrix (test set)")


def truth_figure(trainer: Trainer) -> go.Figure | None:
    """For data made from known weights (the plane): the learned ones beside them."""
    truth, comparison = trainer.dataset.truth, compare_with_truth(trainer)
    if truth is None or comparison is None:
        return None
    names = [name for name, _, _ in comparison]
    figure = go.Figure()
    learned = [value for _, value, _ in comparison]
    figure.add_bar(x=names, y=learned, name="learned", marker_color=BLUE, texttemplate="%{y:.3f}")
    true = [value for _, _, value in comparison]
    figure.add_bar(x=names, y=true, name="true", marker_color="#999", texttemplate="%{y:.4~g}")
    figure.update_layout(barmode="group")
    formula = truth_formula(truth, trainer.dataset.input_names)
    return _styled(figure, f"Learned vs true weights ({formula})")
