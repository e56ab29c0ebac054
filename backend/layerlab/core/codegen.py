"""The standalone PyTorch script for a spec: LayerLab's run, written as the course writes it.

The script generates the same data and features, starts from the same initial weights, draws
the same batches and steps the same torch.optim optimizer as `Trainer`, so on the CPU it ends
with exactly the weights and numbers of `layerlab train --device cpu`. It is one plain
`string.Template` with small pieces chosen by the spec (the data's piece is its dataset's
snippet, from the registry); the spec's values appear as literals, and its comments and printed
messages come from a table of phrases per language. Its length (about 450 lines) is the
script's: the template and its pieces read top to bottom as the script does.
"""

import json
import math
import re
import sys
import textwrap
from itertools import pairwise
from string import Template

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.datasets import (
    CSV_LABELS,
    DATASETS,
    Dataset,
    LinearTruth,
    Snippet,
    Task,
    make_dataset,
    model_inputs,
)
from layerlab.core.features import FEATURE_TORCH
from layerlab.core.models import MOMENTUM
from layerlab.core.script_phrases import PHRASES, Language
from layerlab.core.spec import RunSpec

MAX_LINE = 100  # characters; the line length ruff checks
PROGRESS_PRINTS = 10  # progress lines over the whole training
NO_BREAK = "\N{NO-BREAK SPACE}"  # keeps a `command` on one line while the summary is wrapped
UNSAFE_IN_FILE_NAME = "/\\\"'`"  # path separators and quotes

_SCRIPT = Template('''\
"""$title

$summary
"""

$imports

$data
# $split_note
$split$inputs
y_train = torch.tensor(y_train, dtype=$label_dtype)
y_test = torch.tensor(y_test, dtype=$label_dtype)

# $model_note
torch.manual_seed($seed)  # $initial_seed
model = nn.Sequential($modules)

# $loss_and_optimizer
loss_fn = $loss_fn  # $loss_note
optimizer = $optimizer
$penalized_weights
# $training_note
epochs, batch_size = $epochs, $batch_size
n_train = len(X_train)
generator = torch.Generator().manual_seed($seed)  # $batch_seed
for epoch in range(1, epochs + 1):
    order = torch.randperm(n_train, generator=generator)
    epoch_loss = 0.0
    for start in range(0, n_train, batch_size):
        batch = order[start : start + batch_size]
        outputs = model(X_train[batch])$squeeze  # $batch_note
        loss = loss_fn(outputs, y_train[batch])$penalty
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * len(batch)
    if epoch % $print_every == 0:
        print(f"$progress")

# $evaluation_note
with torch.no_grad():
    train_out, test_out = model(X_train)$squeeze, model(X_test)$squeeze
train_loss, test_loss = loss_fn(train_out, y_train).item(), loss_fn(test_out, y_test).item()
$scores
print(
    f"final train_loss={train_loss:.4f} test_loss={test_loss:.4f} "
    f"$final_scores"
)
$plane_check''')

_FEATURES = """


def features(x):  # $features_shape
$body


# $features_note
X_train = torch.tensor(features(x_train.astype(np.float32)))
X_test = torch.tensor(features(x_test.astype(np.float32)))"""

# numpy, as features.feature_matrix computes them: torch.sin differs from np.sin in float32
_FEATURE_NUMPY = {name: code.replace("torch.", "np.") for name, code in FEATURE_TORCH.items()}

_RAW_INPUTS = """
X_train = torch.tensor(x_train, dtype=torch.float32)
X_test = torch.tensor(x_test, dtype=torch.float32)"""

_LOSS = {
    "binary": "nn.BCEWithLogitsLoss()",
    "multiclass": "nn.CrossEntropyLoss()",
    "regression": "nn.MSELoss()",
}

_OPTIMIZER = {
    "sgd": "torch.optim.SGD(model.parameters(), lr=$lr)",
    "momentum": f"torch.optim.SGD(model.parameters(), lr=$lr, momentum={MOMENTUM})",
    "adam": "torch.optim.Adam(model.parameters(), lr=$lr)",
}

_PENALIZED_WEIGHTS = (
    "weights = [layer.weight for layer in model if isinstance(layer, nn.Linear)]  # $not_biases\n"
)

_PENALTY = "\n        loss = loss + $rate * sum($term for w in weights)  # $penalty_note"
_PENALTY_TERM = {"l1": "w.abs().sum()", "l2": "w.pow(2).sum()"}

