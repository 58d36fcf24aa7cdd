"""``govboard``: the command-line client CI pipelines use to talk to the govboard API.

Standard library only, so a pipeline can ``pip install`` nothing more than this package
(or copy this one file) and run it. Configuration comes from flags or the environment:

- ``GOVBOARD_URL``   base URL of the server, e.g. ``https://govboard.example.com``
- ``GOVBOARD_TOKEN`` a service-account token ``gbt_<prefix>_<secret>`` (never printed)

Every command prints one short human line on stderr and the JSON it got on stdout
(``--json``: only the JSON). The exit code says what happened, so a CI step can branch
on it without parsing anything; see ``EXIT_CODES`` and ``govboard --help``.

The client is deliberately tolerant of the responses: it reads only the fields it needs
(``id``, ``state``, ``reasons``, ``checks``) and passes everything else through untouched,
so a newer server never breaks an older client.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["EXIT_CODES", "ApiError", "Client", "main"]

USER_AGENT = "govboard-cli/1"
DEFAULT_URL = "http://127.0.0.1:8000"
CHUNK = 1024 * 1024
T = TypeVar("T")

# ---------------------------------------------------------------------------- exit codes
EXIT_OK = 0  # success; for status/wait: approved
EXIT_INTERNAL = 1  # a bug in this client (an unexpected exception)
EXIT_USAGE = 2  # bad flags or configuration (argparse's own code)
EXIT_PENDING = 3  # not decided yet: in review, or --wait timed out
EXIT_BLOCKED = 4  # changes requested / rejected / expired / withdrawn / deprecated
EXIT_CONFLICT = 5  # 409 (e.g. same version, other checksum) or 422 (Idempotency-Key reuse)
EXIT_AUTH = 6  # 401 / 403: token missing scope, revoked, expired, wrong team
EXIT_NOT_FOUND = 7  # 404: no such version / request / model / endpoint
EXIT_INVALID = 8  # 400 / 413 / 415 and other 4xx: the input was refused
EXIT_SERVER = 9  # 5xx, 429, connection refused, DNS, TLS, timeout, non-JSON answer

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (status: approved)",
    EXIT_INTERNAL: "unexpected client error (a bug: please report it)",
    EXIT_USAGE: "usage error: bad flags, missing URL/token, unreadable local file",
    EXIT_PENDING: "pending: still submitted/checking/in review, or --wait/--timeout ran out",
    EXIT_BLOCKED: "blocked: changes_requested, rejected, expired, withdrawn (reasons printed)",
    EXIT_CONFLICT: "conflict: HTTP 409 (version exists with another checksum, open request) "
    "or 422 (Idempotency-Key reused with another payload)",
    EXIT_AUTH: "authentication/authorisation: HTTP 401 or 403",
    EXIT_NOT_FOUND: "not found: HTTP 404",
    EXIT_INVALID: "invalid input: HTTP 400, 413 (too large), 415 and other 4xx",
    EXIT_SERVER: "server or network error: HTTP 5xx/429, connection refused, timeout",
}

APPROVED_STATES = frozenset({"approved"})
PENDING_STATES = frozenset({"submitted", "checking", "in_review"})
BLOCKED_STATES = frozenset({"changes_requested", "rejected", "expired", "withdrawn"})
BLOCKED_VERSION_STATES = frozenset({"deprecated", "retired"})
# The automated checks have not judged the request yet (a worker runs them after submit).
CHECKING_STATES = frozenset({"submitted", "checking"})
REVIEW_STATES = frozenset({"in_review"})

MODEL_KINDS = ("model", "adapter", "prompt", "config")
EVIDENCE_KINDS = (
    "sbom",
    "provenance",
    "dependency_scan",
    "artifact_scan",
    "eval_package",
    "model_signature",
)
MODEL_FIELDS = ("kind", "owner", "backup_owner", "escalation_contact")
DATASET_USES = ("train", "eval")
# Version fields the flags can set (the --metadata file may carry any other key too).
LIST_FIELDS = ("allowed_use_cases", "prohibited_use_cases", "mitigation_controls")


def status_exit_code(http_status: int) -> int:
    """The exit code for an HTTP error status."""
    if http_status in (409, 422):
        return EXIT_CONFLICT
    if http_status in (401, 403):
        return EXIT_AUTH
    if http_status == 404:
        return EXIT_NOT_FOUND
    if http_status == 429 or http_status >= 500:
        return EXIT_SERVER
    if 400 <= http_status < 500:
        return EXIT_INVALID
    return EXIT_SERVER  # a 1xx/3xx we did not follow is not something we understand


# ---------------------------------------------------------------------------- HTTP client
class ApiError(Exception):
    """A request that did not succeed: an HTTP error status or a transport failure."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.problem = problem if problem is not None else {}

    @property
    def exit_code(self) -> int:
        return EXIT_SERVER if self.status is None else status_exit_code(self.status)

    def as_json(self) -> dict[str, Any]:
        if isinstance(self.problem, dict) and self.problem:
            return self.problem
        return {
            "type": "about:blank",
            "title": "Request failed" if self.status else "Server unreachable",
            "status": self.status,
            "detail": self.message,
        }


