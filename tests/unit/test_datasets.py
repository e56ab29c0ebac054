from pathlib import Path

import numpy as np
import pytest

from layerlab.core.datasets import (
    DATASETS,
    DatasetError,
    LinearTruth,
    load_csv,
    make_dataset,
    model_inputs,
)
from layerlab.core.limits import Limits
from layerlab.core.spec import DatasetSpec, RunSpec

GENERATED = [name for name in DATASETS if name != "csv"]


@pytest.mark.parametrize("name", GENERATED)
def test_each_dataset_is_deterministic_by_seed(name: str) -> None:
    first = make_dataset(DatasetSpec(name=name, samples=200, seed=3))
    again = make_dataset(DatasetSpec(name=name, samples=200, seed=3))
    other = make_dataset(DatasetSpec(name=name, samples=200, seed=4))
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_train, other.x_train)


@pytest.mark.parametrize("name", GENERATED)
def test_each_dataset_splits_by_train_fraction_with_the_registry_task(name: str) -> None:
    data = make_dataset(DatasetSpec(name=name, samples=300, train_fraction=0.7))
    assert data.task == DATASETS[name].task
    assert len(data.x_train) == 210
    assert len(data.x_test) == 90
    assert data.x_train.dtype == np.float32
    assert np.isfinite(data.x_train).all()


@pytest.mark.parametrize("name", GENERATED)
def test_each_dataset_has_the_columns_and_plane_its_entry_says(name: str) -> None:
    info = DATASETS[name]
    data = make_dataset(DatasetSpec(name=name, samples=100))
    assert data.x_train.shape[1] == info.inputs
    assert data.is_2d == (info.extent is not None)
    assert info.extent is None or info.inputs == 2
    assert data.truth == info.truth


@pytest.mark.parametrize("name", [n for n in GENERATED if DATASETS[n].task != "regression"])
def test_class_datasets_are_stratified(name: str) -> None:
    data = make_dataset(DatasetSpec(name=name, samples=400, classes=4))
    train_share = np.bincount(data.y_train.astype(int)) / len(data.y_train)
    test_share = np.bincount(data.y_test.astype(int)) / len(data.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.02)


@pytest.mark.parametrize("name", [n for n in GENERATED if DATASETS[n].extent is not None])
def test_2d_datasets_lie_inside_their_extent(name: str) -> None:
    data = make_dataset(DatasetSpec(name=name, noise=1.0))
    x0, x1, y0, y1 = data.extent
    points = np.concatenate([data.x_train, data.x_test])
    assert (points[:, 0] >= x0).all() and (points[:, 0] <= x1).all()
    assert (points[:, 1] >= y0).all() and (points[:, 1] <= y1).all()


def test_blobs_has_the_requested_number_of_classes() -> None:
    data = make_dataset(DatasetSpec(name="blobs", classes=5))
    assert data.n_classes == 5
    assert data.n_outputs == 5
    assert set(np.unique(data.y_train)) == {0, 1, 2, 3, 4}


def test_plane_is_the_lessons_regression_with_bounded_uniform_noise() -> None:
    data = make_dataset(DatasetSpec(name="plane", noise=0.5, samples=2000))
    points = np.concatenate([data.x_train, data.x_test])
    target = np.concatenate([data.y_train, data.y_test])
    residual = target - (2 * points[:, 0] - 3 * points[:, 1] + 5)
    assert np.abs(points).max() <= 10
    assert np.abs(residual).max() <= 5 + 1e-4
    assert residual.std() > 2  # uniform on [-5, 5] has std 2.9
    assert data.truth == LinearTruth(weights=(2.0, -3.0), bias=5.0)


def test_features4_noise_one_gives_the_lessons_random_labels() -> None:
    clean = make_dataset(DatasetSpec(name="features4", noise=0.0))
    assert clean.x_train.shape[1] == 4
    assert clean.extent is None
    noisy = make_dataset(DatasetSpec(name="features4", noise=1.0, samples=4000))
    assert abs(noisy.y_train.mean() - 0.5) < 0.05


def test_features_are_computed_from_the_two_coordinates() -> None:
    spec = RunSpec.model_validate({"features": ["x1_x2", "x2_sq", "sin_x1"]})
    data = make_dataset(spec.dataset)
    inputs, _ = model_inputs(data, spec)
    x1, x2 = data.x_train[:, 0], data.x_train[:, 1]
    np.testing.assert_allclose(inputs, np.stack([x1 * x2, x2**2, np.sin(x1)], 1), rtol=1e-6)


# --- CSV ----------------------------------------------------------------------------------


def csv_spec(tmp_path: Path, text: str, **fields: object) -> DatasetSpec:
    path = tmp_path / "table.csv"
    path.write_text(text)
    return DatasetSpec(name="csv", source=str(path), **fields)


