"""Errors as JSON: ``{"error": {"code", "message", "details"}}`` with the right status.

Nothing a client sends may produce a 500: bad input is 400/422, auth 401/403,
missing things 404, conflicts (a task completed twice, a stale version) 409.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import CommandError, DefinitionError

log = logging.getLogger("stepwise")

# engine CommandError codes -> HTTP status
COMMAND_STATUS = {
    "task_not_open": 409,
    "instance_finished": 409,
    "already_started": 409,
    "no_waiting_receive": 404,
    "no_such_task": 404,
    "no_such_request": 404,
    "no_such_incident": 404,
    "cannot_skip": 409,
    "invalid_form": 422,
    "invalid_outcome": 422,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"there is no {what} {ident!r}")


def forbidden(message: str = "you may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(CommandError)
    async def _command(_: Request, exc: CommandError) -> JSONResponse:
        status = COMMAND_STATUS.get(exc.code, 409)
        return JSONResponse(body(exc.code, exc.message, exc.details or None), status_code=status)

    @app.exception_handler(DefinitionError)
    async def _definition(_: Request, exc: DefinitionError) -> JSONResponse:
        problems = [p.to_dict() for p in exc.problems]
        return JSONResponse(
            body("invalid_workflow", "the workflow is not valid", problems), status_code=422
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        message = "the request is not valid"
        if any(e["type"] == "json_invalid" for e in details):
            message = "the request body is not valid JSON"
        return JSONResponse(body("invalid_request", message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }
        code = codes.get(exc.status_code, "http_error")
        return JSONResponse(
            body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(
            body(
                "invalid_request",
                "the request holds a value the database cannot store (e.g. a NUL character)",
            ),
            status_code=422,
        )

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        # the instance's version check: another request changed it between our read and write
        return JSONResponse(
            body("conflict", "this was changed by someone else at the same moment; try again"),
            status_code=409,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        return JSONResponse(
            body("invalid_request", "a number or a date in the request is out of range"),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            body("internal_error", "something went wrong on our side"), status_code=500
        )