@dataclass
class Response:
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
                error.retry_after = exc.headers.get("Retry-After")  # type: ignore[attr-defined]
                if exc.code in (429, 502, 503, 504) and attempt + 1 < attempts:
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
        retry_after = getattr(error, "retry_after", None)
        if retry_after and str(retry_after).isdigit():
            return min(float(retry_after), 30.0)
        return self.backoff * (2 ** (attempt - 1))

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).json()


# ---------------------------------------------------------------------------- helpers
def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def idempotency_key_for(payload: dict[str, Any]) -> str:
    """A key derived from the canonical payload: a retried build sends the same key."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "gbcli-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


class UsageError(Exception):
    """Bad flags or unusable local input: exit 2."""


class Output:
    """stderr gets the human line (unless --json), stdout the JSON."""

    def __init__(self, *, json_only: bool, stdout: Any = None, stderr: Any = None) -> None:
        self.json_only = json_only
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def say(self, message: str) -> None:
        if not self.json_only:
            print(message, file=self.stderr, flush=True)

    def data(self, value: Any) -> None:
        print(json.dumps(value, indent=2, sort_keys=False, default=str), file=self.stdout)
        self.stdout.flush()


def _reasons(request: dict[str, Any]) -> list[str]:
    """Why a request is blocked: its reasons, plus failed checks not already named."""
    reasons = [str(reason) for reason in request.get("reasons") or []]
    for check in request.get("checks") or []:
        if isinstance(check, dict) and check.get("passed") is False:
            line = f"check {check.get('check_name', '?')} failed"
            if check.get("critical"):
                line += " (critical)"
            if check.get("detail"):
                line += f": {check['detail']}"
            detail = str(check.get("detail") or "")
            if not any(detail and detail in reason for reason in reasons):
                reasons.append(line)
    return reasons


def _request_outcome(request: dict[str, Any]) -> int:
    state = request.get("state")
    if state in APPROVED_STATES:
        return EXIT_OK
    if state in BLOCKED_STATES:
        return EXIT_BLOCKED
    return EXIT_PENDING  # submitted/checking/in_review, and states this client does not know


def _latest_request(version: dict[str, Any]) -> dict[str, Any] | None:
    requests = [r for r in version.get("promotion_requests") or [] if isinstance(r, dict)]
    if not requests:
        return None
    return max(requests, key=lambda r: (str(r.get("created_at") or ""), r.get("id") or 0))


def _version_outcome(version: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    state = version.get("state")
    latest = _latest_request(version)
    if state == "approved":
        return EXIT_OK, latest
    if state in BLOCKED_VERSION_STATES:
        return EXIT_BLOCKED, latest
    if latest is None:
        return EXIT_PENDING, None
    return _request_outcome(latest), latest


# ---------------------------------------------------------------------------- commands
def _load_metadata(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read metadata file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"The metadata file {path} must hold a JSON object.")
    return data


def cmd_register(client: Client, args: argparse.Namespace, out: Output) -> int:
    metadata = _load_metadata(args.metadata)
    model_fields = {
        key: metadata.pop(key) for key in (*MODEL_FIELDS, "description") if key in metadata
    }
    flag_model = {
        "kind": args.kind,
        "owner": args.owner,
        "backup_owner": args.backup_owner,
        "escalation_contact": args.escalation_contact,
        "description": args.model_description,
    }
    model_fields.update({key: value for key, value in flag_model.items() if value is not None})

    payload: dict[str, Any] = dict(metadata)
    flag_version = {
        "team": args.team,
        "model": args.model,
        "version": args.version,
        "storage_uri": args.storage_uri,
        "license": args.license,
        "risk_rating": args.risk_rating,
        "source_commit": args.source_commit,
        "dependency_lock_hash": args.dependency_lock_hash,
        "fine_tune_method": args.fine_tune_method,
        "base_model_version": args.base_model_version,
        "base_model_reference": args.base_model_reference,
        "allowed_use_cases": args.allowed_use_cases,
        "prohibited_use_cases": args.prohibited_use_cases,
        "mitigation_controls": args.mitigation_controls,
    }
    payload.update({key: value for key, value in flag_version.items() if value is not None})
    if args.dependency_lock:
        try:
            payload["dependency_lock_hash"] = sha256_file(args.dependency_lock)
        except OSError as exc:
            raise UsageError(f"Cannot read {args.dependency_lock}: {exc}") from exc

    checksum = (args.checksum or payload.get("checksum") or "").strip().lower() or None
    if args.artifact:
        try:
            computed = sha256_file(args.artifact)
        except OSError as exc:
            raise UsageError(f"Cannot read artifact {args.artifact}: {exc}") from exc
        if checksum and checksum != computed:
            raise UsageError(
                f"--checksum {checksum} does not match the artifact's sha256 {computed}."
            )
        checksum = computed
    if checksum:
        payload["checksum"] = checksum
    missing = [
        f for f in ("team", "model", "version", "checksum", "storage_uri") if not payload.get(f)
    ]
    if missing:
        raise UsageError(
            "register needs " + ", ".join(missing) + " (flags, or keys of --metadata; "
            "the checksum may come from --artifact)."
        )

    if model_fields:
        absent = [key for key in MODEL_FIELDS if not model_fields.get(key)]
        if absent:
            raise UsageError(
                "To create or update the model give all of --kind, --owner, --backup-owner and "
                "--escalation-contact (missing: " + ", ".join(absent) + ")."
            )
        team = urllib.parse.quote(str(payload["team"]), safe="")
        name = urllib.parse.quote(str(payload["model"]), safe="")
        response = client.request("PUT", f"teams/{team}/models/{name}/", json_body=model_fields)
        verb = "created" if response.status == 201 else "up to date"
        out.say(f"model {payload['team']}/{payload['model']} {verb}")

    key = args.idempotency_key or idempotency_key_for(payload)
    response = client.request(
        "POST", "versions/", json_body=payload, headers={"Idempotency-Key": key}
    )
    version = response.json()
    # 200: the version existed with this checksum; a replayed Idempotency-Key answers with
    # the first call's status (201) and says so in a header.
    replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
    if response.status == 201 and not replayed:
        verb = "registered"
    elif replayed:
        verb = "already registered (idempotent replay)"
    else:
        verb = "already registered (same checksum)"
    out.say(
        f"version {payload['model']} {version.get('version', payload['version'])} {verb}: "
        f"id {version.get('id')}, state {version.get('state')}"
    )
    out.data(version)
    return EXIT_OK


def _multipart(
    fields: dict[str, str], file_field: str, path: Path, content_type: str
) -> tuple[str, int, Callable[[], Iterator[bytes]]]:
    boundary = "govboard-" + uuid.uuid4().hex
    head = b""
    for name, value in fields.items():
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    filename = path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def chunks() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(CHUNK), b"")
        yield tail

    return f"multipart/form-data; boundary={boundary}", length, chunks


def _guess_content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".intoto", ".sigstore"):
        return "application/json"
    if suffix in (".xml", ".spdx"):
        return "application/xml"
    if suffix in (".zip", ".tar", ".gz", ".tgz"):
        return "application/octet-stream"
    return "application/octet-stream"


def cmd_upload_evidence(client: Client, args: argparse.Namespace, out: Output) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"No such file: {path}")
    local_sha = sha256_file(path)
    content_type, length, chunks = _multipart(
        {"kind": args.kind}, "file", path, args.content_type or _guess_content_type(path)
    )
    response = client.request(
        "POST",
        f"versions/{args.version}/evidence/",
        body=chunks,
        content_type=content_type,
        content_length=length,
        retry=False,
    )
    evidence = response.json()
    remote_sha = evidence.get("sha256") if isinstance(evidence, dict) else None
    if remote_sha and remote_sha != local_sha:
        out.say(f"evidence upload corrupted: local sha256 {local_sha}, server stored {remote_sha}")
        out.data(evidence)
        return EXIT_SERVER
    out.say(
        f"{args.kind} evidence attached to version {args.version}: id {evidence.get('id')}, "
        f"{evidence.get('size', path.stat().st_size)} bytes, sha256 {local_sha[:12]}…"
    )
    out.data(evidence)
    return EXIT_OK


def _pause(seconds: float) -> None:
    """Sleep between polls (one place, so a test can stand in a worker here)."""
    time.sleep(seconds)


def _poll(
    fetch: Callable[[], T],
    *,
    settled: Callable[[T], bool],
    describe: Callable[[T], str],
    out: Output,
    wait: bool,
    timeout: float,
    interval: float,
    first: T | None = None,
) -> tuple[T, bool]:
    """Fetch until ``settled(result)``, at most ``timeout`` seconds; once without ``wait``.

    ``first`` is a result already in hand (e.g. the answer to a POST). While waiting, a
    transient server or network failure (exit 9) is retried until the deadline. Returns
    the last result and whether the deadline ran out before it settled.
    """
    deadline = time.monotonic() + timeout
    last_line = None
    result = first
    while True:
        if result is None:
            try:
                result = fetch()
            except ApiError as exc:
                if not (wait and exc.exit_code == EXIT_SERVER and time.monotonic() < deadline):
                    raise
                out.say(f"{exc.message}; retrying")
                _pause(min(interval, max(0.0, deadline - time.monotonic())))
                continue
        if settled(result) or not wait:
            return result, False
        if time.monotonic() >= deadline:
            return result, True
        line = describe(result)
        if line != last_line:
            out.say(line + " — waiting")
            last_line = line
        _pause(min(interval, max(0.0, deadline - time.monotonic())))
        result = None


def _say_reasons(out: Output, reasons: list[str]) -> None:
    for reason in reasons or ["(the server gave no reason)"]:
        out.say(f"  - {reason}")


def _checks_outcome(request: dict[str, Any], *, waited: bool) -> int:
    """After submit or recheck: 0 the checks passed (in review, or already approved),
    4 they block it, 3 still checking when the wait ran out (or a state this client does
    not know). Without waiting, an accepted request that is still being checked is 0."""
    state = request.get("state")
    if state in BLOCKED_STATES:
        return EXIT_BLOCKED
    if state in REVIEW_STATES or state in APPROVED_STATES:
        return EXIT_OK
    if state in CHECKING_STATES and not waited:
        return EXIT_OK
    return EXIT_PENDING


def _await_checks(
    client: Client, args: argparse.Namespace, out: Output, request: dict[str, Any]
) -> int:
    """Wait (unless --no-wait) until the automated checks have judged ``request``, then
    report it: the human line and reasons on stderr, the request's JSON on stdout."""
    request_id = request.get("id")
    request, timed_out = _poll(
        lambda: client.get(f"promotion-requests/{request_id}/"),
        settled=lambda body: body.get("state") not in CHECKING_STATES,
        describe=lambda body: (
            f"promotion request {body.get('id')} is {body.get('state')}: "
            "the automated checks have not finished"
        ),
        out=out,
        wait=args.wait,
        timeout=args.timeout,
        interval=args.interval,
        first=request,
    )
    code = _checks_outcome(request, waited=args.wait)
    state = request.get("state")
    line = f"promotion request {request.get('id')} is {state}"
    if state in REVIEW_STATES:
        line += ": the automated checks passed; waiting for the board"
    elif timed_out:
        line += (
            f": the checks had not finished after {args.timeout:g}s "
            f"(follow with: govboard status --request {request.get('id')} --wait)"
        )
    elif state in CHECKING_STATES:
        line += (
            ": the checks run in the background "
            f"(follow with: govboard status --request {request.get('id')} --wait)"
        )
    out.say(line)
    if code == EXIT_BLOCKED:
        _say_reasons(out, _reasons(request))
    out.data(request)
    return code


