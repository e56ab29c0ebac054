"""Settings: the one source of limits and deployment choices, read from `LAYERLAB_*` variables."""

import dataclasses
import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from layerlab.core.limits import DEFAULT_LIMITS, Limits

DEFAULT_PORTS = {"http": 80, "https": 443}
ExecutorKind = Literal["local", "ray"]  # see engine/executors.py
# The repository's lessons/, beside backend/ and frontend/ (installed editable, as api/app.py
# finds frontend/).
LESSONS = Path(__file__).resolve().parents[2] / "lessons"


class Settings(BaseSettings):
    """Limits that a shared server may tighten; every RunSpec bound that can vary lives here."""

    model_config = SettingsConfigDict(env_prefix="LAYERLAB_", extra="ignore")

    # --- what one run may ask for (the defaults are core's Limits) -----------------------------
    max_hidden_layers: int = Field(
        DEFAULT_LIMITS.max_hidden_layers,
        ge=0,
        le=32,
        description="Most hidden layers in a network.",
    )
    max_width: int = Field(
        DEFAULT_LIMITS.max_width, ge=1, le=4096, description="Most neurons in one hidden layer."
    )
    max_samples: int = Field(
        DEFAULT_LIMITS.max_samples, ge=20, le=1_000_000, description="Most points in a dataset."
    )
    max_epochs: int = Field(
        DEFAULT_LIMITS.max_epochs, ge=1, le=1_000_000, description="Most epochs in one run."
    )
    max_grid_resolution: int = Field(
        DEFAULT_LIMITS.max_grid_resolution, ge=8, le=1024, description="Most cells per grid side."
    )
    device: str = Field(
        "auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'."
    )
    cuda_graphs: bool = Field(
        False,
        description="On a GPU, each stack's training step captured once as a CUDA graph and "
        "replayed (captured again when its runs or its penalty change); off: eager CUDA. No "
        "effect on the CPU.",
    )

    # --- the server ---------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `layerlab serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `layerlab serve` listens on.")
    database: str = Field(
        "layerlab.db", description="SQLite file of runs and uploads; ':memory:' keeps nothing."
    )
    lessons_dir: Path = Field(
        LESSONS,
        description="Folder of lesson files (*.yaml), read when the server starts; a teacher "
        "adds a lesson by adding a file.",
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
        description="Runs the server holds at once for each worker, pooled (one worker holds at "
        "most twice as many); paused ones cost memory, not time.",
    )
    time_slice_s: float = Field(
        0.02,
        gt=0,
        le=1,
        description="One training round of a worker's stacks: how soon a command is heard.",
    )
    checkpoint_interval_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="How often a training run's weights, state and history reach the database: "
        "what a crash can lose at most.",
    )
    park_paused_after_s: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="A run paused this long leaves its worker (its state kept in the database) "
        "and comes back on resume; at once when a queued run needs its place.",
    )

    # --- where the workers run ----------------------------------------------------------------
    executor: ExecutorKind = Field(
        "local",
        description="Where runs train: 'local' worker processes of this machine, or 'ray' actors "
        "on a Ray cluster (pip install 'layerlab[ray]').",
    )
    ray_address: str | None = Field(
        None,
        description="An existing Ray cluster to join (e.g. ray-head:6379); none starts a Ray on "
        "this machine with the server, on 127.0.0.1 only.",
    )
    ray_workers_per_node: int = Field(
        0,
        ge=0,
        le=256,
        description="Workers on each Ray node; 0 = one per GPU on a GPU node, else half its CPUs "
        "(at least 1).",
    )
    ray_cpus_per_worker: float = Field(
        1.0, gt=0, le=256, description="CPUs Ray reserves for each worker on a CPU node."
    )
    ray_gpus_per_worker: float = Field(
        1.0,
        ge=0,
        le=8,
        description="GPUs Ray reserves for each worker on a node that has GPUs (a fraction shares "
        "one); 0 trains on the CPUs there too.",
    )
    ray_dashboard: bool = Field(
        False,
        description="Start Ray's dashboard with the Ray this server starts itself (on 127.0.0.1; "
        "needs 'ray[default]').",
    )

    # --- who may reach it, and through what ---------------------------------------------------
    # NoDecode: comma-separated in the environment, which is easier to write than a JSON list
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins, besides the server's own, whose pages may call the API and "
        "open streams (e.g. https://moodle.school.example); '*' allows every origin.",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxy addresses or networks trusted to name the client in X-Forwarded-For; "
        "none by default, so a client is the address that connects.",
    )

    # --- fairness on a shared server ----------------------------------------------------------
    max_active_runs_per_client: int = Field(
        4, ge=1, le=10_000, description="Queued, running or paused runs one client may hold."
    )
    max_runs_per_minute: int = Field(
        60, ge=1, le=100_000, description="Runs one client may create per minute."
    )
    max_uploads_per_hour: int = Field(
        20, ge=1, le=100_000, description="CSV files one client may upload per hour."
    )
    max_upload_bytes_per_hour: int = Field(
        20 * 1_048_576,
        ge=1024,
        le=1 << 40,
        description="Bytes of CSV one client may upload per hour (uploads are kept for days).",
    )
    max_sweep_runs: int = Field(
        25,
        ge=1,
        le=1000,
        description="Runs one sweep may create (its depth-0 row is one run); a client trains one "
        "sweep at a time, and its runs count per minute but not among its active runs.",
    )
    max_queued_runs: int = Field(
        200, ge=0, le=100_000, description="Runs waiting for a worker before new ones get 503."
    )

    # --- teachers' rooms ----------------------------------------------------------------------
    room_ttl_s: float = Field(
        21_600.0,
        gt=0,
        le=30 * 86_400,
        description="A room ends this long after it was opened, unless its teacher closes it "
        "first.",
    )
    max_rooms: int = Field(20, ge=0, le=10_000, description="Rooms open on the server at once.")
    max_learners_per_room: int = Field(
        100, ge=1, le=10_000, description="Learners in one room (those who left not counted)."
    )
    max_name_chars: int = Field(
        32, ge=1, le=200, description="Characters in a learner's display name."
    )
    room_frames_per_s: float = Field(
        2.0,
        gt=0,
        le=10,
        description="Frames a room's wall stream sends per second, each with every tile: at 2 "
        "each training tile changes at least once a second.",
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

    @field_validator("allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("ray_address")
    @classmethod
    def _empty_is_none(cls, address: str | None) -> str | None:
        return address.strip() or None if address is not None else None  # `LAYERLAB_RAY_ADDRESS=`

    @field_validator("allowed_origins")
    @classmethod
    def _web_origins(cls, origins: list[str]) -> list[str]:
        return [_web_origin(origin) for origin in origins]

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, addresses: list[str]) -> list[str]:
        for address in addresses:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise PydanticCustomError(
                    "address",
                    "{address} is not an IP address or network (e.g. 10.0.0.2 or "
                    "172.16.0.0/12); list the proxies whose X-Forwarded-For header to trust",
                    {"address": repr(address)},
                ) from None
        return addresses

    def limits(self) -> Limits:
        """What one run may ask for under these settings, as spec and data validation take it."""
        return Limits(
            **{bound.name: getattr(self, bound.name) for bound in dataclasses.fields(Limits)}
        )

    def reachable_from_network(self) -> bool:
        """Whether `host` lets other computers connect: anything but a loopback address."""
        if self.host.lower() == "localhost":
            return False
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: it may well resolve to a network interface
            return True

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


def _web_origin(text: str) -> str:
    """`text` as browsers write an Origin header (lower case, no default port), or an error."""
    if text == "*":
        return text
    parts = urlsplit(text.lower())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or port == -1
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise PydanticCustomError(
            "origin",
            "{origin} is not a web origin: expected http:// or https://, a host and perhaps "
            "a port, with nothing after (e.g. https://moodle.school.example), or '*'",
            {"origin": repr(text)},
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests clear the cache to override them."""
    return Settings()
