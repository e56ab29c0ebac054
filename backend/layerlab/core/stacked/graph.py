"""A stack's training step captured once as a CUDA graph and replayed: one launch a step.

A stacked step is a few dozen small kernels. Eager PyTorch launches each from Python, a few
microseconds apiece, which on a GPU caps a stack's steps per second whatever its size; a graph
replays them all in one launch. Before each replay the step's batch and step sizes are copied
into the graph's own input buffers: the only other work a step does.

A graph holds the addresses and shapes of everything it reads and writes, so it lives as long
as the stack's buffers do: the stack makes a new `StepGraph` when its members change (the
buffers are laid out again) or its penalty term comes or goes (the step runs other kernels).
A new one first takes WARMUP_STEPS eager steps through its input buffers on a side stream (the
lazy set-ups PyTorch asks to be done before a capture), then captures. Should a capture fail,
the stack steps eagerly from then on and the log says why: slower, never wrong.

Off a GPU there is nothing to capture: a `StepGraph` there steps its input buffers eagerly,
which is how the capture's bookkeeping is tested on a machine without one.
"""

import logging
from collections.abc import Callable

import torch

from layerlab.core.stacked.optimizer import StepSizes

logger = logging.getLogger("layerlab.workers")

WARMUP_STEPS = 3  # eager steps on a side stream before a capture, as PyTorch's recipe does

# one step of a stack: batch inputs (K, batch, I), targets (K, batch), sample weights
# (K, batch) and step sizes in; the stack's own buffers updated in place
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, StepSizes], None]


class StepGraph:
    """One stack's step, captured on its first steps and replayed on every later one.

    It holds no reference to its stack (each call brings the step to run): a stack that is
    dropped frees its GPU memory at once, not at the next garbage collection.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.inputs: list[torch.Tensor] = []  # x, y, weights and the sizes the graph reads
        self.graph: torch.cuda.CUDAGraph | None = None
        # warm-ups and the capture on one side stream: the BLAS handles the step needs are made
        # for the stream that first uses them, and a capture must find them made
        self._stream: torch.cuda.Stream | None = None
        self.warm_steps = 0  # eager steps taken through the input buffers
        self.failed: str | None = None  # why the capture failed: the stack then steps eagerly

    def step(
        self,
        run: Step,
        x: torch.Tensor,
        y: torch.Tensor,
        weights: torch.Tensor,
        sizes: StepSizes,
    ) -> None:
        """One step on this batch with these sizes: replayed, or `run` on the way to a capture."""
        if self.failed is not None:
            run(x, y, weights, sizes)
            return
        inputs = (x, y, weights, *sizes)
        if not self.inputs:  # the buffers a capture reads: this step's values, in place
            self.inputs = [value.clone() for value in inputs]
        else:
            for buffer, value in zip(self.inputs, inputs, strict=True):
                buffer.copy_(value)
        if self.graph is not None:
            self.graph.replay()
        elif self.device.type != "cuda":
            self._run_inputs(run)
        elif self.warm_steps < WARMUP_STEPS:
            self._on_side_stream(lambda: self._run_inputs(run))
        else:
            self._capture(run)

    def _run_inputs(self, run: Step) -> None:
        x, y, weights, *sizes = self.inputs
        run(x, y, weights, StepSizes(*sizes))
        self.warm_steps += 1

    def _on_side_stream(self, work: Callable[[], None]) -> None:
        """`work` on the side stream, ordered after what the current stream has queued and
        before what it queues next."""
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        current = torch.cuda.current_stream(self.device)
        self._stream.wait_stream(current)
        with torch.cuda.stream(self._stream):
            work()
        current.wait_stream(self._stream)

    def _capture(self, run: Step) -> None:
        """Record the step (recording runs nothing), then replay it for this step.

        capture_begin/end rather than `torch.cuda.graph`, which empties the allocator's cache
        for every stack of the worker at each capture, and on a failed capture would leave the
        side stream current."""
        graph = torch.cuda.CUDAGraph()

        def record() -> None:
            graph.capture_begin()
            try:
                self._run_inputs(run)
            finally:
                graph.capture_end()

        try:
            self._on_side_stream(record)
        except RuntimeError as error:  # e.g. an operation that waits for the GPU mid-step
            cause = error.__context__ or error  # capture_end's own error says only "invalidated"
            self.failed = str(cause)
            logger.warning("a stack's step could not be captured, it steps eagerly: %s", cause)
            torch.cuda.synchronize(self.device)
            self._run_inputs(run)
            return
        self.warm_steps -= 1  # the recording took no step
        self.graph = graph
        graph.replay()
