"""The navigation badge: how many requests await the signed-in person's sign-off."""

from __future__ import annotations

from typing import Any

from django import template

from approvals import selectors

register = template.Library()


def badge_text(count: int) -> str:
    """The count as the badge shows it: "99+" once the bounded count reaches its limit."""
    return f"{selectors.QUEUE_LIMIT - 1}+" if count >= selectors.QUEUE_LIMIT else str(count)


@register.inclusion_tag("admin/approvals/awaiting_badge.html", takes_context=True)
def awaiting_badge(context: Any) -> dict[str, Any]:
    """A link to "Awaiting your sign-off" with the count; nothing for someone signed out.
    One bounded query (a COUNT over at most ``QUEUE_LIMIT`` rows), none when the page
    already knows the count."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {"show": False}
    count = context.get("awaiting_count")
    if count is None:
        count = selectors.awaiting_count(user)
    return {"show": True, "count": count, "text": badge_text(count)}