def cmd_request_promotion(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload: dict[str, Any] = {"version": args.version}
    if args.rollback_target is not None:
        payload["rollback_target"] = args.rollback_target
    if args.rollback_plan is not None:
        payload["rollback_plan"] = args.rollback_plan
    request = client.request("POST", "promotion-requests/", json_body=payload).json()
    return _await_checks(client, args, out, request)


def cmd_recheck(client: Client, args: argparse.Namespace, out: Output) -> int:
    response = client.request("POST", f"promotion-requests/{args.request}/recheck/", retry=False)
    out.say(f"checks of promotion request {args.request} restarted")
    return _await_checks(client, args, out, response.json())


def cmd_withdraw(client: Client, args: argparse.Namespace, out: Output) -> int:
    request = client.request(
        "POST", f"promotion-requests/{args.request}/withdraw/", retry=False
    ).json()
    state = request.get("state")
    out.say(f"promotion request {request.get('id', args.request)} is {state}")
    out.data(request)
    # The request is withdrawn as asked: success. (A decided request is a 409: exit 5.)
    return EXIT_OK if state == "withdrawn" else _request_outcome(request)


def _fetch_status(client: Client, args: argparse.Namespace) -> tuple[int, dict[str, Any], Any]:
    if args.request is not None:
        request = client.get(f"promotion-requests/{args.request}/")
        return _request_outcome(request), request, request
    version = client.get(f"versions/{args.version}/")
    code, latest = _version_outcome(version)
    return code, version, latest


def _describe(body: dict[str, Any], latest: Any, args: argparse.Namespace) -> str:
    if args.request is not None:
        return f"promotion request {body.get('id')} is {body.get('state')}"
    text = f"version {body.get('id')} is {body.get('state')}"
    if isinstance(latest, dict):
        text += f"; latest promotion request {latest.get('id')} is {latest.get('state')}"
    else:
        text += "; no promotion request yet"
    return text


def cmd_status(client: Client, args: argparse.Namespace, out: Output) -> int:
    (code, body, latest), timed_out = _poll(
        lambda: _fetch_status(client, args),
        settled=lambda result: result[0] != EXIT_PENDING,
        describe=lambda result: _describe(result[1], result[2], args),
        out=out,
        wait=args.wait,
        timeout=args.timeout,
        interval=args.interval,
    )
    line = _describe(body, latest, args)
    if timed_out:
        line += f" (still pending after {args.timeout:g}s)"
    out.say(line)
    if code == EXIT_BLOCKED:
        reasons = _reasons(latest) if isinstance(latest, dict) else []
        if not reasons and body.get("state") in BLOCKED_VERSION_STATES:
            reasons = [f"the version is {body.get('state')}"]
        _say_reasons(out, reasons)
    out.data(body)
    return code


def cmd_decision(client: Client, args: argparse.Namespace, out: Output) -> int:
    response = client.request("GET", f"promotion-requests/{args.request}/decision/")
    envelope = response.json()  # validates that it is JSON
    if args.output:
        try:
            Path(args.output).write_bytes(response.body)
        except OSError as exc:
            raise UsageError(f"Cannot write {args.output}: {exc}") from exc
        digest = hashlib.sha256(response.body).hexdigest()
        out.say(f"decision record of request {args.request} written to {args.output}")
        out.data(
            {
                "request": args.request,
                "output": args.output,
                "sha256": digest,
                "bytes": len(response.body),
            }
        )
    else:
        out.say(f"decision record of request {args.request}")
        out.data(envelope)
    return EXIT_OK


def _timestamp(value: str | None, flag: str, *, allow_now: bool = True) -> str | None:
    """An ISO 8601 timestamp with a zone (or ``now``, where allowed), as the API wants it."""
    if value is None:
        return None
    if value == "now" and allow_now:
        return datetime.now(UTC).isoformat(timespec="seconds")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{flag} must be an ISO 8601 timestamp, got {value!r}.") from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{flag} needs a timezone (e.g. 2025-01-31T12:00:00Z).")
    return parsed.isoformat()


