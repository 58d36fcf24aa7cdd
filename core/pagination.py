"""Pages without counting: keyset (cursor) pages for the API, uncounted pages for the
admin (issue 14: no COUNT(*) over a table that grows without bound)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Model, OrderBy, Q, QuerySet
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core.api.params import text_query_params
from core.errors import InvalidInput

CURSOR_SALT = "govboard.api.cursor"
MAX_PAGE_SIZE = 200
CURSOR_HELP = "The opaque cursor of a 'next' or 'previous' link; absent for the first page."
PAGE_SIZE_HELP = f"Rows per page (default 50; more than {MAX_PAGE_SIZE} are capped)."
# A cursor the API wrote is a few hundred characters; anything much longer is not one.
MAX_CURSOR_LENGTH = 2000


@dataclass(frozen=True)
class _Key:
    """One column of a keyset order: its name, direction, and where its NULLs sort."""

    name: str
    field: Any
    descending: bool
    nulls_last: bool

    @property
    def nullable(self) -> bool:
        return bool(self.field.null)

    def flipped(self) -> _Key:
        return _Key(self.name, self.field, not self.descending, not self.nulls_last)

    def expression(self) -> Any:
        if not self.nullable:
            return f"-{self.name}" if self.descending else self.name
        # Explicit NULL placement: PostgreSQL and SQLite disagree on the default.
        nulls = {"nulls_last": True} if self.nulls_last else {"nulls_first": True}
        return F(self.name).desc(**nulls) if self.descending else F(self.name).asc(**nulls)

    def spec(self) -> str:
        return ("-" if self.descending else "") + self.name

    def equal(self, value: Any) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})

    def after(self, value: Any) -> Q:
        """Rows strictly after ``value`` in this key's order."""
        if value is None:
            # Nothing sorts after a trailing NULL; every value sorts after a leading one.
            return Q(pk__in=[]) if self.nulls_last else Q(**{f"{self.name}__isnull": False})
        after = Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value})
        if self.nullable and self.nulls_last:
            after |= Q(**{f"{self.name}__isnull": True})
        return after


