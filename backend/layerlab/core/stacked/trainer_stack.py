"""Many runs trained as one stacked model: the classroom engine.

A `TrainerStack` takes over the stepping of K Trainers whose runs share a task and a width class,
whatever their activations (each activation's hidden layers are computed in a block of rows of
their own). Their weights, gradients and optimizer state live in flat `(K, P)` buffers, each
run padded to the stack's geometry (see `model`), and one explicit forward, backward and
optimizer pass steps them all. Each run keeps its own data, batch order, batch size, optimizer,
rates and regularization, and follows the trajectory its Trainer follows alone: a run may join
or leave between steps, and on leaving its Trainer holds exactly the state the stack built. The
stack is as deep as its deepest member: it grows when a deeper run joins and shrinks when the
deepest leaves.
The module is one class (some 500 lines with `stack_key` and its evaluation groups): its join,
leave, refill and step share the flat buffers' layout, which splitting would spread over files.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from layerlab.core.activations import ACTIVATIONS
from layerlab.core.datasets import DATASETS
from layerlab.core.grids import Grid, grid_from_outputs
from layerlab.core.models import MOMENTUM, linear_layers
from layerlab.core.spec import RunSpec
from layerlab.core.stacked.batch_order import BatchOrder
from layerlab.core.stacked.graph import StepGraph
from layerlab.core.stacked.model import (
    Geometry,
    StackedMLP,
    loss_gradient,
    pack,
    placement,
    relayout,
    sample_losses,
    unpack,
)
from layerlab.core.stacked.optimizer import StackedOptimizer, StepSizes, read_state, write_state
from layerlab.core.training import MetricPoint, Trainer

STEPS_PER_REFILL = 128  # batches gathered ahead for every run, so the hot loop gathers none
FLAT = ("params", "grads", "mask", "weight_mask", "velocity", "exp_avg", "exp_avg_sq")
HELD = ("params", "grads", "velocity", "exp_avg", "exp_avg_sq")  # the rows a step changes

StackKey = tuple[Any, ...]  # see stack_key


def width_class(width: int) -> int:
    """Hidden layers pad to a power of two ≥ 16: few stacks, and little padding in each (a
    class of 8 beside 16 measured slower: one more stack costs more than the padding saves)."""
    return max(16, 1 << (width - 1).bit_length())


def batch_class(batch_size: int) -> int:
    """Batches pad to a power of two ≥ 32, with samples of weight 0: runs of batch 10 and 32
    share a stack (one stack fewer costs less than a small batch's padding: a stacked step is
    a few dozen operations whatever its size)."""
    return max(32, 1 << (batch_size - 1).bit_length())


# What a step costs a worker, in steps of one run of width class 16 and batch class 32, with its
# share of the metric and grid passes at their default rates (~8 µs on a core of a 2-core AVX-512
# machine): each stack's own share, the few dozen operations a step is whatever the stack's size
# (~250 µs: some 30 runs' worth), and each run's, which grows with its padded width (class 32
# measured 3.7 times class 16: its grids' products grow with the width squared) and batch.
STACK_STEP_COST = 30.0


def run_step_cost(key: StackKey) -> float:
    """A run's own share of its stack's step, by its key (width class, batch class)."""
    width, batch = max(16, key[3]), key[5]
    return (width / 16) ** 1.9 * batch / 32


def stack_key(run: RunSpec | Trainer) -> StackKey:
    """Runs with one key share a stack: task, outputs, whether they have hidden layers, width
    class, inputs, batch class, dtype, device. Any activations share a stack (one block of
    rows each: a stack fewer saves its output layer, loss and optimizer passes); runs with no
    hidden layer stack apart. Inputs are never padded, and a batch only to its own class,
    whatever its stack mates: a sum over padded zeros can round otherwise than the same sum
    unpadded, and a run's numbers must not depend on its stack mates.

    Of a spec alone, the key as far as it tells before the run's data exists (an upload's task
    and columns, the batch a small table caps): where the server places a run.
    """
    spec = run if isinstance(run, RunSpec) else run.spec
    hidden, width = "none", 0
    if spec.hidden_widths:
        hidden, width = "hidden", width_class(max(spec.hidden_widths))
    if isinstance(run, RunSpec):
        info = DATASETS.get(spec.dataset.name)
        task = (info.task if info else None) or "csv"
        outputs = spec.dataset.classes if task == "multiclass" else None
        batch = batch_class(spec.batch_size)
        return (task, outputs, hidden, width, tuple(spec.features), batch)
    dataset = run.dataset
    return (dataset.task, dataset.n_outputs, hidden, width, run.n_inputs,
            batch_class(run.batch_size), run.dtype, str(run.device))  # fmt: skip


def _padded_cat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Tensors (k_i, a_i, b_i, …) -> (Σ k_i, max a, max b, …), zero-padded at each dim's end."""
    shape = [max(t.shape[d] for t in tensors) for d in range(1, tensors[0].dim())]
    padded = []
    for t in tensors:
        pads = [p for d in reversed(range(1, t.dim())) for p in (0, shape[d - 1] - t.shape[d])]
        padded.append(F.pad(t, pads) if any(pads) else t)
    return torch.cat(padded)


