"""``{% reports_links as links %}``: whether the admin index offers the report pages."""

from __future__ import annotations

from django import template

from core.permissions import Verb, teams_for

register = template.Library()


@register.simple_tag(takes_context=True)
def reports_links(context: template.Context) -> dict[str, bool]:
    user = context["request"].user
    return {
        "export": teams_for(user, Verb.EXPORT).exists(),
        "read": teams_for(user, Verb.READ).exists(),
    }
