"""RFC 9457 problem details for every API error.

DRF's own errors (validation, authentication, throttling, not found) and the domain errors
raised by services are all turned into ``application/problem+json`` bodies here, in one place.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError
from core.parsers import PayloadTooLarge

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://govboard.invalid/problems/"


def problem_response(
    *, status_code: int, title: str, detail: str, code: str, extra: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _validation_errors(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _validation_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_validation_errors(value) for value in detail]
    return str(detail)


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every handled exception as problem+json; unknown ones stay 500 via Django."""
    if isinstance(exc, DomainError):
        return problem_response(
            status_code=exc.status_code,
            title=exc.title,
            detail=exc.message,
            code=exc.code,
            extra={"errors": exc.errors} if exc.errors else None,
        )
    if isinstance(exc, OperationalError) and _database_timeout(exc):
        # A lock wait or statement over its bound (settings: GOVBOARD_DB_*_TIMEOUT_MS):
        # the transaction was rolled back, nothing changed; the client may retry.
        problem = problem_response(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            title="Busy",
            detail="The change waited too long for a lock and was not made; retry shortly.",
            code="timeout",
        )
        problem["Retry-After"] = "2"
        return problem
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Invalid input",
            detail="The request has invalid fields.",
            code="invalid",
            extra={"errors": errors},
        )
    if isinstance(exc, SuspiciousOperation) and not isinstance(exc, RequestDataTooBig):
        # Too many files or fields, a malformed multipart body: the client's fault, a 400.
        return problem_response(
            status_code=status.HTTP_400_BAD_REQUEST,
            title="Bad request",
            detail=str(exc) or "The request was refused.",
            code="bad-request",
        )
    if isinstance(exc, RequestDataTooBig):
        # DRF reads ``request.body`` for JSON parsers, so Django's own size check fires
        # before ours: it is the same refusal, a 413, not Django's HTML 400.
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(
            status_code=response.status_code,
            title="Invalid input",
            detail="The request has invalid fields.",
            code="invalid",
            extra={"errors": _validation_errors(exc.detail)},
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    problem = problem_response(
        status_code=response.status_code,
        title=response.status_text,
        detail=str(detail),
        code=code if isinstance(code, str) else "error",
    )
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


# PostgreSQL's lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_TIMEOUT_SQLSTATES = {"55P03", "57014"}


def _database_timeout(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _TIMEOUT_SQLSTATES


def _is_api(request: Any) -> bool:
    return request.path.startswith("/api/")


def _json_problem(status_code: int, title: str, detail: str, code: str) -> Any:
    from django.http import JsonResponse

    return JsonResponse(
        {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status_code, "detail": detail},
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def handler404(request: Any, exception: Exception) -> Any:
    """Unknown URLs under /api/ answer in problem+json like every other API error."""
    if _is_api(request):
        return _json_problem(404, "Not Found", "No such endpoint.", "not_found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: Any) -> Any:
    """An unexpected failure: problem+json for the API (details go to the log, not the client)."""
    if _is_api(request):
        return _json_problem(
            500, "Internal Server Error", "The server failed to handle the request.", "server_error"
        )
    from django.views.defaults import server_error

    return server_error(request)
