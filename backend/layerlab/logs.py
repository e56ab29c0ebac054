"""How `layerlab serve` writes its log to stderr: one JSON object a line, or plain text.

A record may carry structured fields in `extra={"fields": {...}}` (the access log does): JSON
lines hold them as top-level keys, ready for a log collector; text lines show the message.
"""

import datetime
import json
import logging
import sys
from typing import Any, Literal

LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"time": ISO 8601 UTC, "level", "logger", then the record's fields or its message}`."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class WebsocketChatter(logging.Filter):
    """Drops uvicorn's own lines for each websocket ('[accepted]', 'connection open', 'connection
    closed'): the access log writes one line for the whole session, when it ends."""

    LINES = ('%s - "WebSocket %s" [accepted]', "connection open", "connection closed")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "uvicorn.error" and record.msg in self.LINES)


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    """Send every logger's records (uvicorn's too) to stderr in `log_format`."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LAYERLAB_LOG_FORMAT: expected json or text; got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(WebsocketChatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
