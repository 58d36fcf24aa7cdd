"""The model owner's page, "My models": the versions of the models a person owns or
backs up, with their state and when their approval runs out; filtered and sorted by the
same expiry windows as the version list (``registry.approval_expiry``).

Bounded: one query for the rows of the page (one more than a page, to know whether a
next page exists: no COUNT over the owner's versions) and one for the filter's models.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from registry.approval_expiry import EXPIRY_WINDOWS, approval_expiry_q, version_expiry_text
from registry.choices import VersionState
from registry.selectors import versions_owned_by

PAGE_SIZE = 50

#: Sort key -> ordering; versions without an expiry sort last either way.
SORTS: dict[str, tuple[str, list[Any]]] = {
    "expiry": ("Approval expiry, soonest first", [F("approval_expires_at").asc(nulls_last=True)]),
    "-expiry": ("Approval expiry, latest first", [F("approval_expires_at").desc(nulls_last=True)]),
    "model": ("Model, then newest version", ["registered_model__name", "-semver_key"]),
    "state": ("State", ["state", "registered_model__name", "-semver_key"]),
    "-created": ("Newest registered first", ["-created_at"]),
}


class MyModelsFilter(forms.Form):
    model = forms.ChoiceField(required=False, label="Model")
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

    def __init__(self, data: Any, *, models: list[tuple[int, str]]) -> None:
        super().__init__(data)
        self.fields["model"].choices = [("", "All my models"), *models]


def my_models_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    versions = versions_owned_by(request.user)
    models = sorted(
        {
            (model_id, f"{team}/{name}")
            for model_id, team, name in versions.values_list(
                "registered_model_id", "registered_model__team__slug", "registered_model__name"
            ).distinct()
        },
        key=lambda choice: choice[1],
    )
    form = MyModelsFilter(request.GET or None, models=models)
    chosen = form.cleaned_data if form.is_valid() else {}
    if chosen.get("model"):
        versions = versions.filter(registered_model_id=int(chosen["model"]))
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
    context = {
        **admin.site.each_context(request),
        "title": "My models",
        "form": form,
        "rows": rows,
        "page": page,
        "has_next": len(fetched) > PAGE_SIZE,
        "query": query.urlencode(),
        "model_count": len(models),
    }
    return TemplateResponse(request, "admin/registry/my_models.html", context)


admin.site.register_page("my-models/", my_models_view, name="my_models")
