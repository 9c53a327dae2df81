"""API errors: every failure leaves as Heroku's `{"id", "message"}` with the matching status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pyroku._exceptions import PyrokuError
from pyroku.state import Conflict, Forbidden, InvalidParams, NotFound, StateError, Unauthorized

_STATE_ERRORS: list[tuple[type[StateError], int, str]] = [
    (NotFound, 404, "not_found"),
    (Forbidden, 403, "forbidden"),
    (InvalidParams, 422, "invalid_params"),
    (Conflict, 409, "conflict"),
    (Unauthorized, 401, "unauthorized"),
]

_HTTP_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    416: "requested_range_not_satisfiable",
    422: "invalid_params",
    429: "rate_limit",
}


class ApiError(PyrokuError):
    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


def error_response(status: int, error_id: str, message: str) -> JSONResponse:
    return JSONResponse({"id": error_id, "message": message}, status_code=status)


def _describe_validation(errors: list[Any]) -> tuple[int, str, str]:
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "bad_request", "The request body is not valid JSON."
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return 422, "invalid_params", "Invalid parameters: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.error_id, exc.message)

    async def on_state_error(_request: Request, exc: Exception) -> JSONResponse:
        for cls, status, error_id in _STATE_ERRORS:
            if isinstance(exc, cls):
                return error_response(status, error_id, str(exc))
        return error_response(422, "invalid_params", str(exc))

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(*_describe_validation(list(exc.errors())))

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        message = "Not found." if status == 404 else str(exc.detail)
        return error_response(status, _HTTP_IDS.get(status, "bad_request"), message)

    async def on_unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(500, "internal_server_error", "Internal server error.")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StateError, on_state_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
