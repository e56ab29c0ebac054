"""Every refusal as one JSON shape: {"error": a sentence naming what was wrong, "detail": …}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from layerlab.engine.admission import Refused
from layerlab.engine.store import DatabaseDamaged

logger = logging.getLogger("layerlab.api")


class ApiError(Exception):
    """A request the API refuses, with the status code and the sentence to say why."""

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


def describe_validation(errors: list[Any]) -> list[str]:
    """'dataset.noise: Input should be less than or equal to 1 (got 3)' for each error."""
    lines = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":
            at = [part for part in location if part.isdigit()]  # the character it broke at
            place = f" at character {int(at[0]) + 1}" if at else ""
            where, message = (
                "body",
                f"not valid JSON ({error.get('ctx', {}).get('error', message)}{place})",
            )
        got = ""
        quiet = error.get("type") in ("missing", "json_invalid") or "got " in message
        if "input" in error and not quiet:
            text = repr(error["input"])
            got = f" (got {text if len(text) <= 60 else text[:57] + '...'})"
        lines.append(f"{where}: {message}{got}")
    return lines


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": error.message}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(Refused)  # a client's limits, a full server, a sweep's, a room's
    async def refused(request: Request, refusal: Refused) -> JSONResponse:
        wait = refusal.retry_after_s
        headers = None if wait is None else {"Retry-After": str(wait)}
        return JSONResponse(
            {"error": refusal.message}, status_code=refusal.status_code, headers=headers
        )

    @app.exception_handler(DatabaseDamaged)
    async def database_damaged(request: Request, error: DatabaseDamaged) -> JSONResponse:
        logger.error("%s", error)  # the operator's sentence: which file, and what to do
        message = (
            "the server's database is damaged, so this could not be read or written; "
            "its operator will find what to do in the server's log"
        )
        return JSONResponse({"error": message}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        lines = describe_validation(list(error.errors()))
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type and any(e.get("loc") == ("body",) for e in error.errors()):
            lines.insert(0, "body: send JSON with the header Content-Type: application/json")
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in error.errors()
        ]
        return JSONResponse({"error": "; ".join(lines), "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        undecodable = error.__cause__
        if error.status_code == 400 and isinstance(undecodable, UnicodeDecodeError):
            # FastAPI's 400 for a body that is not text; a JSON body that does not parse is 422
            where = f"byte {undecodable.start}: {undecodable.object[undecodable.start :][:1]!r}"
            message = f"body: not valid JSON (not UTF-8 text at {where})"
            return JSONResponse({"error": message}, status_code=422)
        if error.status_code == 400 and isinstance(undecodable, RecursionError):
            # FastAPI's 400 for JSON nested past what Python's parser takes: a bad body, as others
            message = "body: not valid JSON (nested too deeply; a run's spec is a few levels deep)"
            return JSONResponse({"error": message}, status_code=422)
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        if error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return JSONResponse(
            {"error": message}, status_code=error.status_code, headers=error.headers
        )
