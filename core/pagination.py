from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination


class BoundedPageNumberPagination(PageNumberPagination):
    """Page numbers with a client-chosen size, never more than 200 rows."""

    page_size_query_param = "page_size"
    max_page_size = 200


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
