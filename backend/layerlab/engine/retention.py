"""Retention: finished runs, sweeps and uploads are kept for LAYERLAB_RETENTION_S, then deleted."""

from layerlab.engine.store import Store


def delete_expired(store: Store, cutoff: float, in_use: set[str | None]) -> None:
    """Delete the runs that ended and the uploads made before `cutoff`, but no upload a live
    run still trains on (its worker may need the table again to resume); and the sweeps made
    before it whose runs are all gone."""
    for run_id in store.finished_before(cutoff):
        store.delete_run(run_id)
    for sweep in store.sweeps_before(cutoff):
        if not store.any_run_of([cell["run_id"] for cell in sweep.cells]):
            store.delete_sweep(sweep.id)
    for dataset_id in store.datasets_before(cutoff):
        if dataset_id not in in_use:
            store.delete_dataset(dataset_id)
