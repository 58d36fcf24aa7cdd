"""A strict, bounded JSON parser for the API.

- The body size is checked against the declared Content-Length before anything is read,
  and reading stops one byte past the limit, so an oversized body is a 413 without
  buffering it.
- Duplicate keys, NaN/Infinity and pathological nesting are 400s, not silent surprises.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this endpoint accepts."
    default_code = "payload-too-large"


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise exceptions.ParseError(f"Duplicate key {key!r} in JSON object.")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise exceptions.ParseError(f"{name} is not valid JSON.")


def body_limit() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def read_bounded(stream: Any, *, declared_length: int | None, limit: int) -> bytes:
    if declared_length is not None and declared_length > limit:
        raise PayloadTooLarge()
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLarge()
    return data


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = (parser_context or {}).get("request")
        declared = None
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError as exc:
                raise exceptions.ParseError("Invalid Content-Length.") from exc
        raw = read_bounded(stream, declared_length=declared, limit=body_limit())
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError("The body is not valid UTF-8.") from exc
        try:
            return json.loads(
                text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
            )
        except RecursionError as exc:
            raise exceptions.ParseError("The JSON document is nested too deeply.") from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"Invalid JSON: {exc}") from exc
