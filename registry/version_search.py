"""One answer to "which versions does this search box term mean?", for every list that
searches versions (the version changelist, the promotion-request changelist).

Only indexed lookups, never ``icontains`` (a full scan at 100,000 versions):

- a sha256 (64 hex digits): the version with that checksum (the checksum index);
- ``name version`` (two words): that model's version, exactly;
- one word: the models whose name starts with it (the ``varchar_pattern_ops`` name index;
  the first ``MAX_MODELS`` by name), or any model's version spelled so exactly (the
  version index).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db.models import Q, QuerySet

from registry.models import RegisteredModel

SHA256 = re.compile(r"[0-9a-f]{64}")
#: A name prefix matching more models than this searches the first of them by name.
MAX_MODELS = 200


def versions_matching(queryset: QuerySet, term: str, *, path: str = "") -> QuerySet:
    """``queryset`` narrowed to the versions ``term`` names. ``path`` leads from the
    queryset's model to the version (``"version__"`` for promotion requests)."""
    term = " ".join(term.split())
    if not term:
        return queryset
    if SHA256.fullmatch(term.lower()):
        return queryset.filter(**{f"{path}checksum": term.lower()})
    name, _, version = term.partition(" ")
    if version:
        return queryset.filter(**{f"{path}registered_model__name": name, f"{path}version": version})
    # The models first, on their own name index: an OR across the join to the models
    # would filter every version (a scan at 100,000). Then two index lookups, ORed by a
    # bitmap: the versions of those models, and any version spelled so.
    models = list(
        RegisteredModel.objects.filter(name__startswith=term)
        .order_by("name")
        .values_list("id", flat=True)[:MAX_MODELS]
    )
    return queryset.filter(
        Q(**{f"{path}registered_model_id__in": models}) | Q(**{f"{path}version": term})
    )


def version_search_results(path: str = "") -> Callable[..., tuple[QuerySet, bool]]:
    """A ModelAdmin's ``get_search_results`` searching by ``versions_matching``."""

    def get_search_results(model_admin, request, queryset, search_term):
        return versions_matching(queryset, search_term, path=path), False

    return get_search_results