def gather_rows(data: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """data[rows] for a (N, …) tensor: (*rows.shape, …). Rows of a few numbers are gathered as
    single elements of their whole size where one exists (two float32 inputs as one int64):
    index_select copies a row of 8 bytes ~5x slower than one element of 8 bytes."""
    row_bytes = data[0].numel() * data.element_size()
    as_one = _ELEMENT_OF_SIZE.get(row_bytes) if data.dim() > 1 and data.is_contiguous() else None
    if as_one is None:
        return data.index_select(0, rows.view(-1)).view(*rows.shape, *data.shape[1:])
    gathered = data.view(as_one).view(len(data)).index_select(0, rows.view(-1))
    return gathered.view(data.dtype).view(*rows.shape, *data.shape[1:])


_ELEMENT_OF_SIZE = {4: torch.int32, 8: torch.int64, 16: torch.complex128}


class TrainerStack:
    """K Trainers of one `stack_key`, stepped together; see the module's docstring."""

    def __init__(self, trainers: Sequence[Trainer], graphed: bool = False) -> None:
        """`graphed`: on a GPU, each step a CUDA graph's replay (graph.py)."""
        first = trainers[0]
        self.key = stack_key(first)
        self.task, self.n_outputs = first.dataset.task, first.dataset.n_outputs
        self.masked = False  # see _rebuild
        self.dtype, self.device = first.dtype, first.device
        self.geometry = Geometry(first.n_inputs, self.key[3], first.spec.depth, self.n_outputs)
        self.trainers: list[Trainer] = []
        self.orders: list[BatchOrder] = []
        self.rows: dict[str, torch.Tensor] = {}
        self._batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._gathered: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.graphed = graphed
        self.graph: StepGraph | None = None
        self.penalized = False
        self.join(trainers)

    def __len__(self) -> int:
        return len(self.trainers)

    # --- membership ---------------------------------------------------------------------------

    def join(self, trainers: Iterable[Trainer]) -> None:
        """Take over these Trainers' stepping from their current state, from the next step on."""
        joining = list(trainers)
        for trainer in joining:
            if (key := stack_key(trainer)) != self.key:
                raise ValueError(f"a run of key {key} cannot join stack {self.key}")
        if self.trainers:
            self.optimizer.sync()  # the rows are about to be copied: steps counted in first
        geometry = self.geometry
        for trainer in joining:
            geometry = geometry.grown(trainer.n_inputs, trainer.spec.depth)
        if self.trainers and geometry != self.geometry:
            for name in FLAT:
                self.rows[name] = relayout(self.rows[name], self.geometry, geometry)
        self.geometry = geometry
        new_rows = [self._rows_of(trainer) for trainer in joining]
        old_rows = [self.rows] if self.trainers else []
        self.rows = {
            name: _padded_cat([rows[name] for rows in old_rows + new_rows]) for name in new_rows[0]
        }
        self.trainers += joining
        self.orders += [BatchOrder(trainer, self.key[5]) for trainer in joining]
        self._order()
        self._rebuild()

    def _order(self) -> None:
        """Members reordered (otherwise as they joined): a block of rows for each activation,
        and in it one optimizer's runs first, the shallowest first, then the other's, the
        deepest first. Each hidden layer then runs over the rows of the block's runs that have
        it, one span about the boundary (model.py, `spans`). Blocks alternate which optimizer
        comes first (SGD's in the first block, Adam's in the second, …), so that the Adam runs
        of two neighbouring blocks meet: the optimizer's passes run over a few blocks of rows
        of one optimizer each (optimizer.py), and Adam's, nine operations a step, over fewest.
        """
        names = sorted({_activation(trainer) for trainer in self.trainers})

        def place(k: int) -> tuple[int, bool, int]:
            trainer = self.trainers[k]
            block, depth = names.index(_activation(trainer)), trainer.spec.depth
            first = (trainer.spec.optimizer == "adam") == (block % 2 == 1)  # its runs come first
            return block, not first, depth if first else -depth

        order = sorted(range(len(self)), key=place)
        if order != list(range(len(self))):
            self._select(order)

    def _select(self, members: list[int]) -> None:
        """Keep these members (indices), in this order: their rows, Trainers and batch orders."""
        index = torch.tensor(members, dtype=torch.long, device=self.device)
        self.rows = {name: rows.index_select(0, index) for name, rows in self.rows.items()}
        self.trainers = [self.trainers[k] for k in members]
        self.orders = [self.orders[k] for k in members]

    def leave(self, trainers: Iterable[Trainer], write_back: bool = True) -> None:
        """Hand these Trainers back, holding their current weights, optimizer state and order
        (unless `write_back` is False: runs dropped after an error keep what they had)."""
        leaving = {id(trainer) for trainer in trainers}
        self.optimizer.sync()
        for trainer in self.trainers:
            if write_back and id(trainer) in leaving:
                self.write_back(trainer)
        self._select([k for k, trainer in enumerate(self.trainers) if id(trainer) not in leaving])
        if not self.trainers:
            return
        # the deepest run gone, its layers go: nobody computes them, but each costs a step a few
        # operations (views, the output layer's input gathered from more layers) and memory
        depth = max(trainer.spec.depth for trainer in self.trainers)
        if depth < self.geometry.depth:
            shrunk = self.geometry.with_depth(depth)
            for name in FLAT:
                self.rows[name] = relayout(self.rows[name], self.geometry, shrunk)
            self.geometry = shrunk
        self._rebuild()

    def _rows_of(self, trainer: Trainer) -> dict[str, torch.Tensor]:
        """One run's state as (1, …) rows: flat buffers laid out in this stack's geometry."""
        spec, where = trainer.spec, self._placement(trainer)
        params = [(layer.weight, layer.bias) for layer in linear_layers(trainer.model)]
        buffers, adam_steps = read_state(trainer.optimizer, params)  # keyed by the parameters
        layers = [(w.detach(), b.detach()) for w, b in params]
        grads = [(_grad(w), _grad(b)) for w, b in params]
        ones = [(torch.ones_like(w), torch.ones_like(b)) for w, b in layers]
        weights_only = [(torch.ones_like(w), torch.zeros_like(b)) for w, b in layers]
        flat = {"params": layers, "grads": grads, "mask": ones, "weight_mask": weights_only}
        rows = {
            name: pack(value, where, self.geometry)[None]
            for name, value in {**flat, **buffers}.items()
        }

        def column(value: float) -> torch.Tensor:
            return torch.tensor([[value]], dtype=self.dtype, device=self.device)

        rate = trainer.regularization_rate
        rows |= {
            "learning_rate": column(trainer.learning_rate),
            "momentum": column(MOMENTUM if spec.optimizer == "momentum" else 0.0),
            "is_adam": column(float(spec.optimizer == "adam")),
            "adam_steps": column(adam_steps),
            "l1": column(rate if spec.regularization == "l1" else 0.0),
            "l2": column(rate if spec.regularization == "l2" else 0.0),
            "depth": torch.tensor([spec.depth], device=self.device),
            "x_train": trainer.x_train[None],
            "y_train": trainer.y_train[None],
            "train_weights": torch.full_like(trainer.x_train[None, :, 0], 1 / trainer.n_train),
            "x_test": trainer.x_test[None],
            "y_test": trainer.y_test[None],
            "test_weights": torch.full_like(trainer.x_test[None, :, 0], 1 / len(trainer.x_test)),
        }
        if trainer.dataset.is_2d:
            rows["grid_cells"] = trainer.grid_cells()[None]
        else:  # no plane to draw: an empty row, padded like the others
            rows["grid_cells"] = trainer.x_train.new_zeros(1, 0, trainer.n_inputs)
        return rows

    def _placement(self, trainer: Trainer) -> list[tuple[int, int, int]]:
        return placement(self.geometry, trainer.n_inputs, trainer.spec.hidden_widths)

    def _rebuild(self) -> None:
        """Views into the rows for the model and optimizer; batches are gathered afresh."""
        rows = self.rows
        activations = [_activation(trainer) for trainer in self.trainers]
        self.model = StackedMLP(self.geometry, activations, rows["params"], rows["grads"],
                                rows["depth"])  # fmt: skip
        # Where f(0) = 0, a padded unit outputs 0 and its weights out are 0, so every gradient
        # in the padding is exactly 0 already (a run gone to inf aside, whose loss ends it): the
        # mask is needed only by an activation like the sigmoid (f(0) = 0.5)
        zero = torch.zeros(1)
        self.masked = any(ACTIVATIONS[name].value(zero).item() != 0 for name in set(activations))
        self.optimizer = StackedOptimizer(
            rows["params"], rows["grads"], rows["learning_rate"], rows["momentum"],
            rows["is_adam"], rows["adam_steps"], rows["velocity"], rows["exp_avg"],
            rows["exp_avg_sq"],
        )  # fmt: skip
        self._update_penalized()
        self._new_graph()  # the buffers are new: a graph of the old ones would write stale rows
        self.groups = _groups(self.trainers, self.rows, self.device)
        self.grid_groups = _groups(self.trainers, self.rows, self.device, evaluation_class)
        self._batches = []

    def write_back(self, trainer: Trainer) -> None:
        """Give a member's Trainer the stack's state of its run; it stays in the stack."""
        k = next(k for k, member in enumerate(self.trainers) if member is trainer)
        where = self._placement(trainer)
        layers = linear_layers(trainer.model)
        with torch.no_grad():
            for layer, (weight, bias), (weight_grad, bias_grad) in zip(
                layers,
                unpack(self.rows["params"][k], where, self.geometry),
                unpack(self.rows["grads"][k], where, self.geometry),
                strict=True,
            ):
                layer.weight.copy_(weight)
                layer.bias.copy_(bias)
                layer.weight.grad = weight_grad.clone(memory_format=torch.contiguous_format)
                layer.bias.grad = bias_grad.clone()
        self.orders[k].write_back(trainer.step)
        self.optimizer.sync()  # adam_steps up to date
        if trainer.step > 0:
            params = [(layer.weight, layer.bias) for layer in layers]
            buffers = {
                name: unpack(self.rows[name][k], where, self.geometry)
                for name in ("velocity", "exp_avg", "exp_avg_sq")
            }
            adam_steps = float(self.rows["adam_steps"][k, 0])
            write_state(trainer.optimizer, params, trainer.spec.optimizer, buffers, adam_steps)

    def set_rates(
        self, trainer: Trainer, learning_rate: float | None, regularization_rate: float | None
    ) -> None:
        """A member's new rates, from the next step on (its Trainer is told too)."""
        k = next(k for k, member in enumerate(self.trainers) if member is trainer)
        if learning_rate is not None:
            trainer.set_learning_rate(learning_rate)
            self.optimizer.sync()  # step sizes worked out ahead: work them out again
            self.rows["learning_rate"][k] = learning_rate
        if regularization_rate is not None:
            trainer.set_regularization_rate(regularization_rate)
            kind = trainer.spec.regularization
            for name in ("l1", "l2"):
                self.rows[name][k] = regularization_rate if kind == name else 0.0
            self._update_penalized()

    def _update_penalized(self) -> None:
        """Whether any member adds an L1 or L2 term now: the step skips the penalty if none (a
        captured step has or lacks its kernels: it is captured again when that changes)."""
        penalized = bool((self.rows["l1"] > 0).any() or (self.rows["l2"] > 0).any())
        if penalized != self.penalized:
            self.penalized = penalized
            self._new_graph()

    def _new_graph(self) -> None:
        self.graph = StepGraph(self.device) if self.graphed else None

    # --- training -----------------------------------------------------------------------------

    @property
    def steps_left(self) -> int:
        """Steps every member can still take before one of them reaches its last epoch."""
        return min(trainer.total_steps - trainer.step for trainer in self.trainers)

    def _refill(self, steps_done: Sequence[int]) -> None:
        """Gather the next STEPS_PER_REFILL batches of every run, member k's from
        `steps_done[k]` steps past its own: (S, K, batch, …) tensors."""
        n_train = self.rows["x_train"].shape[1]
        taken = [
            self.orders[k].take(trainer.step + done, STEPS_PER_REFILL)
            for k, (trainer, done) in enumerate(zip(self.trainers, steps_done, strict=True))
        ]
        # each run's rows in the (K · N, …) train data flattened, then gathered as whole rows
        rows = torch.stack([i for i, _ in taken], 1)
        rows += torch.arange(0, len(taken) * n_train, n_train).view(1, -1, 1)
        rows = rows.to(self.device)
        weights = torch.stack([w for _, w in taken], 1)
        x = gather_rows(self.rows["x_train"].flatten(0, 1), rows)  # (S, K, batch, I)
        y = gather_rows(self.rows["y_train"].flatten(0, 1), rows)  # (S, K, batch)
        w = weights.to(self.device, self.dtype)
        self._gathered = (x, y, w)
        self._batches = list(zip(x.unbind(0), y.unbind(0), w.unbind(0), strict=True))[::-1]

    @torch.inference_mode()
    def train(self, steps: int, budgets: Sequence[int] | None = None) -> None:
        """`steps` minibatch steps for every member: forward, explicit backward, update.

        With `budgets`, member k takes only the first `budgets[k]` of them and sits out the rest
        (a paced run between its ticks): its weights, optimizer state and batch order stay where
        its last step left them, and nobody's numbers change.
        """
        budgets = [steps] * len(self) if budgets is None else [min(b, steps) for b in budgets]
        stopping: dict[int, list[int]] = {}  # step -> the members that take no more from it
        for k, budget in enumerate(budgets):
            if budget < steps:
                stopping.setdefault(budget, []).append(k)
        held: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []
        for done in range(steps):
            if done in stopping:  # what they hold now, they keep; their rows step idly meanwhile
                members = torch.tensor(stopping[done], device=self.device)
                held.append((members, {name: self.rows[name][members] for name in HELD}))
            if not self._batches:
                self._refill([min(done, budget) for budget in budgets])
            x, y, sample_weights = self._batches.pop()
            sizes = self.optimizer.next_sizes()
            if self.graph is None:
                self._step(x, y, sample_weights, sizes)
            else:
                self.graph.step(self._step, x, y, sample_weights, sizes)
        for trainer, budget in zip(self.trainers, budgets, strict=True):
            trainer.step += budget
        if held:
            self._sat_out(held, [steps - budget for budget in budgets])

    def _step(
        self, x: torch.Tensor, y: torch.Tensor, sample_weights: torch.Tensor, sizes: StepSizes
    ) -> None:
        """One step of every member: forward, explicit backward, penalty, update. Device work
        alone, no host-side state: what a CUDA graph captures."""
        params, grads = self.rows["params"], self.rows["grads"]
        outputs, saved = self.model.forward(x)
        self.model.backward(saved, loss_gradient(self.task, outputs, y, sample_weights))
        if self.penalized:  # d/dw of l1·Σ|w| + l2·Σw², on weights only
            penalty = torch.sign(params).mul_(self.rows["l1"])
            penalty.add_(params * (2 * self.rows["l2"]))
            grads.addcmul_(penalty, self.rows["weight_mask"])
        if self.masked:  # padding gets no update, and stays exactly 0
            grads.mul_(self.rows["mask"])
        self.optimizer.update(sizes)

    def _sat_out(
        self, held: list[tuple[torch.Tensor, dict[str, torch.Tensor]]], skipped: list[int]
    ) -> None:
        """Members that sat out steps get back the state they stopped with, their Adam step
        counts less the steps skipped, and their batches to come from their own step on."""
        for members, rows in held:
            for name, values in rows.items():
                self.rows[name].index_copy_(0, members, values)
        self.optimizer.sync()  # the schedule counted every member's steps: count them again
        column = torch.tensor(skipped, dtype=self.dtype, device=self.device).view(-1, 1)
        self.rows["adam_steps"].sub_(column)
        for k in (k for k, count in enumerate(skipped) if count):
            self._realign(k)

    def _realign(self, k: int) -> None:
        """Member k's batches to come, gathered again from its own step: the stack's step has
        gone past it by the steps it sat out."""
        left = len(self._batches)
        if not left:
            return
        indices, weights = self.orders[k].take(self.trainers[k].step, left)
        indices = indices.to(self.device)
        assert self._gathered is not None
        x, y, w = self._gathered  # the batches to come are views of their last `left` rows
        x[-left:, k] = self.rows["x_train"][k, indices]
        y[-left:, k] = self.rows["y_train"][k, indices]
        w[-left:, k] = weights.to(self.device, self.dtype)

    # --- what viewers see ---------------------------------------------------------------------

    @torch.inference_mode()
    def evaluate(self, samples_per_s: Sequence[float]) -> list[MetricPoint]:
        """Each member's MetricPoint on its whole train and test sets, as Trainer.evaluate
        (within float32's last bits: sums in another order, tanh by NumPy (activations.py))."""
        rows, K = self.rows, len(self)
        names = ["train_loss", "test_loss", "regularization_loss"]
        if self.task != "regression":
            names += ["train_acc", "test_acc"]
        columns = dict(zip(names, rows["params"].new_zeros(len(names), K), strict=True))
        for group in self.groups:
            n_train = group.sizes["train"]
            both = self.model.outputs(
                group.points, group.runs, group.depth, group.width, group.activation
            )
            for split, outputs in (("train", both[:, :n_train]), ("test", both[:, n_train:])):
                y, weights = group.targets[split], group.weights[split]
                losses = (sample_losses(self.task, outputs, y) * weights).sum(1)
                columns[f"{split}_loss"].index_copy_(0, group.runs, losses)
                if self.task == "binary":
                    correct = (outputs[..., 0] > 0).to(y.dtype) == y
                elif self.task == "multiclass":
                    correct = outputs.argmax(-1) == y
                if self.task != "regression":
                    accuracy = (correct * weights).sum(1)
                    columns[f"{split}_acc"].index_copy_(0, group.runs, accuracy)
        weights = rows["params"] * rows["weight_mask"]  # the penalized entries: weights alone
        l1_norms, l2_norms = weights.abs().sum(1), weights.square().sum(1)
        columns["regularization_loss"] = rows["l1"][:, 0] * l1_norms + rows["l2"][:, 0] * l2_norms
        values = dict(zip(columns, torch.stack(list(columns.values())).tolist(), strict=True))
        points = []
        for k, trainer in enumerate(self.trainers):
            point = MetricPoint(
                step=trainer.step,
                epoch=round(trainer.epoch, 4),
                samples_per_s=round(samples_per_s[k], 1),
                **{name: column[k] for name, column in values.items()},
            )
            if self.task == "regression":
                point.train_rmse, point.test_rmse = point.train_loss**0.5, point.test_loss**0.5
            points.append(point)
        return points

    @torch.inference_mode()
    def grids(self) -> list[Grid | None]:
        """Each member's decision-boundary grid (None for data with no plane)."""
        grids: list[Grid | None] = [None] * len(self)
        for group in self.grid_groups:
            if group.sizes["cells"] == 0:
                continue
            outputs = self.model.outputs(
                group.cells, group.runs, group.depth, group.width, group.activation
            )
            for i, k in enumerate(group.members):
                trainer = self.trainers[k]
                if trainer.dataset.is_2d:
                    resolution = trainer.spec.grid_resolution
                    own = outputs[i, : resolution * resolution]
                    grids[k] = grid_from_outputs(own, trainer.dataset, resolution, trainer.step)
        return grids


def evaluation_class(width: int) -> int:
    """Runs of one depth draw their grids together up to this width (a power of two ≥ 4, or
    three quarters of one): a grid is 4,096 points a run, so drawing a narrow run at its
    stack's width costs more than the operations of a group more (grid passes of the bench's
    mix measured 0.55x the time of groups by depth alone). Metric passes, of a few hundred
    points a run, group by depth alone: there, more groups measured slower (1.35x)."""
    if width <= 4:
        return 4
    octave = 1 << (width - 1).bit_length()
    return octave * 3 // 4 if width <= octave * 3 // 4 else octave


@dataclass
class _Group:
    """Members of one activation and depth (for grids, of one width class too), evaluated
    together at their widest member's width, with their data gathered once (it never changes;
    only the weights do)."""

    activation: str
    depth: int
    width: int
    members: list[int]  # member indices
    runs: torch.Tensor  # (k,) the same, as a tensor for indexing
    sizes: dict[str, int]  # the group's most train points, test points and grid cells
    points: torch.Tensor  # (k, I, train + test): train and test points, feature-major
    targets: dict[str, torch.Tensor]  # "train", "test": (k, n) each
    weights: dict[str, torch.Tensor]  # and each point's weight in its run's mean
    cells: torch.Tensor  # (k, I, cells): the grid's points, feature-major


def _groups(
    trainers: Sequence[Trainer],
    rows: dict[str, torch.Tensor],
    device: torch.device,
    width_class: Callable[[int], int] = lambda width: 0,
) -> list[_Group]:
    """Members by activation and depth (and by `width_class` of their widest layer), each group
    at its widest run's width."""
    members: dict[tuple[str, int, int], list[int]] = {}
    for k, trainer in enumerate(trainers):
        width = max(trainer.spec.hidden_widths, default=0)
        key = (_activation(trainer), trainer.spec.depth, width_class(width))
        members.setdefault(key, []).append(k)
    groups = []
    for (activation, depth, _), ks in sorted(members.items()):
        chosen = [trainers[k] for k in ks]
        width = max(max(t.spec.hidden_widths, default=0) for t in chosen)
        sizes = {
            "train": max(t.n_train for t in chosen),
            "test": max(len(t.y_test) for t in chosen),
            "cells": max(t.spec.grid_resolution**2 if t.dataset.is_2d else 0 for t in chosen),
        }
        runs = torch.tensor(ks, device=device)
        splits = ("train", "test")
        points = torch.cat([rows[f"x_{split}"][runs, : sizes[split]] for split in splits], 1)
        cells = rows["grid_cells"][runs, : sizes["cells"]]
        groups.append(
            _Group(
                activation, depth, width, ks, runs, sizes,
                points=points.transpose(1, 2).contiguous(),
                targets={split: rows[f"y_{split}"][runs, : sizes[split]] for split in splits},
                weights={split: rows[f"{split}_weights"][runs, : sizes[split]] for split in splits},
                cells=cells.transpose(1, 2).contiguous(),
            )
        )  # fmt: skip
    return groups


def _activation(trainer: Trainer) -> str:
    """The activation a run's hidden layers compute (none: "linear")."""
    return trainer.spec.activation if trainer.spec.hidden_widths else "linear"


def _grad(tensor: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(tensor) if tensor.grad is None else tensor.grad.detach()
