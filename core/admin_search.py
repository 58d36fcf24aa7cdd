"""Admin search boxes that use indexes (issue 14): Django's default search is
``icontains`` on every ``search_fields`` entry (and ``=``/``^`` are ``iexact`` and
``istartswith``): ``UPPER(col) LIKE UPPER('%term%')``, which no index answers, so a search
scans the table -- 860 ms over 100,000 versions.

Here ``search_fields`` mean exact matches (``"checksum"``) or case-sensitive prefixes
(``"^name"``, ``LIKE 'term%'``, answered by a ``varchar_pattern_ops`` index), ORed. An admin
with its own ``get_search_results`` (versions, releases, incidents, audit) keeps it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import lookup_spawns_duplicates
from django.db.models import Q, QuerySet


def indexed_lookup(field: str) -> str:
    """The ORM lookup a ``search_fields`` entry means here: exact, or ``^`` for a prefix."""
    if field.startswith("^"):
        return f"{field[1:]}__startswith"
    return field.lstrip("=")


def indexed_search(
    model_admin: admin.ModelAdmin, request: Any, queryset: QuerySet, search_term: str
) -> tuple[QuerySet, bool]:
    term = " ".join(search_term.split())
    fields = model_admin.get_search_fields(request)
    if not term or not fields:
        return queryset, False
    condition = Q()
    for field in fields:
        condition |= Q(**{indexed_lookup(field): term})
    duplicates = any(
        lookup_spawns_duplicates(model_admin.opts, indexed_lookup(field)) for field in fields
    )
    return queryset.filter(condition), duplicates


class IndexedSearchAdmin:
    """Mixed in front of every ModelAdmin the site registers: its search box uses
    ``indexed_search`` unless the admin (or a base of it below this mixin) writes its own."""

    def get_search_results(self, request: Any, queryset: QuerySet, search_term: str):
        mro = type(self).__mro__
        for klass in mro[mro.index(IndexedSearchAdmin) + 1 :]:
            if "get_search_results" in vars(klass):
                break
        if klass is not admin.ModelAdmin:
            return super().get_search_results(request, queryset, search_term)
        return indexed_search(self, request, queryset, search_term)
