import numpy as np
import pytest
import torch

from layerlab.core.grids import Grid, decode_grid, grid_points
from layerlab.core.spec import RunSpec
from layerlab.core.summary import model_summary, model_weights, tensor_stats
from layerlab.core.training import Trainer


def trained(**fields: object) -> Trainer:
    trainer = Trainer(RunSpec.model_validate({"grid_resolution": 20, **fields}))
    trainer.train_steps(100)
    return trainer


def test_grid_points_cover_the_extent_row_by_row_from_the_bottom() -> None:
    points = grid_points((-1.0, 3.0, 0.0, 2.0), 5)
    assert points.shape == (25, 2)
    np.testing.assert_allclose(points[:5, 0], [-1, 0, 1, 2, 3])
    np.testing.assert_allclose(points[:5, 1], 0.0)
    np.testing.assert_allclose(points[-1], [3.0, 2.0])


def test_binary_grid_is_the_probability_and_agrees_with_the_model_at_each_cell() -> None:
    trainer = trained()
    grid = trainer.grid()
    frame = grid.encode()
    values, classes = decode_grid(frame)
    assert frame["shape"] == [20, 20]
    assert frame["kind"] == "probability"
    assert classes is None
    assert values.min() >= 0.0 and values.max() <= 1.0
    with torch.no_grad():
        points = torch.tensor(grid_points(trainer.dataset.extent, 20), dtype=torch.float32)
        expected = torch.sigmoid(trainer.model(points)).reshape(20, 20).numpy()
    np.testing.assert_allclose(values, expected, atol=0.5 / 255 + 1e-6)


def test_multiclass_grid_carries_the_winning_class_of_each_cell() -> None:
    trainer = trained(dataset={"name": "blobs", "classes": 5}, hidden_widths=[8])
    values, classes = decode_grid(trainer.grid().encode())
    assert classes is not None
    assert set(np.unique(classes)) <= {0, 1, 2, 3, 4}
    assert len(np.unique(classes)) >= 3
    assert values.min() >= 0.2 - 1e-6  # softmax winner of 5 classes


def test_regression_grid_keeps_its_range_through_the_u8_encoding() -> None:
    trainer = trained(
        dataset={"name": "plane"}, hidden_widths=[], optimizer="sgd", learning_rate=0.02
    )
    grid = trainer.grid()
    values, _ = decode_grid(grid.encode())
    assert grid.kind == "value"
    span = grid.values.max() - grid.values.min()
    np.testing.assert_allclose(values, grid.values, atol=span / 255)


def test_constant_grid_encodes_without_dividing_by_zero() -> None:
    grid = Grid(0, (0, 1, 0, 1), "value", np.full((4, 4), 3.5, dtype=np.float32))
    values, _ = decode_grid(grid.encode())
    np.testing.assert_allclose(values, 3.5)


def test_grid_without_a_plane_is_refused() -> None:
    trainer = Trainer(RunSpec.model_validate({"dataset": {"name": "features4"}}))
    with pytest.raises(ValueError, match="no 2-D plane"):
        trainer.grid()


def test_summary_lists_layers_with_shapes_and_counts() -> None:
    trainer = Trainer(
        RunSpec.model_validate({"hidden_widths": [6, 4], "features": ["x1", "x2", "x1_x2"]})
    )
    summary = model_summary(trainer.model, trainer.n_inputs)
    kinds = [layer["type"] for layer in summary["layers"]]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    first = summary["layers"][0]
    assert (first["in"], first["out"], first["weight_shape"], first["parameters"]) == (
        3,
        6,
        [6, 3],
        24,
    )
    assert summary["total_parameters"] == (3 * 6 + 6) + (6 * 4 + 4) + (4 + 1) == 57
    weights = model_weights(trainer.model)
    assert [np.array(w["weight"]).shape for w in weights] == [(6, 3), (4, 6), (1, 4)]


def test_linear_activation_adds_no_layers_and_big_models_hide_their_numbers() -> None:
    small = Trainer(RunSpec.model_validate({"activation": "linear"}))
    assert [layer["type"] for layer in model_summary(small.model, 2)["layers"]] == ["Linear"] * 3
    big = Trainer(RunSpec.model_validate({"hidden_widths": [128] * 3}))
    assert model_weights(big.model) is None


def test_tensor_stats_describe_each_parameter_and_its_gradient() -> None:
    trainer = trained()
    stats = {s["name"]: s for s in tensor_stats(trainer.model)}
    weight = stats["0.weight"]
    assert weight["shape"] == [8, 2]
    assert weight["dtype"] == "float32"
    assert weight["device"] == "cpu"
    assert weight["min"] <= weight["mean"] <= weight["max"]
    assert weight["grad_norm"] is not None and weight["grad_norm"] >= 0
