"""govboard's one admin site: Django's admin (its login, permissions, look and
navigation) with our branding and a way for each app to add whole pages to it.

Apps add a page from their admin module (loaded by autodiscovery before the URLs are
built) with ``admin.site.register_page("dashboard/", view, name="dashboard")``; the page
is wrapped in ``admin_view`` (staff login, no caching) and reversed as ``admin:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.urls import URLPattern, path


@dataclass(frozen=True)
class AdminPage:
    route: str
    view: Callable[..., Any]
    name: str


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
