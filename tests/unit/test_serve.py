"""`layerlab serve` on a shared server: an admin token before it listens on the network, and
uvicorn told which proxies to believe. uvicorn itself is replaced: nothing listens here."""

import errno
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from layerlab.cli import main

TOKEN = "a-token-for-these-tests"


@pytest.fixture
def served(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, override_settings: Callable[..., None]
) -> list[dict[str, Any]]:
    """How uvicorn.run was called, once `layerlab serve` got that far."""
    override_settings(database=tmp_path / "runs.db")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


@pytest.fixture
def ipv6_socket() -> Iterator[socket.socket]:
    """A TCP socket bound to a free port of the IPv6 loopback, ::1 (the test skips without)."""
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("::1", 0))
        except OSError as error:
            pytest.skip(f"no IPv6 loopback here ({error.strerror})")
        yield sock


@pytest.mark.parametrize(
    ("flags", "variables"),
    [
        (["--host", "0.0.0.0"], {}),
        ([], {"host": "0.0.0.0"}),
        (["--host", "::"], {}),
        (["--host", "school-server.local"], {}),
    ],
    ids=["--host 0.0.0.0", "LAYERLAB_HOST", "--host ::", "a host name"],
)
def test_listening_on_the_network_needs_an_admin_token(
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
    override_settings: Callable[..., None],
    flags: list[str],
    variables: dict[str, str],
) -> None:
    override_settings(**variables)
    assert main(["serve", "--port", "0", *flags]) == 2
    assert served == []
    error = capsys.readouterr().err
    host = (flags or ["", variables.get("host", "")])[1]
    assert error.startswith(f"error: listening on {host} (--host or LAYERLAB_HOST) lets other")
    assert "set LAYERLAB_ADMIN_TOKEN to a secret of 16 or more characters" in error
    assert "secrets.token_urlsafe" in error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_this_computer_alone_needs_no_token(served: list[dict[str, Any]], host: str) -> None:
    assert main(["serve", "--port", "0", "--host", host]) == 0
    assert served[0]["host"] == host
    assert served[0]["proxy_headers"] is False  # no proxy named: the peer is the client


def test_a_free_port_on_the_ipv6_loopback_is_served(
    served: list[dict[str, Any]], ipv6_socket: socket.socket
) -> None:
    port = ipv6_socket.getsockname()[1]
    ipv6_socket.close()  # free again
    assert main(["serve", "--host", "::1", "--port", str(port)]) == 0
    assert (served[0]["host"], served[0]["port"]) == ("::1", port)


def test_a_taken_port_on_the_ipv6_loopback_is_refused_before_starting(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], ipv6_socket: socket.socket
) -> None:
    ipv6_socket.listen()
    port = ipv6_socket.getsockname()[1]
    assert main(["serve", "--host", "::1", "--port", str(port)]) == 2
    assert served == []
    error = capsys.readouterr().err
    in_use = os.strerror(errno.EADDRINUSE)
    assert error.startswith(f"error: cannot listen on [::1]:{port} ({in_use}); another server")
    assert "--port or LAYERLAB_PORT" in error


def test_a_start_refused_for_its_port_leaves_no_database_behind(
    capsys: pytest.CaptureFixture[str], served: list[dict[str, Any]], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither runs.db nor its lock


def test_with_a_token_it_listens_and_trusts_only_the_named_proxies(
    served: list[dict[str, Any]], override_settings: Callable[..., None]
) -> None:
    override_settings(admin_token=TOKEN, forwarded_allow_ips="10.0.0.5,172.16.0.0/12")
    assert main(["serve", "--port", "0", "--host", "0.0.0.0"]) == 0
    assert served[0]["host"] == "0.0.0.0"
    assert served[0]["proxy_headers"] is True
    assert served[0]["forwarded_allow_ips"] == ["10.0.0.5", "172.16.0.0/12"]


def test_a_token_too_short_is_refused_naming_the_variable(
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
    override_settings: Callable[..., None],
) -> None:
    override_settings(admin_token="short", host="0.0.0.0")
    assert main(["serve", "--port", "0"]) == 2
    assert served == []
    error = capsys.readouterr().err
    assert error.startswith("error: LAYERLAB_ADMIN_TOKEN: String should have at least 16")


def test_a_damaged_database_is_named_in_one_line_with_what_to_do(
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
    tmp_path: Path,
    override_settings: Callable[..., None],
) -> None:
    database = tmp_path / "class.db"
    database.write_bytes(b"this is a spreadsheet, not a database" * 200)
    override_settings(database=database)
    assert main(["serve", "--port", "0"]) == 2
    assert served == []
    error = capsys.readouterr().err
    assert error.startswith(f"error: the database {database} (LAYERLAB_DATABASE) is damaged (")
    assert "move the file aside" in error and error.count("\n") == 1


def test_the_ray_executor_without_ray_stops_before_starting_saying_what_to_install(
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
    override_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    override_settings(executor="ray")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is missing
    assert main(["serve", "--port", "0"]) == 2
    assert served == []
    error = capsys.readouterr().err
    assert error == (
        "error: LAYERLAB_EXECUTOR=ray needs Ray, which is not installed: "
        "pip install 'layerlab[ray]' (in a clone of the repository: make run EXTRAS=ray, or "
        ".venv/bin/pip install -e '.[ray]'; or set LAYERLAB_EXECUTOR=local to train in processes "
        "of this machine)\n"
    )


def test_a_ray_cluster_out_of_reach_stops_the_server_before_starting_naming_the_address(
    capsys: pytest.CaptureFixture[str],
    served: list[dict[str, Any]],
    override_settings: Callable[..., None],
) -> None:
    with socket.socket() as closed:  # bound, never listening: a connection is refused at once
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
        override_settings(executor="ray", ray_address=address)
        assert main(["serve", "--port", "0"]) == 2
    assert served == []
    error = capsys.readouterr().err
    assert error.startswith(
        f"error: LAYERLAB_RAY_ADDRESS: cannot reach the Ray cluster at {address}"
    )
    assert "Connection refused" in error and "leave it empty" in error
