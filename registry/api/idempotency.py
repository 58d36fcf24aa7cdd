"""``Idempotency-Key`` handling for API writes (enforced by a unique constraint)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core import rows
from core.errors import DomainError, InvalidInput
from core.inserts import insert
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

    Without the header, ``act`` simply runs. With it, the key is claimed by the *last*
    statement of the change's own transaction: a concurrent twin that claimed it first makes
    that INSERT fail, the whole transaction rolls back (nothing of ours is kept), and we
    answer with the twin's stored response. No savepoints, one extra statement.
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
    # A sequential retry (the common case) is answered without running anything.
    replay = _replay(request, key, print_)
    if replay is not None:
        return replay
    claiming = False
    try:
        with transaction.atomic():
            response = act()
            claiming = True
            insert(
                IdempotencyKey(
                    user=request.user,
                    key=key,
                    endpoint=endpoint,
                    fingerprint=print_,
                    response_status=response.status_code,
                    response_body=response.data,
                )
            )
    except IntegrityError:
        if not claiming:
            raise
        replay = _replay(request, key, print_)
        if replay is None:
            raise
        return replay
    return response


@functools.cache
def _stored_answer(vendor: str) -> tuple[str, rows.Columns]:
    """The stored answer of a (caller, key): one statement written once (``core.rows``),
    as every keyed write asks it first."""
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
