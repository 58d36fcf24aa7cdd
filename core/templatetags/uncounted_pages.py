"""Previous/next links for an uncounted changelist (``core.admin_site.UncountedListAdmin``):
the list knows whether a next page exists, never how many pages there are."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def page_links(cl: Any) -> dict[str, Any]:
    """The previous and next page's URLs of ``cl`` (None at either end)."""
    has_next = cl.result_count > cl.page_num * cl.list_per_page
    return {
        "page": cl.page_num,
        "previous": cl.get_query_string({"p": cl.page_num - 1}) if cl.page_num > 1 else None,
        "next": cl.get_query_string({"p": cl.page_num + 1}) if has_next else None,
    }
