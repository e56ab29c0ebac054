"""A forward pass walked layer by layer is the model's own computation, and a weight set by hand
lands where the page points: in a model, in saved weights, in a checkpoint."""

import io
from typing import Any

import pytest
import torch
from torch import nn

from layerlab.core.inference import forward_pass, model_inputs_for, predict
from layerlab.core.spec import RunSpec
from layerlab.core.training import Trainer
from layerlab.core.weight_edit import checkpoint_with, set_weight, weight_of, weights_with

POINT = [0.4, -0.7]


def trained(**fields: Any) -> Trainer:
    spec = RunSpec.model_validate({"dataset": {"samples": 100}, "epochs": 3, **fields})
    trainer = Trainer(spec)
    trainer.train_steps(trainer.total_steps)
    return trainer


@pytest.mark.parametrize(
    "fields",
    [
        {"hidden_widths": [5, 3]},
        {"hidden_widths": [4], "activation": "tanh", "features": ["x1", "x2", "x1_x2"]},
        {"hidden_widths": [], "dataset": {"name": "blobs", "samples": 90, "classes": 4}},
        {"hidden_widths": [6, 6], "activation": "linear", "dataset": {"name": "plane"}},
        {"hidden_widths": [3], "dataset": {"name": "features4", "samples": 100}},
    ],
)
def test_the_forward_pass_is_the_models_and_ends_as_predict(fields: dict[str, Any]) -> None:
    trainer = trained(**fields)
    task, spec = trainer.dataset.task, trainer.spec
    point = POINT if trainer.dataset.is_2d else [0.3, -1.2, 0.8, 2.0]
    inputs = model_inputs_for([point], spec, is_2d=trainer.dataset.is_2d)
    walked = forward_pass(trainer.model, inputs[0], task, spec.activation)
    predicted = predict(trainer.model, inputs, task)

    layers = walked["layers"]
    linears = [m for m in trainer.model if isinstance(m, nn.Linear)]
    assert len(layers) == len(linears) == len(spec.hidden_widths) + 1
    assert [layer["kind"] for layer in layers] == ["hidden"] * (len(layers) - 1) + ["output"]
    h = inputs[0]
    for layer, linear in zip(layers, linears, strict=True):  # by hand: z = W·h + b, then f(z)
        assert layer["input"] == pytest.approx(h.tolist(), abs=1e-6)
        z = linear.weight.detach() @ h + linear.bias.detach()
        assert layer["weight"] == linear.weight.tolist() and layer["bias"] == linear.bias.tolist()
        assert layer["pre_activation"] == pytest.approx(z.tolist(), abs=1e-5)
        h = {"relu": torch.relu, "tanh": torch.tanh}.get(layer["activation"], lambda z: z)(z)
    if task == "regression":
        assert walked["value"] == predicted["values"][0]  # the same numbers, not just close
        assert walked["probabilities"] is None and walked["predicted_class"] is None
    else:
        expected = predicted["probabilities"]
        assert walked["probabilities"] == (expected if task == "binary" else expected[0])
        assert layers[-1]["output"] == walked["probabilities"]
        assert walked["predicted_class"] == predicted["classes"][0]
    assert layers[-1]["activation"] == {
        "binary": "sigmoid", "multiclass": "softmax", "regression": "identity"
    }[task]  # fmt: skip


def test_a_weight_set_in_a_state_dict_is_the_models() -> None:
    trainer = trained(hidden_widths=[4, 3])
    state = trainer.model.state_dict()
    assert set_weight(state, 2, 1, 3, -0.5) == -0.5  # layer 2: the second Linear, (3, 4)
    assert float(trainer.model[2].weight.detach()[1, 3]) == -0.5
    assert set_weight(state, 3, 0, None, 0.1) == pytest.approx(0.1)  # the output's bias
    assert float(trainer.model[4].bias.detach()[0]) == pytest.approx(0.1)
    with pytest.raises(IndexError, match="layer: 1 to 3"):
        set_weight(state, 4, 0, 0, 1.0)


def test_a_checkpoint_with_a_weight_set_goes_on_from_it() -> None:
    trainer = trained(hidden_widths=[4])
    checkpoint = trainer.checkpoint()
    edited = Trainer(trainer.spec)
    edited.restore(checkpoint_with(checkpoint, 1, 2, 0, 0.0))
    twin = Trainer(trainer.spec)
    twin.restore(checkpoint)
    set_weight(twin.model.state_dict(), 1, 2, 0, 0.0)  # the same weight, set in the model
    assert edited.step == trainer.step
    assert weight_of(edited.model.state_dict(), 1, 2, 0) == 0.0
    for name, tensor in twin.model.state_dict().items():
        assert torch.equal(edited.model.state_dict()[name], tensor), name
    edited.train_steps(3)
    twin.train_steps(3)  # optimizer state and batch order kept: the same path on
    for name, tensor in twin.model.state_dict().items():
        assert torch.equal(edited.model.state_dict()[name], tensor), name

    buffer = io.BytesIO()
    torch.save(trainer.model.state_dict(), buffer)
    state = torch.load(io.BytesIO(weights_with(buffer.getvalue(), 2, 0, None, 7.0)))
    assert weight_of(state, 2, 0, None) == 7.0
