"""The standalone PyTorch script for a spec: LayerLab's run, written as the course writes it.

The script generates the same data and features, starts from the same initial weights, draws
the same batches and steps the same torch.optim optimizer as `Trainer`, so on the CPU it ends
with exactly the weights and numbers of `layerlab train --device cpu`. It is one plain
`string.Template` with small pieces chosen by the spec; the spec's values appear as literals.
"""

import json
import math
import re
import textwrap
from itertools import pairwise
from string import Template

from layerlab.core.datasets import (
    MULTIGAUSS_BUMPS,
    PLANE_BIAS,
    PLANE_WEIGHTS,
    Dataset,
    make_dataset,
    model_inputs,
)
from layerlab.core.features import FEATURE_TORCH
from layerlab.core.models import ACTIVATIONS, MOMENTUM
from layerlab.core.spec import RunSpec, Task

MAX_LINE = 100  # characters; the line length ruff checks
PROGRESS_PRINTS = 10  # progress lines over the whole training
NO_BREAK = "\N{NO-BREAK SPACE}"  # keeps a `command` on one line while the summary is wrapped

_SCRIPT = Template('''\
"""A LayerLab run as a standalone PyTorch script.

$summary
"""

$imports

$data
# $train_share of the points for training, the rest for testing$stratify_note
$split$inputs
y_train = torch.tensor(y_train, dtype=$label_dtype)
y_test = torch.tensor(y_test, dtype=$label_dtype)

$model_comment
torch.manual_seed($seed)  # the seed of the initial weights
model = nn.Sequential($modules)

# Loss and optimizer
$loss_fn
optimizer = $optimizer
$penalized_weights
# Training: each epoch visits the training points in a new random order, in minibatches
epochs, batch_size = $epochs, $batch_size
n_train = len(X_train)
generator = torch.Generator().manual_seed($seed)  # the seed of the batch order
for epoch in range(1, epochs + 1):
    order = torch.randperm(n_train, generator=generator)
    epoch_loss = 0.0
    for start in range(0, n_train, batch_size):
        batch = order[start : start + batch_size]
        outputs = model(X_train[batch])$batch_outputs
        loss = loss_fn(outputs, y_train[batch])$penalty
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * len(batch)
    if epoch % $print_every == 0:
        print(f"epoch {epoch:4d}: loss {epoch_loss / n_train:.4f}")

# Evaluation: $evaluation_note
with torch.no_grad():
    train_out, test_out = model(X_train)$squeeze, model(X_test)$squeeze
train_loss, test_loss = loss_fn(train_out, y_train).item(), loss_fn(test_out, y_test).item()
$scores
print(
    f"final train_loss={train_loss:.4f} test_loss={test_loss:.4f} "
    f"$final_scores"
)
$plane_check''')

