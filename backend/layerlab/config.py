"""Settings: the one source of limits and deployment choices, read from `LAYERLAB_*` variables."""

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Limits that a shared server may tighten; every RunSpec bound that can vary lives here."""

    model_config = SettingsConfigDict(env_prefix="LAYERLAB_", extra="ignore")

    # --- what one run may ask for -------------------------------------------------------------
    max_hidden_layers: int = Field(8, ge=0, le=32, description="Most hidden layers in a network.")
    max_width: int = Field(128, ge=1, le=4096, description="Most neurons in one hidden layer.")
    max_samples: int = Field(5000, ge=20, le=1_000_000, description="Most points in a dataset.")
    max_epochs: int = Field(1000, ge=1, le=1_000_000, description="Most epochs in one run.")
    max_grid_resolution: int = Field(128, ge=8, le=1024, description="Most cells per grid side.")
    device: str = Field(
        "auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'."
    )

    # --- the server ---------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `layerlab serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `layerlab serve` listens on.")
    database: str = Field(
        "layerlab.db", description="SQLite file of runs and uploads; ':memory:' keeps nothing."
    )
    admin_token: str | None = Field(
        None, min_length=16, description="A token that may control and delete every run."
    )
    workers: int = Field(
        0, ge=0, le=64, description="Training processes; 0 = one per GPU, else 2–4 by CPU count."
    )
    runs_per_worker: int = Field(
        64,
        ge=1,
        le=1024,
        description="Runs one worker holds at once; paused ones cost memory, not time.",
    )
    time_slice_s: float = Field(
        0.02, gt=0, le=1, description="Training time a run gets per turn in its worker."
    )

    # --- fairness on a shared server ----------------------------------------------------------
    max_active_runs_per_client: int = Field(
        4, ge=1, le=10_000, description="Queued, running or paused runs one client may hold."
    )
    max_runs_per_minute: int = Field(
        60, ge=1, le=100_000, description="Runs one client may create per minute."
    )
    max_queued_runs: int = Field(
        200, ge=0, le=100_000, description="Runs waiting for a worker before new ones get 503."
    )

    # --- the stream ---------------------------------------------------------------------------
    metrics_frames_per_s: float = Field(
        20.0, gt=0, le=1000, description="Most metric points a run reports per second."
    )
    grid_frames_per_s: float = Field(
        10.0, gt=0, le=1000, description="Most decision-boundary grids a run sends per second."
    )
    slow_viewer_timeout_s: float = Field(
        15.0, gt=0, description="A websocket that accepts no frame for this long is closed."
    )
    max_ws_message_bytes: int = Field(
        4096, ge=64, le=1_048_576, description="Largest message a browser may send on a websocket."
    )

    # --- request sizes ------------------------------------------------------------------------
    max_request_bytes: int = Field(
        1_048_576, ge=1024, le=1 << 30, description="Largest request body (uploads included)."
    )
    max_predict_points: int = Field(
        10_000, ge=1, le=1_000_000, description="Most points one predict request may send."
    )
    max_wait_s: float = Field(
        600.0, gt=0, description="Longest a `POST /api/runs?wait=true` request waits."
    )

    # --- clean-up -----------------------------------------------------------------------------
    idle_run_timeout_s: float = Field(
        900.0, gt=0, description="An active run nobody has watched or polled this long stops."
    )
    retention_s: float = Field(
        7 * 24 * 3600.0,
        ge=0,
        description="Finished runs and uploads older than this are deleted; 0 keeps them.",
    )

    # --- the log --------------------------------------------------------------------------------
    log_format: Literal["json", "text"] = Field(
        "json", description="`layerlab serve`'s log on stderr: one JSON object a line, or text."
    )

    def worker_count(self, cuda_devices: int) -> int:
        """`workers`, or one per GPU, or 2–4 on a CPU machine (half its cores)."""
        if self.workers:
            return self.workers
        if cuda_devices:
            return cuda_devices
        return max(2, min(4, (os.cpu_count() or 2) // 2))


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests clear the cache to override them."""
    return Settings()
