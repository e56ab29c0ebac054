"""A run's minibatches drawn ahead, exactly as its Trainer would draw them, and handed back.

The Trainer draws each epoch's order of its training points from its own generator at the
epoch's first step. A stack draws them earlier, many steps at a time, from a copy of that
generator, and keeps each drawn epoch with the generator state before it. `write_back` then puts
the Trainer where it would be had it drawn them itself, at any step, as often as asked, without
touching what the stack drew: reading a run never changes its path.
"""

import torch
import torch.nn.functional as F

from layerlab.core.training import Trainer


class BatchOrder:
    """Row indices and sample weights (1/batch; 0 pads a short batch) of a run's steps."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.n_train, self.batch_size = trainer.n_train, trainer.batch_size
        self.steps_per_epoch = trainer.steps_per_epoch
        # The stack's own copy of the Trainer's generator: the Trainer's is only ever written.
        self._generator = torch.Generator().set_state(trainer.shuffle.get_state())
        # epoch -> its (steps_per_epoch, batch) indices and weights, and the generator state
        # before it was drawn (None: drawn by the Trainer before the stack took over)
        self._epochs: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = {}
        epoch, position = divmod(trainer.step, self.steps_per_epoch)
        if position:
            self._epochs[epoch] = (*self._batches(trainer.epoch_order.cpu()), None)
            epoch += 1
        self._next_epoch = epoch  # the one the generator draws next

    def _batches(self, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One epoch's order -> (steps_per_epoch, batch) indices and weights; the last batch may
        be short, padded with row 0 at weight 0."""
        slots = self.steps_per_epoch * self.batch_size
        indices = F.pad(order, (0, slots - self.n_train)).view(self.steps_per_epoch, -1)
        real = (torch.arange(slots) < self.n_train).view_as(indices).to(torch.float64)
        return indices, real / real.sum(dim=1, keepdim=True)  # float64: exact 1/batch

    def _epoch(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        while self._next_epoch <= epoch:  # drawn in order, as the Trainer draws them
            before = self._generator.get_state()
            order = torch.randperm(self.n_train, generator=self._generator)
            self._epochs[self._next_epoch] = (*self._batches(order), before)
            self._next_epoch += 1
        if epoch not in self._epochs:
            raise ValueError(f"epoch {epoch} lies behind the stack's step: it was forgotten")
        return self._epochs[epoch]

    def take(self, first_step: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps first_step … first_step + count − 1: (count, batch) indices and weights.

        Steps only move forward: epochs before `first_step`'s are forgotten."""
        for old in [e for e in self._epochs if e < first_step // self.steps_per_epoch]:
            del self._epochs[old]
        indices, weights = [], []
        step, end = first_step, first_step + count
        while step < end:
            epoch, position = divmod(step, self.steps_per_epoch)
            epoch_indices, epoch_weights, _ = self._epoch(epoch)
            stop = min(self.steps_per_epoch, position + end - step)
            indices.append(epoch_indices[position:stop])
            weights.append(epoch_weights[position:stop])
            step += stop - position
        return torch.cat(indices), torch.cat(weights)

    def write_back(self, step: int) -> None:
        """Leave the Trainer's order and generator as if it had taken all `step` steps itself.

        `step` is at or after the first step of the last `take` (the stack's current step)."""
        trainer = self.trainer
        epoch, position = divmod(step, self.steps_per_epoch)
        if position:  # mid-epoch: the Trainer holds this epoch's order, and has drawn no further
            indices = self._epoch(epoch)[0]
            trainer.epoch_order = indices.flatten()[: self.n_train].to(trainer.device)
            epoch += 1
        # the generator as it stood before `epoch` was drawn: kept with it, or the stack's own
        # when `epoch` is the next it draws
        drawn = epoch < self._next_epoch
        before = self._epoch(epoch)[2] if drawn else self._generator.get_state()
        assert before is not None, "an epoch the Trainer drew lies behind the stack's step"
        trainer.shuffle.set_state(before)
        trainer.step = step
