"""``Idempotency-Key`` handling for API writes (enforced by a unique constraint)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError, InvalidInput
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
            IdempotencyKey.objects.create(
                user=request.user,
                key=key,
                endpoint=endpoint,
                fingerprint=print_,
                response_status=response.status_code,
                response_body=response.data,
            )
    except IntegrityError:
        if not claiming:
            raise
        replay = _replay(request, key, print_)
        if replay is None:
            raise
        return replay
    return response


def _replay(request: Request, key: str, print_: str) -> Response | None:
    stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
    if stored is None:
        return None
    if stored.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request payload."
        )
    response = Response(stored.response_body, status=stored.response_status)
    response["Idempotent-Replayed"] = "true"
    return response