# How each dataset makes its points: the generators of datasets.py with the spec's values in place.
_DATA = {
    "moons": """\
# Data: $samples points on two interleaving half circles
points, labels = make_moons(n_samples=$samples, noise=$noise, random_state=$data_seed)""",
    "circles": """\
# Data: $samples points on a ring of radius 1 around one of radius 0.5 (noise scaled by 0.4)
points, labels = make_circles(n_samples=$samples, noise=$circles_noise, factor=0.5, random_state=$data_seed)""",  # noqa: E501
    "xor": """\
# Data: $samples points in a square; the label is 1 where x1 and x2 have the same sign
rng = np.random.default_rng($data_seed)
points = rng.uniform(-1.0, 1.0, size=($samples, 2))
points += np.sign(points) * 0.05  # a small gap along the axes, where the label flips
labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
points += rng.normal(0.0, $xor_noise, size=points.shape)""",
    "gaussian": """\
# Data: $samples points in two Gaussian clouds: class 0 around (-1, -1), class 1 around (1, 1)
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % 2
centers = np.where(labels[:, None] == 1, 1.0, -1.0)  # (N, 2)
points = centers + rng.normal(0.0, $cloud_spread, size=($samples, 2))""",
    "spiral": """\
# Data: $samples points on two interleaved spiral arms
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % 2
t = rng.uniform(0.05, 1.0, size=$samples)  # distance from the centre
angle = 3.5 * np.pi * t + np.pi * labels  # the arm of class 1 is turned by half a turn
points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
points += rng.normal(0.0, $spiral_noise, size=points.shape)""",
    "blobs": """\
# Data: $samples points in $classes Gaussian clouds on a circle of radius 2, one class each
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % $classes
angles = 2 * np.pi * np.arange($classes) / $classes + np.pi / 2
centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # ($classes, 2)
points = centers[labels] + rng.normal(0.0, $cloud_spread, size=($samples, 2))""",
    "multigauss": """\
# Data: $samples points in a square; the target is a surface of signed Gaussian bumps
bumps = [  # (x, y, height, width) of each bump
$bumps
]
rng = np.random.default_rng($data_seed)
points = rng.uniform(-1.0, 1.0, size=($samples, 2))
targets = np.zeros($samples)
for cx, cy, height, width in bumps:
    r2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
    targets += height * np.exp(-r2 / (2 * width**2))
targets += rng.normal(0.0, $multigauss_noise, size=$samples)""",
    "plane": """\
# Data: $samples points (x, z) in [-10, 10] and targets $plane_formula + noise
rng = np.random.default_rng($data_seed)
points = rng.uniform(-10.0, 10.0, size=($samples, 2))
targets = points @ np.array($plane_weights) + $plane_bias
targets += rng.uniform(-$plane_noise, $plane_noise, size=$samples)""",
    "features4": """\
# Data: $samples points of 4 features in [0, 1]; a hidden linear rule gives the labels, and
# the noise flips a share of them (noise 1 flips half: the labels are then random)
rng = np.random.default_rng($data_seed)
points = rng.uniform(0.0, 1.0, size=($samples, 4))
rule = rng.normal(size=4)
labels = ((points - 0.5) @ rule > 0).astype(np.int64)
flip = rng.uniform(size=$samples) < $flip_share
labels = np.where(flip, 1 - labels, labels)""",
    "csv": """\
# Data: your CSV table, a header row then one row per point. A simple reader: every column but
# the label holds numbers, and no cell is empty.
csv_path = $source
with open(csv_path, newline="", encoding="utf-8-sig") as file:
    text = file.read()
dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\\t")  # comma, semicolon or tab
header, *rows = [row for row in csv.reader(text.splitlines(), dialect) if any(row)]
label = $label_index
points = np.array([[float(cell) for i, cell in enumerate(row) if i != label] for row in rows])
$csv_labels""",
}

_CSV_LABELS = {
    "classes": "class_names, labels = np.unique("
    "[row[label].strip() for row in rows], return_inverse=True)",
    "regression": "targets = np.array([float(row[label]) for row in rows])",
}

_FEATURES = """


def features(x):  # (N, 2) points -> (N, $n_inputs) model inputs
$body


# The float32 points' features, computed in numpy as LayerLab does: torch.sin rounds otherwise
X_train = torch.tensor(features(x_train.astype(np.float32)))
X_test = torch.tensor(features(x_test.astype(np.float32)))"""

# numpy, as features.feature_matrix computes them: torch.sin differs from np.sin in float32
_FEATURE_NUMPY = {name: code.replace("torch.", "np.") for name, code in FEATURE_TORCH.items()}

_RAW_INPUTS = """
X_train = torch.tensor(x_train, dtype=torch.float32)
X_test = torch.tensor(x_test, dtype=torch.float32)"""

_OUTPUTS = {
    "binary": "1 output (the logit of class 1)",
    "multiclass": "$n_outputs outputs (a logit per class)",
    "regression": "1 output (the prediction)",
}

_LOSS = {
    "binary": (
        "loss_fn = nn.BCEWithLogitsLoss()  # sigmoid + BCELoss in one numerically stable step"
    ),
    "multiclass": "loss_fn = nn.CrossEntropyLoss()  # softmax + negative log-likelihood",
    "regression": "loss_fn = nn.MSELoss()  # mean squared error",
}

_OPTIMIZER = {
    "sgd": "torch.optim.SGD(model.parameters(), lr=$lr)",
    "momentum": f"torch.optim.SGD(model.parameters(), lr=$lr, momentum={MOMENTUM})",
    "adam": "torch.optim.Adam(model.parameters(), lr=$lr)",
}

