"""HTTP to the govboard API: the token and base URL, requests with bounded retries, and
redirects that never carry the token elsewhere."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ApiError, UsageError

USER_AGENT = "govboard-cli/1"
DEFAULT_URL = "http://127.0.0.1:8000"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
RETRIED_STATUSES = (429, 502, 503, 504)


@dataclass
class Response:
    """A successful answer; ``json()`` refuses a body that is not JSON (exit 9)."""

    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(
                f"The server answered HTTP {self.status} with a body that is not JSON.",
                status=500 if self.status < 400 else self.status,
            ) from exc


def _problem_message(status: int, problem: Any, fallback: str) -> str:
    """One line from an RFC 9457 problem document: status, title, detail, field errors."""
    if not isinstance(problem, dict):
        return f"HTTP {status}: {fallback}"
    title = problem.get("title") or fallback
    detail = problem.get("detail")
    text = f"HTTP {status} {title}"
    if detail and detail != title:
        text += f": {detail}"
    errors = problem.get("errors")
    if isinstance(errors, dict) and errors:
        parts = []
        for field_name, messages in errors.items():
            if isinstance(messages, list):
                messages = "; ".join(str(message) for message in messages)
            parts.append(f"{field_name}: {messages}")
        text += " [" + " | ".join(parts) + "]"
    return text


class Client:
    """A tiny JSON-over-HTTP client for /api/v1 with bounded retries of idempotent calls."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        # Redirects are followed, but Authorization is an "unredirected" header: the token
        # is never re-sent to wherever a redirect points.
        self._opener = urllib.request.build_opener()

    def __repr__(self) -> str:  # never shows the token
        return f"Client({self.base_url!r})"

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        if query:
            clean = {key: value for key, value in query.items() if value not in (None, "")}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | Callable[[], Iterable[bytes]] | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> Response:
        """Send one request; retry connection errors, 429, 502-504 when safe to repeat.

        ``retry`` defaults to True for GET/PUT and for a POST that carries an
        Idempotency-Key (the server answers a repeat with the same result).
        """
        all_headers = {"Accept": "application/json, application/problem+json"}
        all_headers.update(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            content_type = "application/json"
        if content_type:
            all_headers["Content-Type"] = content_type
        if retry is None:
            retry = method in ("GET", "HEAD", "PUT") or "Idempotency-Key" in all_headers
        attempts = 1 + (self.retries if retry else 0)
        url = self.url(path, query)
        last_error: ApiError | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self._delay(attempt, last_error))
            data: Any = body() if callable(body) else body
            req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
            req.add_unredirected_header("Authorization", f"Bearer {self._token}")
            req.add_unredirected_header("User-Agent", USER_AGENT)
            if content_length is not None:
                req.add_unredirected_header("Content-Length", str(content_length))
            try:
                with self._opener.open(req, timeout=self.timeout) as raw:
                    headers_ = {name.lower(): value for name, value in raw.headers.items()}
                    return Response(raw.status, headers_, raw.read())
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                try:
                    problem = json.loads(payload) if payload else {}
                except ValueError:
                    problem = {}
                error = ApiError(
                    _problem_message(exc.code, problem, exc.reason or "error"),
                    status=exc.code,
                    problem=problem,
                )
                error.retry_after = exc.headers.get("Retry-After")
                if exc.code in RETRIED_STATUSES and attempt + 1 < attempts:
                    last_error = error
                    continue
                raise error from None
            except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
                reason = getattr(exc, "reason", exc)
                last_error = ApiError(f"Cannot reach {self.base_url}: {reason}")
                if attempt + 1 < attempts:
                    continue
                raise last_error from None
        raise last_error or ApiError("No attempt was made.")  # pragma: no cover

    def _delay(self, attempt: int, error: ApiError | None) -> float:
        retry_after = error.retry_after if error is not None else None
        if retry_after and str(retry_after).isdigit():
            return min(float(retry_after), 30.0)
        return self.backoff * (2 ** (attempt - 1))

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).json()


def idempotency_key_for(payload: dict[str, Any]) -> str:
    """A key derived from the canonical payload: a retried build sends the same key."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "gbcli-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def read_token(token: str | None, token_file: str | None) -> str:
    """The token from --token-file, --token or GOVBOARD_TOKEN, in that order."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the token file: {exc.strerror}") from exc
    token = (token or os.environ.get("GOVBOARD_TOKEN") or "").strip()
    if not token:
        raise UsageError("No token: set GOVBOARD_TOKEN (or --token-file).")
    if any(ch.isspace() for ch in token) or not token.isascii():
        raise UsageError("The token is malformed (whitespace or non-ASCII characters).")
    return token


def base_url(url: str | None, warn: Callable[[str], None]) -> str:
    """The server URL from --url or GOVBOARD_URL; ``warn`` is told when the token would
    travel over plain HTTP to anything but this machine."""
    url = (url or os.environ.get("GOVBOARD_URL") or DEFAULT_URL).strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"GOVBOARD_URL must be an http(s) URL, got {url!r}.")
    if parts.username or parts.password:
        raise UsageError("Put the token in GOVBOARD_TOKEN, not in the URL.")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        warn(f"warning: sending the token over plain HTTP to {parts.hostname}")
    return url
