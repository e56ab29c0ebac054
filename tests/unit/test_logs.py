"""The server's log lines: JSON objects with the record's fields, or its message."""

import json
import logging
import sys

import pytest

from layerlab.api.serve import uvicorn_options
from layerlab.config import Settings
from layerlab.logs import JsonFormatter, WebsocketChatter, configure_logging


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("layerlab.test", logging.WARNING, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    return made


def test_a_record_with_fields_is_one_json_object_of_them() -> None:
    line = JsonFormatter().format(record("ignored", fields={"status": 201, "path": "/api/runs"}))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "layerlab.test"
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    assert (entry["status"], entry["path"]) == (201, "/api/runs")
    assert "message" not in entry


def test_a_plain_record_keeps_its_message_and_its_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failing = record("worker %d stopped")
        failing.args, failing.exc_info = (3,), sys.exc_info()
    entry = json.loads(JsonFormatter().format(failing))
    assert entry["message"] == "worker 3 stopped"
    assert "RuntimeError: boom" in entry["exception"]


def test_the_server_logs_requests_itself_not_through_uvicorn() -> None:
    options = uvicorn_options(Settings())
    assert options["access_log"] is False
    assert options["log_config"] is None  # uvicorn's own lines reach the handler set here


def test_configure_logging_writes_text_or_json_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("text")
        logging.getLogger("layerlab.test").info("plain words")
        configure_logging("json")
        logging.getLogger("layerlab.test").info("as json")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("INFO layerlab.test: plain words")
    assert json.loads(lines[1])["message"] == "as json"
    with pytest.raises(ValueError, match="LAYERLAB_LOG_FORMAT"):
        configure_logging("xml")  # type: ignore[arg-type]


def test_uvicorns_own_websocket_lines_are_left_to_the_access_log() -> None:
    chatter = WebsocketChatter()
    accepted = record('%s - "WebSocket %s" [accepted]')
    accepted.name = "uvicorn.error"
    opened = record("connection open")
    opened.name = "uvicorn.error"
    assert not chatter.filter(accepted) and not chatter.filter(opened)
    assert chatter.filter(record("connection open"))  # another logger's line stays
    started = record("Uvicorn running on %s://%s:%d (Press CTRL+C to quit)")
    started.name = "uvicorn.error"
    assert chatter.filter(started)
