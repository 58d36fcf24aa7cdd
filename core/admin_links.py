"""Links to admin change pages, one ``reverse`` per page (issue 14).

A changelist links every row to its change page, and the audit log links every event to its
object: ``reverse`` once per row was ~40 µs, 4 ms of CPU on a page of 100 rows. Here the
change page's URL is reversed once, around a placeholder, and each row's key is put in
its place, quoted as ``reverse`` quotes it (the same text, character for character).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote as url_quote

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

#: Unreserved characters only, so ``reverse`` leaves it as it is.
_PLACEHOLDER = "~govboard-object-id~"
#: What ``reverse`` leaves unquoted in a path (RFC 3986 ``pchar``; django.urls.resolvers).
_SAFE = RFC3986_SUBDELIMS + "/~:@"


def change_url_maker(model: Any, *, current_app: str | None = None) -> Callable[[Any], str]:
    """pk -> the URL of ``model``'s admin change page for that object: what
    ``reverse("admin:<app>_<model>_change", args=[quote(pk)])`` returns, reversed once.
    Raises ``NoReverseMatch`` (now, not per row) when the admin has no change page."""
    opts = model._meta
    template = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change",
        args=[_PLACEHOLDER],
        current_app=current_app,
    )
    head, _, tail = template.partition(_PLACEHOLDER)

    def change_url(pk: Any) -> str:
        return head + url_quote(str(quote(pk)), safe=_SAFE) + tail

    return change_url


class RowLinksChangeList:
    """Mixed in front of a ``ChangeList``: its rows' links from one ``change_url_maker``
    per page instead of one ``reverse`` per row."""

    def url_for_result(self, result: Any) -> str:
        change_url = self.__dict__.get("_govboard_change_url")
        if change_url is None:
            change_url = change_url_maker(self.model, current_app=self.model_admin.admin_site.name)
            self._govboard_change_url = change_url
        return change_url(getattr(result, self.pk_attname))