def cmd_record_deployment(client: Client, args: argparse.Namespace, out: Output) -> int:
    payload: dict[str, Any] = {
        "version": args.version,
        "environment": args.environment,
        "started_at": _timestamp(args.started_at, "--started-at"),
    }
    optional = {
        "ring": args.ring,
        "customer_scope": args.customer_scope,
        "ended_at": _timestamp(args.ended_at, "--ended-at"),
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    deployment = client.request("POST", "deployments/", json_body=payload).json()
    out.say(
        f"deployment of version {args.version} to {args.environment} recorded: "
        f"id {deployment.get('id')}"
    )
    out.data(deployment)
    return EXIT_OK


def cmd_link_dataset(client: Client, args: argparse.Namespace, out: Output) -> int:
    # A dataset version is immutable on the server, so "now" as a window edge would make
    # every rerun a conflict: the window must be the snapshot's real, fixed boundaries.
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "version": args.dataset_version,
        "use": args.use,
        "window_start": _timestamp(args.window_start, "--window-start", allow_now=False),
        "window_end": _timestamp(args.window_end, "--window-end", allow_now=False),
    }
    # Optional fields are sent only when given, so an older server that lacks one still
    # accepts the rest (it refuses unknown fields).
    if args.uri is not None:
        payload["uri"] = args.uri
    if args.license is not None:
        payload["license"] = args.license
    checksum = (args.checksum or "").strip().lower() or None
    if args.data_file:
        try:
            computed = sha256_file(args.data_file)
        except OSError as exc:
            raise UsageError(f"Cannot read data file {args.data_file}: {exc}") from exc
        if checksum and checksum != computed:
            raise UsageError(
                f"--checksum {checksum} does not match the data file's sha256 {computed}."
            )
        checksum = computed
    if checksum:
        payload["checksum"] = checksum
    # Linking is idempotent on the server (the same link answers 200), so a retry is safe.
    response = client.request(
        "POST", f"versions/{args.version}/datasets/", json_body=payload, retry=True
    )
    link = response.json()
    verb = "linked" if response.status == 201 else "already linked"
    out.say(
        f"{args.use} dataset {args.dataset}@{args.dataset_version} {verb} to version "
        f"{args.version}: id {link.get('id')}"
    )
    out.data(link)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Client, argparse.Namespace, Output], int]] = {
    "register": cmd_register,
    "link-dataset": cmd_link_dataset,
    "upload-evidence": cmd_upload_evidence,
    "request-promotion": cmd_request_promotion,
    "recheck": cmd_recheck,
    "withdraw": cmd_withdraw,
    "status": cmd_status,
    "decision": cmd_decision,
    "record-deployment": cmd_record_deployment,
}


