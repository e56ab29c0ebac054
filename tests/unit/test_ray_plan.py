"""Where the Ray executor puts its workers: one per GPU on a GPU node, half the CPUs elsewhere,
none on a head kept free of work; and the sentence a learner reads when an actor is lost."""

from layerlab.engine.executor import WorkerConfig
from layerlab.engine.ray_executor import RayExecutor, _why


def node(node_id: str, address: str, **resources: float) -> dict[str, object]:
    return {"NodeID": node_id, "NodeManagerAddress": address, "Resources": resources}


CLUSTER = [
    node("gpu-node", "10.0.0.3", CPU=16, GPU=2),
    node("cpu-node", "10.0.0.2", CPU=8),
    node("head", "10.0.0.1", CPU=0),
]


def test_one_worker_per_gpu_half_the_cpus_elsewhere_and_none_on_a_free_head() -> None:
    plan = RayExecutor(64, WorkerConfig())._plan(CLUSTER)
    assert (
        plan
        == [("cpu-node", {"num_cpus": 1.0})] * 4
        + [("gpu-node", {"num_gpus": 1.0, "num_cpus": 0.0})] * 2
    )


def test_the_settings_choose_how_many_and_what_each_reserves() -> None:
    shared_gpus = RayExecutor(64, WorkerConfig(), gpus_per_worker=0.5)._plan(CLUSTER)
    assert [resources for name, resources in shared_gpus if name == "gpu-node"] == [
        {"num_gpus": 0.5, "num_cpus": 0.0}
    ] * 4
    cpus_only = RayExecutor(64, WorkerConfig(), gpus_per_worker=0, workers_per_node=3)
    assert (
        cpus_only._plan(CLUSTER)
        == [
            ("cpu-node", {"num_cpus": 1.0}),
        ]
        * 3
        + [("gpu-node", {"num_cpus": 1.0})] * 3
    )


def test_a_lost_actor_is_named_by_what_happened_to_it() -> None:
    node_lost = RuntimeError("The actor died because its node has died. Node Id: abc")
    killed = RuntimeError("The actor is dead because its worker process has died.")
    assert _why(node_lost, "abc123") == "the cluster lost its node, abc123"
    assert _why(killed, "abc123") == (
        "its Ray actor's process on node abc123 was killed or ran out of memory"
    )
    assert _why(None, "abc123") == "its Ray actor on node abc123 stopped"
    assert _why(ValueError("x"), "abc123") == "its Ray actor on node abc123 failed: ValueError"
