"""`layerlab serve`: the web server (REST, websockets, the playground page) on one port."""

import argparse
import logging
import os
from typing import Any

from layerlab.config import Settings, get_settings

DESCRIPTION = """\
Serve LayerLab: the playground page at /, the REST API under /api (documented at /docs) and
the run streams at /ws/runs/{id}. Runs train in background worker processes. Settings come from
LAYERLAB_* environment variables (see the README); the flags below override three of them."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = get_settings()
    parser.add_argument(
        "--host", help=f"Address to bind. Default: {settings.host} (LAYERLAB_HOST)."
    )
    parser.add_argument(
        "--port", type=int, help=f"Port to listen on. Default: {settings.port} (LAYERLAB_PORT)."
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="Training processes. Default: LAYERLAB_WORKERS, else one per GPU or 2–4 on a CPU.",
    )


def command(args: argparse.Namespace) -> int:
    import uvicorn

    from layerlab.api.app import create_app

    overrides = {"HOST": args.host, "PORT": args.port, "WORKERS": args.workers}
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"LAYERLAB_{name}"] = str(value)  # the app reads one Settings
    get_settings.cache_clear()
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run(create_app(), host=settings.host, port=settings.port, **uvicorn_options(settings))
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app, the same here and in the tests that serve it on a port."""
    return {
        # uvicorn's bound is a backstop: below it the app closes an oversized message (1009)
        # with a sentence naming LAYERLAB_MAX_WS_MESSAGE_BYTES
        "ws_max_size": 16 * settings.max_ws_message_bytes,
        "log_level": "info",
    }
