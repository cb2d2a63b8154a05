"""The API's answer to a request it cannot accept, whatever the request holds.

FastAPI's 422 echoes the offending input back, and Python's JSON parser accepts ``NaN``
and ``Infinity``, which JSON itself cannot carry: echoing them failed inside the error
response and turned a clear 422 into a 500. Non-finite numbers are echoed as strings.
"""

from __future__ import annotations

import math

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = _finite(jsonable_encoder(exc.errors()))
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail}
    )


def _finite(value: object) -> object:
    """``value`` with every non-finite float replaced by its name (``"nan"``, ``"inf"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
