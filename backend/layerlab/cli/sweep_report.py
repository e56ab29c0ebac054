"""A sweep as an offline HTML page: the depth × width heatmap and the score against parameters."""

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from layerlab.cli.console import sweep_table
from layerlab.cli.report import CLASS_COLORS, FIGURE_HTML, PAGE, _styled


def _score(task: str) -> tuple[str, str]:
    """(the metric's key without its split, its name): accuracy, or RMSE for regression."""
    return ("rmse", "RMSE") if task == "regression" else ("acc", "accuracy")


def heatmap_figure(document: dict[str, Any]) -> go.Figure:
    """Test score of each cell: depths down, widths across, the value written in each."""
    key, name = _score(document["task"])
    depths, widths = document["depths"], document["widths"]
    found = {(c["depth"], c["width"]): c["metrics"] for c in document["cells"]}
    values = [
        [(found[d, w] or {}).get(f"test_{key}") for w in widths] for d in depths
    ]  # (depths, widths)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=[str(w) for w in widths],
            y=[str(d) for d in depths],
            colorscale="Viridis",
            reversescale=key == "rmse",  # bright is good either way
            texttemplate="%{z:.3f}",
            colorbar={"title": {"text": f"test {name}"}},
        )
    )
    figure.update_xaxes(title="width (neurons per hidden layer)", type="category")
    figure.update_yaxes(title="depth (hidden layers)", type="category", autorange="reversed")
    return _styled(figure, f"Test {name} by depth and width")


def parameters_figure(document: dict[str, Any]) -> go.Figure:
    """Score against trainable parameters (log axis), one colour per depth: train solid, test
    dotted."""
    key, name = _score(document["task"])
    figure = go.Figure()
    for index, depth in enumerate(document["depths"]):
        cells = sorted(
            (c for c in document["cells"] if c["depth"] == depth and c["metrics"]),
            key=lambda c: c["parameters"],
        )
        color = CLASS_COLORS[index % len(CLASS_COLORS)]
        for split, dash in (("train", "solid"), ("test", "dot")):
            figure.add_trace(
                go.Scatter(
                    x=[c["parameters"] for c in cells],
                    y=[c["metrics"][f"{split}_{key}"] for c in cells],
                    text=[f"width {c['width']}" for c in cells],
                    mode="lines+markers",
                    name=f"depth {depth}, {split}",
                    line={"color": color, "dash": dash},
                )
            )
    figure.update_xaxes(title="trainable parameters", type="log")
    figure.update_yaxes(title=name)
    return _styled(figure, f"{name.capitalize()} against parameters (train solid, test dotted)")


def write_sweep_report(path: str | Path, document: dict[str, Any]) -> None:
    """Write a standalone page (Plotly's JavaScript inlined, so that it opens offline)."""
    config = {"responsive": True, "displaylogo": False}
    figures = [heatmap_figure(document), parameters_figure(document)]
    divs = [
        figure.to_html(include_plotlyjs=index == 0, config=config, **FIGURE_HTML)
        for index, figure in enumerate(figures)
    ]
    base = document["base"]
    title = (
        f"{base['dataset']['name']} · depths {document['depths']} × widths {document['widths']} · "
        f"{base['activation']}, {base['optimizer']}, lr {base['learning_rate']:g}"
    )
    page = PAGE.substitute(
        title=html.escape(title),
        run=html.escape(sweep_table(document)),
        error="",
        figures="\n".join(f"<section>{div}</section>" for div in divs),
    )
    Path(path).write_text(page, encoding="utf-8")
