"""A real Ray cluster of two nodes on this machine, on 127.0.0.1 (Ray's own test helper), for the
tests of the Ray executor and for `pytest --executor ray`."""

import contextlib
from collections.abc import Iterator
from typing import Any

from layerlab.engine.ray_executor import import_ray

HEAD_CPUS, SECOND_CPUS = 2, 1  # one worker on each; the head has room for a replacement


@contextlib.contextmanager
def two_node_cluster() -> Iterator[tuple[Any, Any]]:
    """(cluster, its second node), both nodes up; shut down on exit."""
    import_ray()  # sets what keeps Ray on loopback before Ray starts
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": HEAD_CPUS,
            "node_ip_address": "127.0.0.1",
            "include_dashboard": False,
        },
    )
    try:
        second = cluster.add_node(num_cpus=SECOND_CPUS, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        yield cluster, second
    finally:
        ray = import_ray()
        if ray.is_initialized():  # a server's executor left connected: the head goes too
            ray.shutdown()
        cluster.shutdown()


def ray_settings(address: str) -> dict[str, Any]:
    """LAYERLAB_* values of a server whose workers are actors on that cluster, one per node."""
    return {"executor": "ray", "ray_address": address, "ray_workers_per_node": 1}
