"""Settings a shared server sets: origins and proxies as a teacher writes them, errors naming
the variable, which hosts reach the network, and deploy/.env.example agreeing with them all."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from layerlab.cli import main
from layerlab.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / ".env.example"
# Set by docker-compose.yml for the image's layout; .env could only contradict it.
FIXED_BY_COMPOSE = {"host", "port", "database", "lessons_dir"}


def test_origins_and_proxies_are_comma_separated_and_origins_read_as_browsers_send_them() -> None:
    settings = Settings(
        allowed_origins=" https://Moodle.School.example:443/, http://10.0.0.5:8000,",
        forwarded_allow_ips="10.0.0.2, 172.16.0.0/12, ::1",
    )
    assert settings.allowed_origins == ["https://moodle.school.example", "http://10.0.0.5:8000"]
    assert settings.forwarded_allow_ips == ["10.0.0.2", "172.16.0.0/12", "::1"]
    assert Settings(allowed_origins="").allowed_origins == []
    assert Settings(allowed_origins="*").allowed_origins == ["*"]
    assert Settings().allowed_origins == Settings().forwarded_allow_ips == []


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("allowed_origins", "school.example", "'school.example' is not a web origin"),
        ("allowed_origins", "https://a.example/page", "'https://a.example/page' is not a web"),
        ("allowed_origins", "ftp://a.example", "'ftp://a.example' is not a web origin"),
        ("allowed_origins", "https://a.example:99999", "'https://a.example:99999' is not a web"),
        ("forwarded_allow_ips", "*", "'*' is not an IP address or network"),
        ("forwarded_allow_ips", "10.0.0.2,proxy", "'proxy' is not an IP address or network"),
    ],
)
def test_a_value_that_cannot_be_used_stops_layerlab_naming_the_variable(
    capsys: pytest.CaptureFixture[str],
    override_settings: Callable[..., None],
    variable: str,
    value: str,
    message: str,
) -> None:
    override_settings(**{variable: value})
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: LAYERLAB_{variable.upper()}: {message}")


@pytest.mark.parametrize(
    ("host", "reachable"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("localhost", False),
        ("::1", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.20", True),
        ("school-server", True),
    ],
)
def test_only_loopback_addresses_keep_the_server_to_this_computer(
    host: str, reachable: bool
) -> None:
    assert Settings(host=host).reachable_from_network() is reachable


def test_the_env_example_names_real_settings_with_their_defaults() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    named = [
        match.groups()
        for line in lines
        if (match := re.fullmatch(r"#? ?LAYERLAB_([A-Z0-9_]+)=(.*)", line))
    ]
    assert len(named) >= 15
    defaults = Settings()
    for upper_name, value in named:
        name = upper_name.lower()
        assert name in Settings.model_fields, f"LAYERLAB_{upper_name} is not a setting"
        assert name not in FIXED_BY_COMPOSE, f"docker-compose.yml sets LAYERLAB_{upper_name}"
        if name != "admin_token":  # the one to fill in
            shown = getattr(Settings(**{name: value}), name)
            assert shown == getattr(defaults, name), f"LAYERLAB_{upper_name}: not the default"
    assert ("ADMIN_TOKEN", "") in named  # uncommented, empty: compose refuses to start without
    missing = set(Settings.model_fields) - FIXED_BY_COMPOSE - {n.lower() for n, _ in named}
    assert not missing, f"deploy/.env.example leaves out {sorted(missing)}"
