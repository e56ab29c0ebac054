"""Which executor a server uses: the one module that names them all (LAYERLAB_EXECUTOR).

It sits apart from the protocol (executor.py) so that the executors import the protocol and
nothing imports back: a new executor is its module, a name in config's `ExecutorKind` and a
branch here.
"""

from typing import TYPE_CHECKING

from layerlab.engine.executor import Executor

if TYPE_CHECKING:
    from layerlab.config import Settings


def executor_for(settings: "Settings") -> Executor:
    """The executor the settings choose: worker processes of this machine, or actors on a Ray
    cluster. Each is imported only when chosen (Ray is an optional extra)."""
    if settings.executor == "ray":
        from layerlab.engine.ray_executor import RayExecutor

        return RayExecutor.from_settings(settings)
    from layerlab.engine.local_executor import LocalExecutor

    return LocalExecutor.from_settings(settings)
