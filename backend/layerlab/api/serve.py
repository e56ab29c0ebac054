"""`layerlab serve`: the web server (REST, websockets, the playground page) on one port."""

import argparse
import socket
import sys
from typing import Any

from pydantic import ValidationError

from layerlab.config import Settings, get_settings
from layerlab.core.spec import describe_errors
from layerlab.logs import configure_logging

DESCRIPTION = """\
Serve LayerLab: the playground page at /, the REST API under /api (documented at /docs) and
the run streams at /ws/runs/{id}. Runs train in background worker processes. Settings come from
LAYERLAB_* environment variables (see the README); the flags below override three of them."""

# Other computers can reach it: the teacher needs a token that controls every learner's run.
NEEDS_ADMIN_TOKEN = """\
listening on {host} (--host or LAYERLAB_HOST) lets other computers reach this server, so it \
needs an admin token, which may pause, cancel and delete any run: set LAYERLAB_ADMIN_TOKEN to \
a secret of 16 or more characters, e.g.
  export LAYERLAB_ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
or listen on 127.0.0.1 alone."""


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

    flags = {"host": args.host, "port": args.port, "workers": args.workers}
    overrides = {name: value for name, value in flags.items() if value is not None}
    try:
        settings = Settings(**{**get_settings().model_dump(), **overrides})
    except ValidationError as error:
        for line in describe_errors(error):
            print(f"error: --{line}", file=sys.stderr)
        return 2
    problem = _cannot_start(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, **uvicorn_options(settings)
    )
    return 0


def _cannot_start(settings: Settings) -> str | None:
    """Why the server would fail to start, found before it starts any worker."""
    from layerlab.engine.store import DatabaseDamaged, DatabaseInUse, Store, claim_database

    if settings.reachable_from_network() and settings.admin_token is None:
        return NEEDS_ADMIN_TOKEN.format(host=settings.host)
    if settings.executor == "ray":
        from layerlab.engine.ray_executor import import_ray, unreachable
        from layerlab.usage import UsageError

        try:
            import_ray()
        except UsageError as error:
            return str(error)
        if settings.ray_address and (problem := unreachable(settings.ray_address)):
            return problem
    # the port first: a start refused for it leaves no database file behind
    try:
        _try_binding(settings.host, settings.port)
    except OSError as error:  # gaierror too: a host name that does not resolve
        host = f"[{settings.host}]" if ":" in settings.host else settings.host  # IPv6
        return (
            f"cannot listen on {host}:{settings.port} ({error.strerror}); "
            "another server may be there: choose a port with --port or LAYERLAB_PORT"
        )
    try:
        claim = claim_database(settings.database)
    except DatabaseInUse as error:
        return str(error)
    except OSError as error:
        return f"LAYERLAB_DATABASE: cannot use {settings.database!r}: {error.strerror}"
    try:
        store = Store(settings.database)
        try:
            store.check()
        finally:
            store.close()
    except DatabaseDamaged as error:
        return str(error)
    finally:
        if claim is not None:
            claim.close()  # the app claims it again for its whole life
    return None


def _try_binding(host: str, port: int) -> None:
    """Bind `host:port` as uvicorn will (through asyncio's `create_server`), and let go: each
    address the host resolves to, in its own family, IPv4 or IPv6. Raises OSError if one fails."""
    addresses = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio: an IPv4 listener beside it is no clash
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the app, the same here and in the tests that serve it on a port."""
    return {
        # uvicorn's bound is a backstop: below it the app closes an oversized message (1009)
        # with a sentence naming LAYERLAB_MAX_WS_MESSAGE_BYTES
        "ws_max_size": 16 * settings.max_ws_message_bytes,
        # X-Forwarded-For names the client only when one of these proxies sent it; otherwise
        # (uvicorn would trust 127.0.0.1) a local program could pose as any client
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "log_level": "info",
        # the app logs each request itself (layerlab.access), through the handler it configures
        "access_log": False,
        # Compressing each frame for each viewer was a quarter of the server's time under 200
        # viewers of one run; a run's frames are a few kB (a grid, some numbers) a few times a
        # second, well within a classroom's network uncompressed.
        "ws_per_message_deflate": False,
        "log_config": None,
    }