def table(rows: int, label: callable) -> str:  # type: ignore[valid-type]
    rng = np.random.default_rng(0)
    lines = ["a,b,label"]
    for _ in range(rows):
        a, b = rng.uniform(-1, 1, 2)
        lines.append(f"{a:.4f},{b:.4f},{label(a, b)}")
    return "\n".join(lines) + "\n"


def test_csv_with_two_features_and_0_1_labels_is_binary_and_2d(tmp_path: Path) -> None:
    data = make_dataset(csv_spec(tmp_path, table(100, lambda a, b: int(a > b))))
    assert data.task == "binary"
    assert data.input_names == ("a", "b")
    assert data.is_2d
    assert len(data.x_train) + len(data.x_test) == 100


def test_csv_text_labels_are_classes_and_the_label_column_can_be_named(tmp_path: Path) -> None:
    text = table(60, lambda a, b: ["cat", "dog", "fox"][int(a > 0) + int(b > 0)])
    text = text.replace("a,b,label", "a,b,kind")
    data = make_dataset(csv_spec(tmp_path, text, label_column="kind"))
    assert data.task == "multiclass"
    assert data.class_names == ("cat", "dog", "fox")


def test_csv_with_real_valued_labels_is_regression(tmp_path: Path) -> None:
    data = make_dataset(csv_spec(tmp_path, table(50, lambda a, b: f"{a + 2 * b:.3f}")))
    assert data.task == "regression"
    assert data.n_classes == 0


def test_csv_semicolons_are_understood(tmp_path: Path) -> None:
    text = table(30, lambda a, b: int(a > 0)).replace(",", ";")
    assert make_dataset(csv_spec(tmp_path, text)).task == "binary"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a\n" + "1\n" * 20, "at least 2 columns"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 3, "6 data rows; at least 10"),
        ("a,a,y\n" + "1,2,0\n1,2,1\n" * 10, "distinct name"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + "1,oops,1\n", "row 22, column 'b': 'oops'"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + "1,2\n", "row 22 has 2 cells"),
        ("a,b,y\n" + "1,2,0\n" * 20, "single class"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + "1,2,2\n", "at least 2 rows"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + "1,nan,1\n", "'nan' is not a finite number"),
        ("a,b,y\n" + "1,2,\n1,2,1\n" * 10, "row 2: the label column 'y' is empty"),
        ("a,b,y\n1," + "9" * 200_000 + ",0\n" + "1,2,1\n" * 10, "line 2 cannot be read as CSV"),
        ('a,b,y\n1,"2,0\n' + "x" * 200_000 + "\n1,2,1\n" * 10, "line 2 cannot be read as CSV"),
        (
            "a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + '1,"2,1\n' + "1,2,0\n" * 3,
            'line 22 cannot be read as CSV: a quoted cell opens there (") and is never closed',
        ),
        ("a,b,y" + ",1,2,0" * 40, "123 columns; at most 64; the whole file is one line"),
        ("a,b,y\n" + "1,2,0\n1,2,1\n" * 10 + "1,-1e308,1\n", "'-1e308' overflows float32"),
        ("a,b,y\n" + "1,2,0.5\n1,2,1e300\n" * 10, "label column 'y' has values that overflow"),
    ],
)
def test_bad_csv_is_rejected_with_a_message_that_points_at_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DatasetError) as caught:
        make_dataset(csv_spec(tmp_path, text))
    assert caught.value.field == "dataset.source"
    assert message in caught.value.message


def test_csv_unknown_label_column_lists_the_columns(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no column 'z'; the columns are \['a', 'b', 'label'\]"):
        make_dataset(csv_spec(tmp_path, table(20, lambda a, b: int(a > 0)), label_column="z"))


def test_csv_missing_file_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="no CSV file at"):
        make_dataset(DatasetSpec(name="csv", source="/nonexistent/table.csv"))


def test_csv_over_the_sample_limit_is_rejected() -> None:
    text = "a,b,y\n" + "1,2,0\n1,2,1\n" * 30
    spec = DatasetSpec(name="csv", source="inline", samples=50)
    with pytest.raises(DatasetError, match="60 data rows; at most 50"):
        load_csv(text, spec, Limits(max_samples=50))
    assert load_csv(text, spec).task == "binary"  # the default limits take it


def test_a_csv_file_is_held_to_the_limits_given(tmp_path: Path) -> None:
    spec = csv_spec(tmp_path, table(60, lambda a, b: int(a > b)))
    with pytest.raises(DatasetError, match="60 data rows; at most 50"):
        make_dataset(spec, Limits(max_samples=50))


def test_features_on_a_csv_with_many_columns_are_refused(tmp_path: Path) -> None:
    text = "a,b,c,y\n" + "1,2,3,0\n1,2,4,1\n" * 10
    spec = RunSpec.model_validate(
        {"dataset": csv_spec(tmp_path, text).model_dump(), "features": ["x1_x2"]}
    )
    with pytest.raises(DatasetError, match="input features apply to 2-D data"):
        model_inputs(make_dataset(spec.dataset), spec)
