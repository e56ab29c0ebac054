"""Admission: what one client may start or upload, and whether the server has room.

Each client (an address, or what a trusted proxy says it is) may have a few runs active at once,
create so many a minute and upload so many files and bytes an hour; the whole server queues at
most so many runs beyond its free places. A refusal is an AdmissionError: 429 for the client's
own limits, 503 when the server is full, each with the seconds to wait.
"""

import collections
import math
import time

from layerlab.config import Settings


class Refused(Exception):
    """What the server will not do (now): the HTTP status that says so and the sentence why,
    and with `retry_after_s` how soon to ask again. The API answers every one alike
    (api/errors.py); the engine's own refusals (a sweep's, a room's) are kinds of it."""

    def __init__(self, status_code: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.retry_after_s = retry_after_s


class AdmissionError(Refused):
    """A run refused for now: 429 (this client's limits) or 503 (the whole server is full)."""

    def __init__(self, status_code: int, message: str, retry_after_s: int) -> None:
        super().__init__(status_code, message, retry_after_s)  # always says when to try again


class Admission:
    """The per-client windows of recent creations and uploads, and the checks against them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._created: dict[str, collections.deque[float]] = {}
        self._uploaded: dict[str, collections.deque[tuple[float, int]]] = {}  # (when, bytes)

    def admit_run(self, client: str, active: int, queued: int, free_slots: int) -> None:
        """A new run of `client`, which has `active` runs; AdmissionError if it may not start."""
        self.check_active(client, active)
        self.check_rate(client, 1)
        self.check_room(queued, free_slots)

    def admit_runs(self, client: str, count: int, queued: int, free_slots: int) -> None:
        """`count` runs of one sweep, all or none: they count against the client's runs per
        minute and the server's queue, not against its active runs (a learner's playground)."""
        self.check_rate(client, count)
        self.check_room(queued + count - 1, free_slots)

    def check_rate(self, client: str, count: int) -> None:
        recent = self._created.get(client, collections.deque())
        while recent and time.monotonic() - recent[0] > 60.0:
            recent.popleft()
        limit = self.settings.max_runs_per_minute
        if len(recent) + count > limit:
            wait_s = math.ceil(60.0 - (time.monotonic() - recent[0])) if recent else 60
            too_many = (
                "the most allowed"
                if count == 1
                else f"and these {count} would make {len(recent) + count}, more than allowed"
            )
            raise AdmissionError(
                429,
                f"this client created {len(recent)} runs in the last minute, {too_many} "
                f"(LAYERLAB_MAX_RUNS_PER_MINUTE={limit}); try again in {wait_s} s",
                retry_after_s=max(1, wait_s),
            )

    def created(self, client: str) -> None:
        self._created.setdefault(client, collections.deque()).append(time.monotonic())

    def check_active(self, client: str, active: int) -> None:
        limit = self.settings.max_active_runs_per_client
        if active >= limit:
            raise AdmissionError(
                429,
                f"this client already has {active} active runs, the most it may have at once "
                f"(LAYERLAB_MAX_ACTIVE_RUNS_PER_CLIENT={limit}); "
                "cancel one or wait for one to finish",
                retry_after_s=5,
            )

    def check_room(self, queued: int, free_slots: int) -> None:
        limit = self.settings.max_queued_runs
        if free_slots <= queued - limit:
            raise AdmissionError(
                503,
                f"the server is full: {queued} runs are already waiting for a worker "
                f"(LAYERLAB_MAX_QUEUED_RUNS={limit}); try again shortly",
                retry_after_s=10,
            )

    def admit_upload(self, client: str, size_bytes: int) -> None:
        """Count an upload against the client's hourly quota; AdmissionError (429) beyond it."""
        settings, now = self.settings, time.monotonic()
        recent = self._uploaded.setdefault(client, collections.deque())
        while recent and now - recent[0][0] > 3600.0:
            recent.popleft()
        count, sent = len(recent), sum(size for _, size in recent)
        wait_s = max(1, math.ceil(3600.0 - (now - recent[0][0]))) if recent else 1
        if count >= settings.max_uploads_per_hour:
            raise AdmissionError(
                429,
                f"this client uploaded {count} files in the last hour, the most allowed "
                f"(LAYERLAB_MAX_UPLOADS_PER_HOUR={settings.max_uploads_per_hour}); "
                f"try again in {wait_s} s, or train on a file uploaded before",
                retry_after_s=wait_s,
            )
        if sent + size_bytes > settings.max_upload_bytes_per_hour:
            raise AdmissionError(
                429,
                f"this upload of {size_bytes} bytes would bring this client's last hour to "
                f"{sent + size_bytes} bytes, more than allowed (LAYERLAB_MAX_UPLOAD_BYTES_PER_HOUR="
                f"{settings.max_upload_bytes_per_hour}); try again in {wait_s} s",
                retry_after_s=wait_s,
            )
        recent.append((now, size_bytes))

    def forget_quiet_clients(self) -> None:
        """Drop the windows of clients with nothing in them any more."""
        now = time.monotonic()
        for client in [
            c for c, times in self._created.items() if not times or now - times[-1] > 60
        ]:
            del self._created[client]
        for client in [
            c for c, sent in self._uploaded.items() if not sent or now - sent[-1][0] > 3600
        ]:
            del self._uploaded[client]
