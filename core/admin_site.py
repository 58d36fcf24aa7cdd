"""govboard's one admin site: Django's admin (its login, permissions, look and
navigation) with our branding and a way for each app to add whole pages to it.

Apps add a page from their admin module (loaded by autodiscovery before the URLs are
built) with ``admin.site.register_page("dashboard/", view, name="dashboard")``; the page
is wrapped in ``admin_view`` (staff login, no caching) and reversed as ``admin:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.urls import URLPattern, path

from core.admin_links import RowLinksChangeList
from core.admin_search import IndexedSearchAdmin
from core.pagination import UncountedPaginator, page_number_of


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable[..., Any]
    name: str


class SiteChangeList(RowLinksChangeList):
    """Mixed in front of every changelist of the site: its rows' links from one reverse per
    page (``RowLinksChangeList``), and its rows load only the admin's ``list_only``
    columns when it names them (``QuerySet.only``: a list of a few short columns need not
    load and decode every JSON document of every row). Not a default on
    ``UncountedListAdmin``, which stands in front of the admin's own attributes."""

    def get_queryset(self, request: Any, exclude_parameters: Any = None) -> Any:
        queryset = super().get_queryset(request, exclude_parameters)
        columns = getattr(self.model_admin, "list_only", ())
        return queryset.only(*columns) if columns else queryset


@cache
def site_changelist(changelist_class: type) -> type:
    """``changelist_class`` with ``SiteChangeList`` in front (one class per class)."""
    if issubclass(changelist_class, SiteChangeList):
        return changelist_class
    return type(
        changelist_class.__name__,
        (SiteChangeList, changelist_class),
        {"__module__": changelist_class.__module__, "__qualname__": changelist_class.__qualname__},
    )


class UncountedListAdmin:
    """Mixed in front of every ModelAdmin the site registers (issue 14): a changelist
    never counts its table, filtered or not. Django's ChangeList counts twice — the
    paginator's ``count`` for the filtered rows and ``root_queryset.count()`` when
    ``show_full_result_count`` — so the full count is off and the paginator's count is
    the rows before the page plus the page and one more (``UncountedPaginator``).
    No "Show all" either (``list_max_show_all = 0``). The changelist is a
    ``SiteChangeList``: rows' links from one reverse per page, ``list_only`` columns."""

    show_full_result_count = False
    list_max_show_all = 0

    def get_changelist(self, request: Any, **kwargs: Any) -> type:
        return site_changelist(super().get_changelist(request, **kwargs))

    def get_paginator(
        self,
        request: Any,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> UncountedPaginator:
        return UncountedPaginator(
            queryset,
            per_page,
            page_number=page_number_of(request),
            allow_empty_first_page=allow_empty_first_page,
        )


def uncounted(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` with ``UncountedListAdmin`` and ``IndexedSearchAdmin`` in front (its
    own class if it has them)."""
    if issubclass(admin_class, UncountedListAdmin):
        return admin_class
    return type(
        admin_class.__name__,
        (UncountedListAdmin, IndexedSearchAdmin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )


class GovboardAdminSite(admin.AdminSite):
    site_header = "govboard"
    site_title = "govboard"
    index_title = "Model governance"
    #: "View site" and a sign-in without ``next`` go to ``/``, which sends each person to
    #: their landing page (``govboard.landing``).
    site_url = "/"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._pages: dict[str, AdminPage] = {}

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Django's register, with every admin made uncounted (``UncountedListAdmin``) and
        its search indexed (``IndexedSearchAdmin``): the rules are the site's, so a new or
        third-party admin cannot forget them."""
        admin_class = uncounted(admin_class or admin.ModelAdmin)
        if options:
            # Django builds a subclass from the options; build it here so ours stays first.
            options["__module__"] = __name__
            admin_class = uncounted(type(f"{admin_class.__name__}Admin", (admin_class,), options))
        super().register(model_or_iterable, admin_class)

    def register_page(self, route: str, view: Callable[..., Any], *, name: str) -> None:
        """Add a page at ``/admin/<route>`` named ``admin:<name>``; one name, one page."""
        if name in self._pages:
            raise ValueError(f"An admin page named {name!r} is already registered.")
        self._pages[name] = AdminPage(route=route, view=view, name=name)

    def login(self, request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        # Django's login would land everyone on the index; ``/`` knows who they are.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            extra_context = {REDIRECT_FIELD_NAME: self.site_url, **(extra_context or {})}
        return super().login(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        # Our pages come first: Django's list ends with a catch-all that would 404 them.
        pages = [
            path(page.route, self.admin_view(page.view), name=page.name)
            for page in self._pages.values()
        ]
        return pages + super().get_urls()


class GovboardAdminConfig(AdminConfig):
    """Installed instead of ``django.contrib.admin`` so ``admin.site`` is ours."""

    default_site = "core.admin_site.GovboardAdminSite"