def _scope(path: str, keys: list[Any], params: Any, unbound: tuple[str, ...]) -> str:
    """What a cursor is valid for: the list, its order and its question (every parameter
    and value but the unbound ones, in a canonical order), as a digest -- a cursor's
    length stays the same whatever the query's."""
    question = sorted(
        (name, value) for name, values in params.lists() if name not in unbound for value in values
    )
    text = json.dumps([path, [key.spec() for key in keys], question], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _keys(model: type[Model], ordering: Any) -> list[_Key]:
    """The keyset order of ``ordering`` (names or ``F(name).asc/desc()``), on the model's
    own columns, ending with the primary key (appended when missing) so it is total."""
    keys: list[_Key] = []
    for item in ordering:
        if isinstance(item, str):
            descending, name = item.startswith("-"), item.lstrip("-")
            nulls_last = True
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            descending, name = item.descending, item.expression.name
            nulls_last = not item.nulls_first
        else:
            raise ImproperlyConfigured(f"A keyset page cannot order by {item!r}.")
        if name == "pk":
            name = model._meta.pk.name
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist as exc:
            raise ImproperlyConfigured(
                f"A keyset page orders by the model's own columns, not {name!r}."
            ) from exc
        keys.append(_Key(field.attname, field, descending, nulls_last))
    pk = model._meta.pk
    if not keys or keys[-1].field is not pk:
        keys.append(_Key(pk.attname, pk, keys[0].descending if keys else True, True))
    return keys


def _after(keys: list[_Key], values: list[Any]) -> Q:
    """Rows after the boundary row ``values`` in the lexicographic order of ``keys``.

    The leading column's "at or after" comes first, as its own condition, so PostgreSQL
    starts the index scan at the boundary instead of filtering every row before it.
    """
    first = keys[0]
    condition = first.equal(values[0]) | first.after(values[0])
    alternatives = []
    prefix = Q()
    for key, value in zip(keys, values, strict=True):
        alternatives.append(prefix & key.after(value))
        prefix &= key.equal(value)
    either = alternatives[0]
    for alternative in alternatives[1:]:
        either |= alternative
    return condition & either


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class KeysetPagination(BasePagination):
    """The API's pages: newest first by default, walked with an opaque ``?cursor=``.

    The order is the queryset's own ``order_by`` (``-id`` when it has none), on indexed
    columns of the model, with the primary key as the last tie-breaker; a page is one
    query, ``WHERE`` after the boundary row ``ORDER BY`` the keys ``LIMIT size + 1``
    (the extra row says whether there is a next page). Nothing counts the table: the
    answer is ``{"next", "previous", "results"}``.

    The cursor is signed (``django.core.signing``): a tampered, truncated or foreign cursor
    is a 400 problem, never a 500 or a page of someone else's order. It is scoped to the
    path, the order and every query parameter but the cursor and the page size: a filter,
    a search, a moment each pick other rows, and a boundary row of one walk reused under
    other values (or none) would silently skip or repeat rows -- a list need not name its
    filters, so one added later is bound too. The links a page hands out keep the
    parameters, so following them always works. ``?page=`` (the old
    page numbers) is a 400 too: a client that counted pages would otherwise loop on the
    first page forever.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    retired_query_params = ("page",)
    #: The parameters a cursor may be reused under other values of: the cursor itself and
    #: the page size (a walk may change its stride). Every other one is bound.
    unbound_query_params = (cursor_query_param, page_size_query_param)
    default_ordering = ("-id",)

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        params = text_query_params(request)
        for name in self.retired_query_params:
            if name in params:
                raise InvalidInput(
                    "Page numbers are not supported: follow the 'next' link (?cursor=).",
                    errors={name: ["not supported; use cursor"]},
                )
        self.page_size = self._page_size(params.get(self.page_size_query_param))
        ordering = queryset.query.order_by or self.default_ordering
        self.keys = _keys(queryset.model, ordering)
        self.scope = _scope(request.path, self.keys, params, self.unbound_query_params)
        boundary, self.reverse = self._decode(params.get(self.cursor_query_param))
        keys = [key.flipped() for key in self.keys] if self.reverse else self.keys
        if boundary is not None:
            queryset = queryset.filter(_after(keys, boundary))
        rows = list(queryset.order_by(*(key.expression() for key in keys))[: self.page_size + 1])
        self.has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if self.reverse:
            rows.reverse()
        self.positioned = boundary is not None
        self.rows = rows
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.next_link(), "previous": self.previous_link(), "results": data}
        )

    def next_link(self) -> str | None:
        if self.reverse:
            # Came back from a later page: there is one after this.
            return self._link(self.rows[-1], reverse=False) if self.rows else self._first()
        return self._link(self.rows[-1], reverse=False) if self.has_more else None

    def previous_link(self) -> str | None:
        if self.reverse:
            return self._link(self.rows[0], reverse=True) if self.has_more else None
        if not self.positioned:
            return None
        return self._link(self.rows[0], reverse=True) if self.rows else self._first()

    def _first(self) -> str:
        return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)

    def _link(self, row: Any, *, reverse: bool) -> str:
        values = [_plain(getattr(row, key.name)) for key in self.keys]
        cursor = signing.dumps({"s": self.scope, "v": values, "r": reverse}, salt=CURSOR_SALT)
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def _page_size(self, text: str | None) -> int:
        if text is None or text == "":
            return int(getattr(settings, "REST_FRAMEWORK", {}).get("PAGE_SIZE") or 50)
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise InvalidInput(
                "page_size must be a positive whole number.",
                errors={self.page_size_query_param: ["expected a positive integer"]},
            )
        return min(int(text), self.max_page_size)

    def _decode(self, text: str | None) -> tuple[list[Any] | None, bool]:
        if text is None or text == "":
            return None, False
        invalid = InvalidInput(
            "The cursor is not one this list handed out: follow the 'next' or 'previous'"
            " link unchanged, or start again without a cursor.",
            errors={self.cursor_query_param: ["invalid cursor"]},
        )
        if len(text) > MAX_CURSOR_LENGTH:
            raise invalid
        try:
            payload = signing.loads(text, salt=CURSOR_SALT)
        except signing.BadSignature as exc:
            raise invalid from exc
        if not isinstance(payload, dict):
            raise invalid
        raw = payload.get("v")
        if payload.get("s") != self.scope or not isinstance(raw, list):
            raise invalid  # another list's cursor, or this list under another order
        if len(raw) != len(self.keys) or not isinstance(payload.get("r"), bool):
            raise invalid
        try:
            values = [
                None if value is None else key.field.to_python(value)
                for key, value in zip(self.keys, raw, strict=True)
            ]
        except (ValidationError, TypeError, ValueError) as exc:
            raise invalid from exc
        if any(
            value is None and not key.nullable for key, value in zip(self.keys, values, strict=True)
        ):
            raise invalid
        return values, payload["r"]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": CURSOR_HELP,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": PAGE_SIZE_HELP,
                "schema": {"type": "integer", "minimum": 1},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }


def keyset_parameters() -> list[OpenApiParameter]:
    """The keyset page's query parameters, for a view whose schema names its response by
    hand (drf-spectacular adds them itself to a serializer's list)."""
    return [
        OpenApiParameter(KeysetPagination.cursor_query_param, str, description=CURSOR_HELP),
        OpenApiParameter(KeysetPagination.page_size_query_param, int, description=PAGE_SIZE_HELP),
    ]


class UncountedPaginator(Paginator):
    """An admin changelist's pages of an unbounded table (the audit log) without
    COUNT(*): the "count" is the rows before this page plus the ones found on it and one
    more, so the admin knows whether a next page exists and nothing scans the table.

    Pair it with ``list_max_show_all = 0`` (no "Show all") and a pagination template
    that shows previous/next, not a page count.
    """

    def __init__(self, object_list: Any, per_page: int, *, page_number: int, **kwargs: Any):
        super().__init__(object_list, per_page, **kwargs)
        self._page_number = max(page_number, 1)

    @cached_property
    def count(self) -> int:
        offset = (self._page_number - 1) * self.per_page
        found = len(
            self.object_list.values_list("pk", flat=True)[offset : offset + self.per_page + 1]
        )
        return offset + found


def page_number_of(request: Any, parameter: str = "p") -> int:
    """The admin's page number from the query string (1 when absent or not a number)."""
    value = request.GET.get(parameter, "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 1
