"""The printable model card of one version (``admin:model_card``), from the version's
structured fields through ``registry.model_card`` (the review page shows the same card).

A version the reader may not see is a 404, like a missing one. The releases pinning the
version and their incidents are those of the teams the reader sees.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from registry.approval_expiry import version_expiry_text
from registry.model_card import model_card
from registry.models import ModelVersion


def model_card_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not ModelVersion.objects.visible_to(request.user).filter(pk=pk).exists():
        raise Http404("No such version.")
    card = model_card(pk, viewer=request.user)
    context = {
        **admin.site.each_context(request),
        "title": f"Model card: {card.model_name} {card.version}",
        "card": card,
        "expiry": version_expiry_text(card.state, card.approval_expires_at, now=timezone.now()),
    }
    return TemplateResponse(request, "admin/registry/model_card.html", context)


admin.site.register_page("model-card/<int:pk>/", model_card_view, name="model_card")
