"""Settings: the one source of limits and deployment choices, read from `LAYERLAB_*` variables."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Limits that a shared server may tighten; every RunSpec bound that can vary lives here."""

    model_config = SettingsConfigDict(env_prefix="LAYERLAB_", extra="ignore")

    max_hidden_layers: int = Field(8, ge=0, le=32, description="Most hidden layers in a network.")
    max_width: int = Field(128, ge=1, le=4096, description="Most neurons in one hidden layer.")
    max_samples: int = Field(5000, ge=20, le=1_000_000, description="Most points in a dataset.")
    max_epochs: int = Field(1000, ge=1, le=1_000_000, description="Most epochs in one run.")
    max_grid_resolution: int = Field(128, ge=8, le=1024, description="Most cells per grid side.")
    device: str = Field(
        "auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'."
    )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests clear the cache to override them."""
    return Settings()