_PENALIZED_WEIGHTS = (
    "weights = [layer.weight for layer in model if isinstance(layer, nn.Linear)]"
    "  # not the biases\n"
)

_PENALTY = {
    "l1": "\n        loss = loss + $rate * sum(w.abs().sum() for w in weights)  # L1 penalty",
    "l2": "\n        loss = loss + $rate * sum(w.pow(2).sum() for w in weights)  # L2 penalty",
}

_BATCH_OUTPUTS = {
    "binary": ".squeeze(1)  # (batch, 1) -> (batch,), like the labels",
    "multiclass": "  # (batch, $n_outputs): a logit per class",
    "regression": ".squeeze(1)  # (batch, 1) -> (batch,), like the targets",
}

_EVALUATION_NOTE = {
    "binary": "loss and accuracy (class 1 where the logit > 0: sigmoid > 0.5) on all points",
    "multiclass": "loss and accuracy (the class of the highest logit) on all points",
    "regression": "mean squared error and its root (RMSE, in the targets' units) on all points",
}

_SCORES = {
    "binary": """\
train_acc = ((train_out > 0).float() == y_train).float().mean().item()
test_acc = ((test_out > 0).float() == y_test).float().mean().item()""",
    "multiclass": """\
train_acc = (train_out.argmax(dim=1) == y_train).float().mean().item()
test_acc = (test_out.argmax(dim=1) == y_test).float().mean().item()""",
    "regression": "train_rmse, test_rmse = math.sqrt(train_loss), math.sqrt(test_loss)",
}

_FINAL_SCORES = {
    "binary": "train_acc={train_acc:.4f} test_acc={test_acc:.4f}",
    "multiclass": "train_acc={train_acc:.4f} test_acc={test_acc:.4f}",
    "regression": "train_rmse={train_rmse:.4f} test_rmse={test_rmse:.4f}",
}

_PLANE_CHECK = """
# The model computes torch.mm(X, W.T) + b: did it find the plane the data came from?
w1, w2 = model[0].weight[0].tolist()
b = model[0].bias.item()
print(f"learned weights {w1:.3f}, {w2:.3f} and bias {b:.3f}; true: $true")
"""


def generate_script(spec: RunSpec, dataset: Dataset | None = None) -> str:
    """A standalone PyTorch script (torch, numpy, scikit-learn) that trains the spec's run.

    It generates the same data, features, initial weights and batches and steps the same
    optimizer as `Trainer(spec)`, so on the CPU it ends with exactly its weights. It prints
    progress about every tenth of the epochs and ends with one line `final train_loss=...
    test_loss=...` then `train_acc=... test_acc=...` (classes) or `train_rmse=...
    test_rmse=...` (regression). `dataset` spares making the data again (an uploaded CSV); by
    default it is made from the spec. Raises DatasetError, as Trainer would, for data or
    features that cannot be used.
    """
    data = dataset if dataset is not None else make_dataset(spec.dataset)
    task = data.task
    n_inputs = model_inputs(data, spec)[0].shape[1]  # also rejects features for non-2-D data
    penalty = ""
    if spec.penalized:  # as Trainer.regularization_loss: only with a kind and a rate above 0
        penalty = _fill(_PENALTY[spec.regularization], rate=spec.regularization_rate)
    script = _SCRIPT.substitute(
        summary=_summary(spec),
        imports=_imports(spec.dataset.name, task),
        data=_data(spec, task),
        train_share=f"{spec.dataset.train_fraction:.0%}",
        stratify_note="" if task == "regression" else " (each class in the same share)",
        split=_split(spec, task),
        inputs=_inputs(spec) if data.is_2d else _RAW_INPUTS,
        label_dtype="torch.long" if task == "multiclass" else "torch.float32",
        model_comment=_model_comment(
            spec, n_inputs, _fill(_OUTPUTS[task], n_outputs=data.n_outputs)
        ),
        seed=spec.seed,
        modules=_modules(spec, n_inputs, data.n_outputs),
        loss_fn=_LOSS[task],
        optimizer=_fill(_OPTIMIZER[spec.optimizer], lr=spec.learning_rate),
        penalized_weights=_PENALIZED_WEIGHTS if spec.penalized else "",
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        batch_outputs=_fill(_BATCH_OUTPUTS[task], n_outputs=data.n_outputs),
        penalty=penalty,
        print_every=math.ceil(spec.epochs / PROGRESS_PRINTS),
        evaluation_note=_EVALUATION_NOTE[task],
        squeeze="" if task == "multiclass" else ".squeeze(1)",
        scores=_SCORES[task],
        final_scores=_FINAL_SCORES[task],
        plane_check=_plane_check() if _is_plane_lesson(spec) else "",
    )
    return _allow_long_lines(script)


