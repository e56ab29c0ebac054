"""A run's minibatches drawn ahead, exactly as its Trainer would draw them, and handed back.

The Trainer draws each epoch's order of its training points from its own generator at the
epoch's first step. A stack draws them earlier, many steps at a time, from a copy of that
generator, and keeps each drawn epoch's generator state before it. `write_back` then puts the
Trainer where it would be had it drawn them itself, at any step, as often as asked, without
touching what the stack drew: reading a run never changes its path.
"""

from collections.abc import Callable

import torch

from layerlab.core.training import Trainer


class BatchOrder:
    """Row indices and sample weights (1/batch; 0 pads a short batch, and a batch to `width`)
    of a run's steps: views of the epochs drawn so far, one row a step."""

    def __init__(self, trainer: Trainer, width: int | None = None) -> None:
        """`width`: the batch as the stack pads it (its batch class), ≥ the run's batch."""
        self.trainer = trainer
        self.n_train, self.batch_size = trainer.n_train, trainer.batch_size
        self.width = width or self.batch_size
        self.steps_per_epoch = trainer.steps_per_epoch
        # The stack's own copy of the Trainer's generator: the Trainer's is only ever written.
        self._generator = torch.Generator().set_state(trainer.shuffle.get_state())
        # every epoch's weights are the same: 1/batch, and 0 where the last batch is short, in
        # the run's dtype (a division rounds exactly: as float64's 1/batch rounded to float32)
        slots = self.steps_per_epoch * self.batch_size
        real = (torch.arange(slots) < self.n_train).view(self.steps_per_epoch, -1)
        weights = real.to(trainer.dtype) / real.sum(dim=1, keepdim=True)
        self._weights = torch.zeros(self.steps_per_epoch, self.width, dtype=trainer.dtype)
        self._weights[:, : self.batch_size] = weights
        self._weight_rows = self._weights  # the weights of whole epochs, one after another
        self._padded_epoch = torch.zeros(slots, dtype=torch.long)  # see _fill
        # the drawn epochs' steps, from epoch `_first_epoch` up to `_next_epoch` (the one the
        # generator draws next), and the generator state before each was drawn (None: drawn
        # by the Trainer before the stack took over)
        epoch, position = divmod(trainer.step, self.steps_per_epoch)
        self._first_epoch = self._next_epoch = epoch
        self._steps = torch.zeros(0, self.width, dtype=torch.long)
        self._before: dict[int, torch.Tensor | None] = {}
        if position:
            self._steps = self._laid_out(trainer.epoch_order.cpu())
            self._before[epoch] = None
            self._next_epoch += 1

    def _laid_out(self, order: torch.Tensor) -> torch.Tensor:
        """An epoch's order of the training points -> its (steps_per_epoch, width) steps."""
        steps = self._slots(1)
        self._fill(steps, 0, lambda slots: slots.copy_(order))
        return steps

    def _slots(self, epochs: int) -> torch.Tensor:
        """Steps of `epochs` epochs, every slot row 0: a short last batch, and the width past the
        batch, hold row 0 (at weight 0)."""
        return torch.zeros(epochs * self.steps_per_epoch, self.width, dtype=torch.long)

    def _fill(
        self, steps: torch.Tensor, epoch: int, write: Callable[[torch.Tensor], object]
    ) -> None:
        """`write` an epoch's order of the training points into its n_train slots of `steps`:
        in place where they are one run of memory (batches not padded), else copied in."""
        rows = steps[epoch * self.steps_per_epoch : (epoch + 1) * self.steps_per_epoch]
        if self.width == self.batch_size:
            write(rows.view(-1)[: self.n_train])
            return
        batches = self._padded_epoch  # (steps_per_epoch · batch,): zero past n_train
        write(batches[: self.n_train])
        rows[:, : self.batch_size] = batches.view(self.steps_per_epoch, self.batch_size)

    def _draw(self, epoch: int) -> None:
        """The epochs up to `epoch` drawn, in order, as the Trainer draws them."""
        count = epoch + 1 - self._next_epoch
        if count <= 0:
            return
        steps = self._slots(count)
        for drawn in range(count):  # the same order as the Trainer's own randperm
            self._before[self._next_epoch] = self._generator.get_state()
            self._fill(steps, drawn, self._randperm)
            self._next_epoch += 1
        self._steps = torch.cat([self._steps, steps])

    def _randperm(self, out: torch.Tensor) -> None:
        torch.randperm(self.n_train, generator=self._generator, out=out)

    def _forget_before(self, epoch: int) -> None:
        """Epochs before `epoch` dropped: steps only move forward."""
        gone = min(epoch, self._next_epoch) - self._first_epoch
        if gone > 0:
            self._steps = self._steps[gone * self.steps_per_epoch :]
            for old in range(self._first_epoch, self._first_epoch + gone):
                del self._before[old]
            self._first_epoch += gone

    def take(self, first_step: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps first_step … first_step + count − 1: (count, width) indices and weights.

        Steps only move forward: epochs before `first_step`'s are forgotten."""
        self._forget_before(first_step // self.steps_per_epoch)  # first: the draw copies less
        self._draw((first_step + count - 1) // self.steps_per_epoch)
        self._check_kept(first_step // self.steps_per_epoch)
        start = first_step - self._first_epoch * self.steps_per_epoch
        position = first_step % self.steps_per_epoch
        while len(self._weight_rows) < position + count:  # whole epochs of weights, as a view
            self._weight_rows = torch.cat([self._weight_rows, self._weights])
        return self._steps[start : start + count], self._weight_rows[position : position + count]

    def _check_kept(self, epoch: int) -> None:
        """A ValueError for an epoch before the first kept: steps only move forward."""
        if epoch < self._first_epoch:
            raise ValueError(f"epoch {epoch} lies behind the stack's step: it was forgotten")

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        """The order of the training points a drawn epoch went through."""
        self._check_kept(epoch)
        first = (epoch - self._first_epoch) * self.steps_per_epoch
        steps = self._steps[first : first + self.steps_per_epoch, : self.batch_size]
        return steps.flatten()[: self.n_train]

    def write_back(self, step: int) -> None:
        """Leave the Trainer's order and generator as if it had taken all `step` steps itself.

        `step` is at or after the first step of the last `take` (the stack's current step)."""
        trainer = self.trainer
        epoch, position = divmod(step, self.steps_per_epoch)
        if position:  # mid-epoch: the Trainer holds this epoch's order, and has drawn no further
            self._draw(epoch)
            trainer.epoch_order = self._epoch_order(epoch).to(trainer.device, copy=True)
            epoch += 1
        # the generator as it stood before `epoch` was drawn: kept with it, or the stack's own
        # when `epoch` is the next it draws
        if epoch < self._next_epoch:
            self._check_kept(epoch)
            before = self._before[epoch]
        else:
            before = self._generator.get_state()
        assert before is not None, "an epoch the Trainer drew lies behind the stack's step"
        trainer.shuffle.set_state(before)
        trainer.step = step
