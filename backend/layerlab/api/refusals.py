"""The refusals each route documents in the OpenAPI schema: every one has the ErrorBody shape.

Routes name the statuses they can answer (`responses=refusals(404, 409)`), with a sentence per
status that a route may sharpen (`refusals(404, reasons={404: "No such dataset."})`). A route
with parameters lists 422 with this body, in place of FastAPI's own validation-error schema,
which is not what errors.py sends.
"""

from typing import Any

from layerlab.api.schemas import ErrorBody

Responses = dict[int | str, dict[str, Any]]

REASONS: dict[int, str] = {
    401: "No X-Run-Token header.",
    403: "The X-Run-Token is neither the run's owner token nor the admin token.",
    404: "No run with this id.",
    409: "The run's state does not allow it.",
    413: "The body is larger than LAYERLAB_MAX_REQUEST_BYTES.",
    422: "A parameter or a field of the body is wrong or out of bounds; the error names it.",
    429: "This client has too many active runs, or created too many this minute; see Retry-After.",
    503: "The queue of runs waiting for a worker is full; see Retry-After.",
}


def refusals(*codes: int, reasons: dict[int, str] | None = None) -> Responses:
    """The OpenAPI `responses` of these refusal statuses, each with its reason."""
    reasons = {**REASONS, **(reasons or {})}
    unknown = [code for code in codes if code not in reasons]
    if unknown:
        raise ValueError(f"no reason written for status {unknown}; add one to REASONS")
    return {code: {"model": ErrorBody, "description": reasons[code]} for code in codes}


# What the routes of a run have in common.
RUN_READ = refusals(404, 422)  # 422: FastAPI checks every route's parameters
OWNER_CONTROL = refusals(401, 403, 404, 409, 422)
WITH_BODY = refusals(413, 422)