_SCORES = {
    "binary": """\
train_acc = ((train_out > 0).float() == y_train).float().mean().item()
test_acc = ((test_out > 0).float() == y_test).float().mean().item()""",
    "multiclass": """\
train_acc = (train_out.argmax(dim=1) == y_train).float().mean().item()
test_acc = (test_out.argmax(dim=1) == y_test).float().mean().item()""",
    "regression": "train_rmse, test_rmse = math.sqrt(train_loss), math.sqrt(test_loss)",
}

# The keys are the script's variables, as `layerlab train` names its metrics: not translated.
_FINAL_SCORES = {
    "binary": "train_acc={train_acc:.4f} test_acc={test_acc:.4f}",
    "multiclass": "train_acc={train_acc:.4f} test_acc={test_acc:.4f}",
    "regression": "train_rmse={train_rmse:.4f} test_rmse={test_rmse:.4f}",
}

_PLANE_CHECK = """
# $plane_question
w1, w2 = model[0].weight[0].tolist()
b = model[0].bias.item()
print(f"$plane_learned")
"""


def generate_script(
    spec: RunSpec,
    dataset: Dataset | None = None,
    *,
    upload_name: str | None = None,
    language: Language = "en",
) -> str:
    """A standalone PyTorch script (torch, numpy, scikit-learn) that trains the spec's run.

    It generates the same data, features, initial weights and batches and steps the same
    optimizer as `Trainer(spec)`, so on the CPU it ends with exactly its weights. It prints
    progress about every tenth of the epochs and ends with one line `final train_loss=...
    test_loss=...` then `train_acc=... test_acc=...` (classes) or `train_rmse=...
    test_rmse=...` (regression). `dataset` spares making the data again (an uploaded CSV); by
    default it is made from the spec. A csv spec's source is opened as it is, unless it names
    an upload: then `upload_name` is the file name the learner uploaded, and the script opens
    that name, made a safe file name, in the folder it runs in. Comments and printed
    messages are in `language`, but for the final line's names; the code is the same in every
    language. Raises DatasetError, as Trainer would, for data or features that cannot be used.
    """
    data = dataset if dataset is not None else make_dataset(spec.dataset)
    text = PHRASES[language]
    task = data.task
    registered = DATASETS[spec.dataset.name]
    snippet, truth = registered.script, registered.truth
    assert snippet is not None, f"the dataset {registered.name!r} has no script snippet"
    n_inputs = model_inputs(data, spec)[0].shape[1]  # also rejects features for non-2-D data
    penalty = ""
    if spec.penalized:  # as Trainer.regularization_loss: only with a kind and a rate above 0
        penalty = _fill(
            _PENALTY,
            rate=spec.regularization_rate,
            term=_PENALTY_TERM[spec.regularization],
            penalty_note=_fill(text["penalty"], kind=spec.regularization.upper()),
        )
    split_note = text["split_regression" if task == "regression" else "split_classes"]
    script = _SCRIPT.substitute(
        title=text["title"],
        summary=_summary(spec, text),
        imports=_imports(snippet, task),
        data=_data(spec, snippet, task, text, upload_name),
        split_note=_fill(split_note, percent=f"{spec.dataset.train_fraction * 100:.0f}"),
        split=_split(spec, task),
        inputs=_inputs(spec, text) if data.is_2d else _RAW_INPUTS,
        label_dtype="torch.long" if task == "multiclass" else "torch.float32",
        model_note=_model_note(spec, n_inputs, data.n_outputs, task, text),
        seed=spec.seed,
        initial_seed=text["initial_seed"],
        modules=_modules(spec, n_inputs, data.n_outputs),
        loss_and_optimizer=text["loss_and_optimizer"],
        loss_fn=_LOSS[task],
        loss_note=text[f"loss_{task}"],
        optimizer=_fill(_OPTIMIZER[spec.optimizer], lr=spec.learning_rate),
        penalized_weights=(
            _fill(_PENALIZED_WEIGHTS, not_biases=text["not_biases"]) if spec.penalized else ""
        ),
        training_note=text["training"],
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        batch_seed=text["batch_seed"],
        batch_note=_fill(text[f"batch_{task}"], n_outputs=data.n_outputs),
        penalty=penalty,
        print_every=math.ceil(spec.epochs / PROGRESS_PRINTS),
        progress=text["progress"],
        evaluation_note=text[f"evaluation_{task}"],
        squeeze="" if task == "multiclass" else ".squeeze(1)",
        scores=_SCORES[task],
        final_scores=_FINAL_SCORES[task],
        plane_check=_plane_check(spec, truth, text),
    )
    return _allow_long_lines(_wrap_comments(script))


