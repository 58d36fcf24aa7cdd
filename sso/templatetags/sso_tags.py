"""``{% sso_login %}``: the "Sign in with <provider>" button on the admin login page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from sso import conf

register = template.Library()


@register.inclusion_tag("sso/login_button.html", takes_context=True)
def sso_login(context: dict[str, Any]) -> dict[str, Any]:
    if not conf.sso_enabled():
        return {"enabled": False}
    url = reverse("sso:login")
    next_url = context.get("next") or ""
    if next_url:
        url = f"{url}?{urlencode({'next': next_url})}"
    return {"enabled": True, "url": url, "provider_name": conf.provider_name()}