# ---------------------------------------------------------------------------- argparse
def _exit_code_epilog() -> str:
    lines = ["exit codes:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()]
    lines += [
        "",
        "environment:",
        "  GOVBOARD_URL    server base URL (default http://127.0.0.1:8000)",
        "  GOVBOARD_TOKEN  service-account token gbt_<prefix>_<secret> (never printed)",
        "",
        "stdout carries JSON (the server's resource or problem+json); stderr a human line.",
    ]
    return "\n".join(lines)


def _positive_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}") from exc
    if number < 1:
        raise argparse.ArgumentTypeError(f"not an id: {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted both before and after the subcommand."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--url", default=default(None), help="server base URL (env GOVBOARD_URL)")
    parser.add_argument(
        "--token",
        default=default(None),
        help="service-account token (prefer env GOVBOARD_TOKEN: argv is visible to `ps`)",
    )
    parser.add_argument("--token-file", default=default(None), help="read the token from this file")
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print only JSON (no human line on stderr)",
    )
    parser.add_argument(
        "--http-timeout",
        type=_seconds,
        default=default(30.0),
        help="seconds per HTTP request (default 30)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=default(2),
        help="retries of idempotent requests on network errors, 429, 502-504 (default 2)",
    )


def _checks_wait_options(parser: argparse.ArgumentParser) -> None:
    """--wait/--no-wait, --timeout, --interval for the commands that start the checks."""
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for the automated checks (default); --no-wait returns once the request "
        "is accepted (exit 0 unless the checks already block it)",
    )
    parser.add_argument("--timeout", type=_seconds, default=600.0, help="(default 600)")
    parser.add_argument("--interval", type=_seconds, default=5.0, help="(default 5)")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="govboard",
        description="govboard CI client: register model versions, attach evidence, "
        "request promotion and wait for the board's decision.",
        epilog=_exit_code_epilog(),
        formatter_class=formatter,
    )
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=_exit_code_epilog(),
            formatter_class=formatter,
        )
        _common_options(command, suppress=True)
        return command

    reg = add(
        "register",
        "Register a model version (idempotent: the same version and checksum answer 200). "
        "With --kind/--owner/--backup-owner/--escalation-contact the model is created or "
        "updated first.",
    )
    reg.add_argument("--team")
    reg.add_argument("--model", help="registered model name")
    reg.add_argument("--version", help="semantic version, e.g. 1.4.0")
    source = reg.add_argument_group("artifact identity (one of)")
    source.add_argument("--artifact", metavar="PATH", help="compute the sha256 of this file")
    source.add_argument("--checksum", help="sha256 hex of the artifact")
    reg.add_argument("--storage-uri", help="where the artifact lives, e.g. s3://bucket/path/")
    reg.add_argument(
        "--metadata",
        metavar="FILE.json",
        help="JSON object with any version fields (and kind/owner/backup_owner/"
        "escalation_contact/description for the model); flags override it",
    )
    reg.add_argument("--license")
    reg.add_argument("--allowed-use-case", dest="allowed_use_cases", action="append")
    reg.add_argument("--prohibited-use-case", dest="prohibited_use_cases", action="append")
    reg.add_argument("--risk-rating")
    reg.add_argument("--mitigation-control", dest="mitigation_controls", action="append")
    reg.add_argument("--source-commit")
    lock = reg.add_mutually_exclusive_group()
    lock.add_argument("--dependency-lock-hash")
    lock.add_argument("--dependency-lock", metavar="PATH", help="compute the lock file's sha256")
    reg.add_argument("--fine-tune-method", help="full, lora, qlora, prefix, none")
    reg.add_argument("--base-model-version", type=_positive_id, metavar="ID")
    reg.add_argument("--base-model-reference")
    reg.add_argument("--idempotency-key", help="default: derived from the payload")
    model = reg.add_argument_group("model (create/update before registering)")
    model.add_argument("--kind", choices=MODEL_KINDS)
    model.add_argument("--owner", help="username")
    model.add_argument("--backup-owner", help="username")
    model.add_argument("--escalation-contact", help="email")
    model.add_argument("--model-description", help="model description")

    dataset = add(
        "link-dataset",
        "Record a dataset (version and time window) a draft version was trained or evaluated "
        "on (idempotent: the same link answers 200). Promotion needs a train and an eval "
        "dataset (a prompt or config: an eval dataset).",
    )
    dataset.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    dataset.add_argument(
        "--dataset", required=True, metavar="NAME", help="dataset name (lower-case slug)"
    )
    dataset.add_argument(
        "--dataset-version",
        required=True,
        metavar="LABEL",
        help="the dataset snapshot's label, e.g. 2026-10 (never changes once recorded)",
    )
    dataset.add_argument("--use", choices=DATASET_USES, required=True)
    dataset.add_argument(
        "--window-start",
        required=True,
        metavar="ISO8601",
        help="start of the data's time window, with a zone (e.g. 2026-06-01T00:00:00Z)",
    )
    dataset.add_argument("--window-end", required=True, metavar="ISO8601")
    dataset.add_argument("--uri", help="where the snapshot lives, e.g. s3://data/tickets/2026-10/")
    dataset.add_argument("--license", help="the licence the data is used under (SPDX id)")
    dataset.add_argument("--checksum", help="sha256 hex of the snapshot")
    dataset.add_argument(
        "--data-file", metavar="PATH", help="compute the snapshot's sha256 from this file"
    )

    upload = add("upload-evidence", "Attach an evidence file to a version.")
    upload.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    upload.add_argument("--kind", choices=EVIDENCE_KINDS, required=True)
    upload.add_argument("--content-type", help="default: guessed from the file name")
    upload.add_argument("file", metavar="FILE")

    promote = add(
        "request-promotion",
        "Open a promotion request and wait for the automated checks: exit 0 in review, "
        "4 blocked by the checks (reasons on stderr), 3 still checking at --timeout.",
    )
    promote.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    promote.add_argument("--rollback-target", type=_positive_id, metavar="ID")
    promote.add_argument("--rollback-plan")
    _checks_wait_options(promote)

    recheck = add(
        "recheck",
        "Re-run the automated checks of an open request (e.g. after new evidence) and wait "
        "for them: exit 0 in review, 4 blocked, 3 still checking at --timeout.",
    )
    recheck.add_argument("--request", type=_positive_id, required=True, metavar="ID")
    _checks_wait_options(recheck)

    withdraw = add(
        "withdraw",
        "Withdraw an open promotion request (the version returns to draft); exit 0 once "
        "withdrawn, 5 if the request is already decided.",
    )
    withdraw.add_argument("--request", type=_positive_id, required=True, metavar="ID")

    status = add(
        "status",
        "Show a version's or a request's state; exit 0 approved, 3 pending, 4 blocked.",
    )
    which = status.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", type=_positive_id, metavar="ID")
    which.add_argument("--request", type=_positive_id, metavar="ID")
    status.add_argument("--wait", action="store_true", help="poll until approved or blocked")
    status.add_argument("--timeout", type=_seconds, default=3600.0, help="(default 3600)")
    status.add_argument("--interval", type=_seconds, default=15.0, help="(default 15)")

    decision = add("decision", "Fetch the signed decision record (DSSE envelope).")
    decision.add_argument("--request", type=_positive_id, required=True, metavar="ID")
    decision.add_argument("--output", "-o", metavar="FILE")

    deploy = add("record-deployment", "Record that a version serves an environment.")
    deploy.add_argument("--version", type=_positive_id, required=True, metavar="ID")
    deploy.add_argument("--environment", required=True)
    deploy.add_argument("--ring")
    deploy.add_argument("--customer-scope")
    deploy.add_argument("--started-at", default="now", help="ISO 8601 with zone (default now)")
    deploy.add_argument("--ended-at")
    return parser


