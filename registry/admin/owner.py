"""The model owner's page, "My models": the versions of the models a person owns or
backs up, with their state and when their approval runs out; filtered and sorted by the
same expiry windows as the version list (``registry.approval_expiry``).

Bounded: one query for the rows of the page (one more than a page, to know whether a
next page exists: no COUNT over the owner's versions), one for the first ``MODEL_LIMIT``
of their models (each named once, a link that narrows the versions to it; "all your
models" opens the models' own paginated list), and one more to check a chosen model is
theirs. It listed every model twice (a sentence of links and the filter's ``<select>``)
from a DISTINCT over all their versions: 4,900 models, 100,000 versions (issue 14).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from registry.approval_expiry import EXPIRY_WINDOWS, approval_expiry_q, version_expiry_text
from registry.choices import VersionState
from registry.models import RegisteredModel
from registry.selectors import models_owned_by, versions_owned_by

PAGE_SIZE = 50
#: How many of the person's models the page names (by name); the rest are one link away.
MODEL_LIMIT = 20

#: Sort key -> ordering; versions without an expiry sort last either way.
SORTS: dict[str, tuple[str, list[Any]]] = {
    "expiry": ("Approval expiry, soonest first", [F("approval_expires_at").asc(nulls_last=True)]),
    "-expiry": ("Approval expiry, latest first", [F("approval_expires_at").desc(nulls_last=True)]),
    "model": ("Model, then newest version", ["registered_model__name", "-semver_key"]),
    "state": ("State", ["state", "registered_model__name", "-semver_key"]),
    "-created": ("Newest registered first", ["-created_at"]),
}


class MyModelsFilter(forms.Form):
    # A model's link in the page's list sets it; the form keeps it while other filters
    # change (a hidden input), and refuses a model that is not the person's.
    model = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    state = forms.ChoiceField(
        required=False, label="State", choices=[("", "Any state"), *VersionState.choices]
    )
    expiry = forms.ChoiceField(
        required=False,
        label="Approval expiry",
        choices=[("", "Any expiry"), *EXPIRY_WINDOWS.items()],
    )
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[(key, label) for key, (label, _) in SORTS.items()],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def __init__(self, data: Any, *, owned: QuerySet[RegisteredModel]) -> None:
        super().__init__(data)
        self.owned = owned

    def clean_model(self) -> RegisteredModel | None:
        model_id = self.cleaned_data.get("model")
        if model_id is None:
            return None
        model = self.owned.filter(pk=model_id).first()
        if model is None:
            raise forms.ValidationError("That is not one of your models.")
        return model


def my_models_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    versions = versions_owned_by(request.user)
    owned = models_owned_by(request.user)
    models = list(owned[: MODEL_LIMIT + 1])
    form = MyModelsFilter(request.GET or None, owned=owned)
    chosen = form.cleaned_data if form.is_valid() else {}
    if chosen.get("model"):
        versions = versions.filter(registered_model=chosen["model"])
    if chosen.get("state"):
        versions = versions.filter(state=chosen["state"])
    if chosen.get("expiry"):
        versions = versions.filter(approval_expiry_q(chosen["expiry"], now=now))
    sort = chosen.get("sort") or "expiry"
    page = chosen.get("page") or 1
    start = (page - 1) * PAGE_SIZE
    fetched = list(
        versions.select_related(
            "registered_model__owner", "registered_model__backup_owner"
        ).order_by(*SORTS[sort][1], "id")[start : start + PAGE_SIZE + 1]
    )
    rows = [
        {
            "version": version,
            "model": version.registered_model,
            "role": (
                "owner" if version.registered_model.owner_id == request.user.pk else "backup owner"
            ),
            "approved": version.state == VersionState.APPROVED,
            "expiry": version_expiry_text(version.state, version.approval_expires_at, now=now),
            "expired": bool(
                version.state == VersionState.APPROVED
                and version.approval_expires_at
                and version.approval_expires_at <= now
            ),
        }
        for version in fetched[:PAGE_SIZE]
    ]
    query = request.GET.copy()
    query.pop("page", None)
    # A model's link keeps the other filters and replaces the model.
    other_filters = query.copy()
    other_filters.pop("model", None)
    context = {
        **admin.site.each_context(request),
        "title": "My models",
        "form": form,
        "rows": rows,
        "page": page,
        "has_next": len(fetched) > PAGE_SIZE,
        "query": query.urlencode(),
        "models": models[:MODEL_LIMIT],
        "other_filters": other_filters.urlencode(),
        "more_models": len(models) > MODEL_LIMIT,
        "chosen_model": chosen.get("model"),
        "all_models_url": reverse("admin:registry_registeredmodel_changelist") + "?mine=yes",
    }
    return TemplateResponse(request, "admin/registry/my_models.html", context)


admin.site.register_page("my-models/", my_models_view, name="my_models")