def _fill(template: str, **values: object) -> str:
    return Template(template).substitute(**values)


def _summary(spec: RunSpec) -> str:
    data = spec.dataset
    if data.name == "csv":
        dataset = "Dataset csv (your table)"
    else:
        dataset = (
            f"Dataset {data.name} ({data.samples} points, noise {data.noise:g}, seed {data.seed})"
        )
    if spec.hidden_widths:
        layers = f"hidden layers {spec.hidden_widths} with activation {spec.activation}"
    else:
        layers = "no hidden layer"
    penalty = ""
    if spec.regularization != "none":
        penalty = f", {spec.regularization.upper()} penalty {spec.regularization_rate:g}"
    text = (
        f"{dataset}, {layers}, optimizer {spec.optimizer} at learning rate "
        f"{spec.learning_rate:g}, batches of {spec.batch_size}, {spec.epochs} epochs{penalty}, "
        f"seed {spec.seed}. Same data, initial weights, batches and optimizer as LayerLab's run: "
        "on the CPU, with the same library versions, it ends with exactly the numbers of "
        "`layerlab train --device cpu`. Needs torch, numpy and scikit-learn: run it with "
        "`python script.py`."
    )
    unbroken = re.sub(r"`[^`]+`", lambda code: code[0].replace(" ", NO_BREAK), text)
    wrapped = textwrap.fill(unbroken, width=MAX_LINE - 4, break_on_hyphens=False)
    return wrapped.replace(NO_BREAK, " ")


def _imports(dataset_name: str, task: Task) -> str:
    from_sklearn = dataset_name in ("moons", "circles")
    stdlib = [
        *(["csv"] if dataset_name == "csv" else []),
        *(["math"] if task == "regression" else []),
    ]
    lines = [
        *(f"import {module}" for module in stdlib),
        *([""] if stdlib else []),
        "import numpy as np",
        "import torch",
        *([f"from sklearn.datasets import make_{dataset_name}"] if from_sklearn else []),
        "from sklearn.model_selection import train_test_split",
        "from torch import nn",
    ]
    return "\n".join(lines)


def _data(spec: RunSpec, task: Task) -> str:
    ds = spec.dataset
    noise = ds.noise
    return Template(_DATA[ds.name]).substitute(
        samples=ds.samples,
        noise=noise,
        data_seed=ds.seed,
        classes=ds.classes,
        circles_noise=_exact(0.4 * noise, f"0.4 * {noise!r}"),
        xor_noise=_exact(0.3 * noise, f"0.3 * {noise!r}"),
        cloud_spread=_exact(0.3 + noise, f"0.3 + {noise!r}"),
        spiral_noise=_exact(0.15 * noise, f"0.15 * {noise!r}"),
        multigauss_noise=_exact(0.2 * noise, f"0.2 * {noise!r}"),
        plane_noise=_exact(10.0 * noise, f"10.0 * {noise!r}"),
        flip_share=_exact(noise / 2, f"{noise!r} / 2"),
        bumps="\n".join(f"    {bump}," for bump in MULTIGAUSS_BUMPS),
        plane_formula=_plane_formula(),
        plane_weights=list(PLANE_WEIGHTS),
        plane_bias=PLANE_BIAS,
        source=_csv_source(ds.source),
        label_index=_csv_label_index(ds.label_column),
        csv_labels=_CSV_LABELS["regression" if task == "regression" else "classes"],
    )