def script_file_name(upload_name: str, dataset_id: str) -> str:
    """The uploaded name, stripped, with each path separator, quote and unprintable character
    (line breaks too) made `_`; `<id>.csv` if nothing usable is left. The upload's download
    (GET /api/datasets/{id}/file) is named so too: the script finds the file it saved."""
    safe = _plain(upload_name)
    return safe if safe not in ("", ".", "..") else _plain(f"{dataset_id}.csv")


def _plain(text: str) -> str:
    # `_` rather than nothing: browsers save a download under a name changed the same way
    return "".join(
        "_" if char in UNSAFE_IN_FILE_NAME or not char.isprintable() else char
        for char in text.strip()
    )


def _fill(template: str, **values: object) -> str:
    return Template(template).substitute(**values)


def _summary(spec: RunSpec, text: dict[str, str]) -> str:
    data = spec.dataset
    if data.name == "csv":
        dataset = text["summary_csv"]
    else:
        dataset = _fill(
            text["summary_data"],
            name=data.name,
            samples=data.samples,
            noise=f"{data.noise:g}",
            seed=data.seed,
        )
    if spec.hidden_widths:
        layers = _fill(
            text["summary_hidden"], widths=spec.hidden_widths, activation=spec.activation
        )
    else:
        layers = text["summary_no_hidden"]
    penalty = ""
    if spec.regularization != "none":
        penalty = _fill(
            text["summary_penalty"],
            kind=spec.regularization.upper(),
            rate=f"{spec.regularization_rate:g}",
        )
    summary = _fill(
        text["summary"],
        dataset=dataset,
        layers=layers,
        optimizer=spec.optimizer,
        lr=f"{spec.learning_rate:g}",
        batch_size=spec.batch_size,
        epochs=spec.epochs,
        penalty=penalty,
        seed=spec.seed,
    )
    unbroken = re.sub(r"`[^`]+`", lambda code: code[0].replace(" ", NO_BREAK), summary)
    wrapped = textwrap.fill(unbroken, width=MAX_LINE - 4, break_on_hyphens=False)
    return wrapped.replace(NO_BREAK, " ")


def _imports(snippet: Snippet, task: Task) -> str:
    """The standard library's imports, a blank line, then the others, each group as isort sorts."""
    lines = {
        *snippet.imports,
        *(["import math"] if task == "regression" else []),
        "import numpy as np",
        "import torch",
        "from sklearn.model_selection import train_test_split",
        "from torch import nn",
    }
    stdlib = {line for line in lines if line.split()[1] in sys.stdlib_module_names}
    others = lines - stdlib

    def in_order(group: set[str]) -> list[str]:
        return sorted(group, key=lambda line: (line.startswith("from "), line))

    return "\n".join([*in_order(stdlib), *([""] if stdlib else []), *in_order(others)])


def _data(
    spec: RunSpec, snippet: Snippet, task: Task, text: dict[str, str], upload_name: str | None
) -> str:
    """The dataset's snippet, its holes filled with the spec's values and its phrases."""
    ds = spec.dataset
    values = {
        "samples": ds.samples, "noise": ds.noise, "data_seed": ds.seed, "classes": ds.classes,
        **snippet.values(ds.noise),
    }  # fmt: skip
    if ds.name == "csv":
        values |= _csv_values(ds.source or "", ds.label_column, task, text, upload_name)
    # The phrases the snippet's holes name, with what they say filled in.
    holes = re.findall(r"\$\{?(\w+)", snippet.code)
    phrases = {key: _fill(text[key], **values) for key in holes if key in text}
    return Template(snippet.code).substitute(**values, **phrases)


def _csv_values(
    source: str, label_column: str | None, task: Task, text: dict[str, str], upload_name: str | None
) -> dict[str, object]:
    """The CSV snippet's holes: where the file is, which column is the label, how labels read."""
    upload_note = ""
    if upload_name is not None:
        dataset_id = _plain(source)  # no line break: it goes in a comment
        upload_note = "# " + _fill(text["csv_upload"], dataset_id=dataset_id) + "\n"
        source = script_file_name(upload_name, source)
    return {
        "upload_note": upload_note,
        "source": _csv_source(source),
        "label_index": _csv_label_index(label_column, text),
        "csv_labels": CSV_LABELS["regression" if task == "regression" else "classes"],
    }


