"""The engine: the scheduler (admission, tokens, retention, its reads), the executors behind one
protocol (worker processes of this machine, or actors on a Ray cluster) running the worker loop
with its stacks, the event hub, the store, and sweeps and teachers' rooms over ordinary runs."""