def _split(spec: RunSpec, task: Task) -> str:
    """train_test_split exactly as datasets._split calls it: stratified for classes."""
    labels = "targets" if task == "regression" else "labels"
    stratify = "" if task == "regression" else f", stratify={labels}"
    fraction, seed = spec.dataset.train_fraction, spec.dataset.seed
    arguments = f"points, {labels}, train_size={fraction}, random_state={seed}{stratify}"
    head = "x_train, x_test, y_train, y_test = train_test_split"
    line = f"{head}({arguments})"
    return line if len(line) <= MAX_LINE else f"{head}(\n    {arguments}\n)"


def _inputs(spec: RunSpec) -> str:
    """The spec's features of the 2-D points, as numpy expressions."""
    columns = [_FEATURE_NUMPY[name] for name in spec.features]
    body = f"    return np.stack([{', '.join(columns)}], axis=1)"
    if len(body) > MAX_LINE:
        listed = "".join(f"        {column},\n" for column in columns)
        body = f"    columns = [\n{listed}    ]\n    return np.stack(columns, axis=1)"
    return _fill(_FEATURES, n_inputs=len(columns), body=body)


def _modules(spec: RunSpec, n_inputs: int, n_outputs: int) -> str:
    """The layers of models.build_model, in its order, so the same seed gives the same weights."""
    activation = ACTIVATIONS[spec.activation]
    widths = [n_inputs, *spec.hidden_widths]
    modules = []
    for fan_in, fan_out in pairwise(widths):
        modules.append(f"nn.Linear({fan_in}, {fan_out})")
        if activation is not None:
            modules.append(f"nn.{activation.__name__}()")
    modules.append(f"nn.Linear({widths[-1]}, {n_outputs})")
    if len(modules) == 1:
        return modules[0]
    return "\n" + "".join(f"    {module},\n" for module in modules)


def _model_comment(spec: RunSpec, n_inputs: int, outputs: str) -> str:
    activation = ACTIVATIONS[spec.activation]
    hidden = f"{spec.depth} hidden layer{'s' if spec.depth > 1 else ''}"
    if not spec.hidden_widths:
        layers = f"no hidden layer, one linear map from {n_inputs} inputs to {outputs}"
    elif activation is None:
        layers = f"{hidden} without activation (so one linear map), {outputs}"
    else:
        layers = f"{hidden} with {activation.__name__}, then {outputs}"
    return textwrap.fill(f"Model: {layers}", MAX_LINE, initial_indent="# ", subsequent_indent="# ")


def _plane_check() -> str:
    w1, w2 = PLANE_WEIGHTS
    return _fill(_PLANE_CHECK, true=f"{w1:g}, {w2:g} and {PLANE_BIAS:g}")


def _is_plane_lesson(spec: RunSpec) -> bool:
    """The plane's true weights only compare with a linear model of the raw x and z."""
    return spec.dataset.name == "plane" and not spec.hidden_widths and spec.features == ["x1", "x2"]


def _plane_formula() -> str:
    (w1, w2), b = PLANE_WEIGHTS, PLANE_BIAS
    return f"y = {w1:g}x {'-' if w2 < 0 else '+'} {abs(w2):g}z + {b:g}"


def _csv_source(source: str | None) -> str:
    literal = json.dumps(source, ensure_ascii=False)  # a double-quoted Python string
    fits = len(f"csv_path = {literal}") <= MAX_LINE
    return literal if fits else f"(\n    {literal}\n)"  # as ruff format wraps it


def _csv_label_index(label_column: str | None) -> str:
    if label_column is None:
        return "len(header) - 1  # the last column"
    name = json.dumps(label_column, ensure_ascii=False)
    return f"[name.strip() for name in header].index({name})"


def _exact(value: float, formula: str) -> str:
    """`value` as a short literal when one equals it exactly, else the formula that computes it."""
    short = repr(round(value, 12))
    return short if float(short) == value else formula


def _allow_long_lines(script: str) -> str:
    """Mark the rare line that long literals (a CSV path, huge seeds) push past the limit."""
    return "".join(
        f"{line}  # noqa: E501\n" if len(line) > MAX_LINE else f"{line}\n"
        for line in script.splitlines()
    )