def _split(spec: RunSpec, task: Task) -> str:
    """train_test_split exactly as datasets._split calls it: stratified for classes."""
    labels = "targets" if task == "regression" else "labels"
    stratify = "" if task == "regression" else f", stratify={labels}"
    fraction, seed = spec.dataset.train_fraction, spec.dataset.seed
    arguments = f"points, {labels}, train_size={fraction}, random_state={seed}{stratify}"
    head = "x_train, x_test, y_train, y_test = train_test_split"
    line = f"{head}({arguments})"
    return line if len(line) <= MAX_LINE else f"{head}(\n    {arguments}\n)"


def _inputs(spec: RunSpec, text: dict[str, str]) -> str:
    """The spec's features of the 2-D points, as numpy expressions."""
    columns = [_FEATURE_NUMPY[name] for name in spec.features]
    body = f"    return np.stack([{', '.join(columns)}], axis=1)"
    if len(body) > MAX_LINE:
        listed = "".join(f"        {column},\n" for column in columns)
        body = f"    columns = [\n{listed}    ]\n    return np.stack(columns, axis=1)"
    return _fill(
        _FEATURES,
        features_shape=_fill(text["features_shape"], n_inputs=len(columns)),
        body=body,
        features_note=text["features_note"],
    )


def _modules(spec: RunSpec, n_inputs: int, n_outputs: int) -> str:
    """The layers of models.build_model, in its order, so the same seed gives the same weights."""
    activation = ACTIVATIONS[spec.activation].module
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


def _model_note(
    spec: RunSpec, n_inputs: int, n_outputs: int, task: Task, text: dict[str, str]
) -> str:
    activation = ACTIVATIONS[spec.activation].module
    outputs = _fill(text[f"outputs_{task}"], n_outputs=n_outputs)
    hidden = (
        _fill(text["model_hidden"], depth=spec.depth)
        if spec.depth > 1
        else text["model_one_hidden"]
    )
    if not spec.hidden_widths:
        layers = _fill(text["model_linear"], n_inputs=n_inputs, outputs=outputs)
    elif activation is None:
        layers = _fill(text["model_no_activation"], hidden=hidden, outputs=outputs)
    else:
        layers = _fill(
            text["model_activation"],
            hidden=hidden,
            activation=activation.__name__,
            outputs=outputs,
        )
    return _fill(text["model"], layers=layers)


def _plane_check(spec: RunSpec, truth: LinearTruth | None, text: dict[str, str]) -> str:
    """The learned weights beside the true ones, where the data has them (the plane's lesson):
    they only compare with a linear model of the raw x and z."""
    if truth is None or spec.hidden_widths or spec.features != ["x1", "x2"]:
        return ""
    (w1, w2), b = truth.weights, truth.bias
    learned = _fill(text["plane_learned"], true_w1=f"{w1:g}", true_w2=f"{w2:g}", true_b=f"{b:g}")
    return _fill(_PLANE_CHECK, plane_question=text["plane_question"], plane_learned=learned)


def _csv_source(source: str) -> str:
    literal = json.dumps(source, ensure_ascii=False)  # a double-quoted Python string
    fits = len(f"csv_path = {literal}") <= MAX_LINE
    return literal if fits else f"(\n    {literal}\n)"  # as ruff format wraps it


def _csv_label_index(label_column: str | None, text: dict[str, str]) -> str:
    if label_column is None:
        return f"len(header) - 1  # {text['csv_last_column']}"
    name = json.dumps(label_column, ensure_ascii=False)
    return f"[name.strip() for name in header].index({name})"


def _wrap_comments(script: str) -> str:
    """Wrap each comment line past the limit: the phrases are longer in some languages."""
    lines = []
    for line in script.split("\n"):
        comment = re.fullmatch(r"( *)# (.*)", line)
        if comment and len(line) > MAX_LINE:
            indent = f"{comment[1]}# "
            line = textwrap.fill(
                comment[2],
                MAX_LINE,
                initial_indent=indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        lines.append(line)
    return "\n".join(lines)


def _allow_long_lines(script: str) -> str:
    """Mark the rare line that long literals (a CSV path, huge seeds) push past the limit."""
    # split("\n"), not splitlines(): a literal may hold U+2028, which is no line break to Python
    return "".join(
        f"{line}  # noqa: E501\n" if len(line) > MAX_LINE else f"{line}\n"
        for line in script.split("\n")[:-1]
    )