def _read_token(args: argparse.Namespace) -> str:
    token = args.token
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the token file: {exc.strerror}") from exc
    token = (token or os.environ.get("GOVBOARD_TOKEN") or "").strip()
    if not token:
        raise UsageError("No token: set GOVBOARD_TOKEN (or --token-file).")
    if any(ch.isspace() for ch in token) or not token.isascii():
        raise UsageError("The token is malformed (whitespace or non-ASCII characters).")
    return token


def _base_url(args: argparse.Namespace, out: Output) -> str:
    url = (args.url or os.environ.get("GOVBOARD_URL") or DEFAULT_URL).strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"GOVBOARD_URL must be an http(s) URL, got {url!r}.")
    if parts.username or parts.password:
        raise UsageError("Put the token in GOVBOARD_TOKEN, not in the URL.")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        out.say(f"warning: sending the token over plain HTTP to {parts.hostname}")
    return url


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) and usage errors (2) without killing a caller
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(json_only=args.json)
    try:
        client = Client(
            _base_url(args, out),
            _read_token(args),
            timeout=args.http_timeout,
            retries=args.retries,
        )
        return COMMANDS[args.command](client, args, out)
    except UsageError as exc:
        print(f"govboard {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        out.say(f"govboard {args.command}: {exc.message}")
        out.data(exc.as_json())
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the exit code must stay meaningful even for our own bugs
        print(f"govboard {args.command}: unexpected error: {exc!r}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
