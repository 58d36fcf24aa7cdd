"""``Idempotency-Key`` handling for API writes (enforced by a unique constraint)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core import rows
from core.errors import Conflict, DomainError, InvalidInput
from core.inserts import insert_unless_present
from registry.models import IdempotencyKey

_KEY = re.compile(r"\A[\x21-\x7e]{1,200}\Z")


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency-key-reused"
    title = "Idempotency key reused with another payload"


def fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(request: Request, *, endpoint: str, act: Callable[[], Response]) -> Response:
    """Run ``act`` once per (caller, key); replay its answer for retries of the same payload.

    Without the header, ``act`` simply runs. With it, ``act`` runs and the key is claimed by
    the *last* statement of the change's own transaction (``INSERT … ON CONFLICT DO
    NOTHING``): the first delivery, the common case, costs that one statement and no
    lookup (issue 14). When the key is already claimed -- a retry, or a concurrent twin
    that committed first (PostgreSQL waits for it) -- the whole transaction rolls back
    (nothing of ours is kept) and the stored answer is given. A retry whose ``act`` now
    fails (the release it created exists) is answered the same way. No savepoints.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        # The same one transaction, without a key to claim: the service inside needs no
        # savepoint of its own (a refusal rolls this back whole).
        with transaction.atomic():
            return act()
    if not _KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1-200 printable ASCII characters.")
    print_ = fingerprint({"endpoint": endpoint, "body": request.data})
    try:
        with transaction.atomic():
            response = act()
            claim = IdempotencyKey(
                user=request.user,
                key=key,
                endpoint=endpoint,
                fingerprint=print_,
                response_status=response.status_code,
                response_body=response.data,
            )
            if not insert_unless_present(claim, unique=("user", "key")):
                raise _AlreadyAnswered
    except _AlreadyAnswered:
        replay = _replay(request, key, print_)
        if replay is None:  # claimed, then gone before we read it: let the caller retry
            raise Conflict("This Idempotency-Key is being answered; retry.") from None
        return replay
    except Exception as failure:
        # A retry may fail where its first delivery succeeded: the stored answer stands.
        try:
            replay = _replay(request, key, print_)
        except DatabaseError:
            raise failure from None
        if replay is None:
            raise
        return replay
    return response


class _AlreadyAnswered(Exception):
    """The key was claimed by an earlier or concurrent delivery: roll this one back."""


@functools.cache
def _stored_answer(vendor: str) -> tuple[str, rows.Columns]:
    """The stored answer of a (caller, key): one statement written once (``core.rows``),
    as every retried or refused keyed write asks it."""
    stored = rows.columns(
        IdempotencyKey, "k", only=("fingerprint", "response_status", "response_body")
    )
    sql = (
        f"SELECT {', '.join(stored.select)}"  # noqa: S608
        f" FROM {rows.table(IdempotencyKey, 'k')}"
        f" WHERE {rows.column(IdempotencyKey, 'user', 'k')} = %s"
        f" AND {rows.column(IdempotencyKey, 'key', 'k')} = %s"
    )
    return sql, stored


def _replay(request: Request, key: str, print_: str) -> Response | None:
    sql, columns = _stored_answer(connection.vendor)
    row = rows.fetch_one(sql, [request.user.pk, key])
    if row is None:
        return None
    stored = columns.build(row)
    if stored.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request payload."
        )
    response = Response(stored.response_body, status=stored.response_status)
    response["Idempotent-Replayed"] = "true"
    return response
