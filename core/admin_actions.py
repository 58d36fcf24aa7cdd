"""Admin buttons that run a governance service through a small confirmation form.

The django-fsm admin mixin would call transitions and ``save()`` directly, skipping the
row lock, permission check and audit event; these buttons call the services instead, so
the admin has exactly the code path the API and the scheduler have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from core.errors import DomainError


@dataclass(frozen=True)
class ServiceAction:
    name: str
    label: str
    form_class: type[forms.Form]
    run: Callable[[HttpRequest, Any, dict[str, Any]], Any]
    available: Callable[[HttpRequest, Any], bool]
    # A fixed text, or one made from what the service returned (e.g. what approval of a
    # request still waits for after a sign-off).
    success_message: str | Callable[[Any], str]
    form_kwargs: Callable[[HttpRequest, Any], dict[str, Any]] | None = None
    #: What someone is told who opens the action where ``available`` says no (a 403 page
    #: instead of a form that could only fail); a text, or one made from the object.
    refusal: str | Callable[[HttpRequest, Any], str] = "This action is not available to you here."
    #: What the action acts on, shown above the form: (label, value) pairs.
    subject: Callable[[Any], list[tuple[str, str]]] | None = None


class ServiceActionAdminMixin:
    """Adds one URL and one object-tools button per ``ServiceAction``."""

    service_actions: tuple[ServiceAction, ...] = ()
    change_form_template = "admin/govboard/change_form_with_actions.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        custom = [
            path(
                f"<path:object_id>/{action.name}/",
                self.admin_site.admin_view(self._action_view(action)),
                name=f"{info[0]}_{info[1]}_{action.name}",
            )
            for action in self.service_actions
        ]
        return custom + super().get_urls()

    def available_service_actions(self, request: HttpRequest, obj: Any) -> list[dict[str, str]]:
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            {
                "label": action.label,
                "url": reverse(f"admin:{info[0]}_{info[1]}_{action.name}", args=[obj.pk]),
            }
            for action in self.service_actions
            if action.available(request, obj)
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["service_actions"] = self.available_service_actions(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def _action_view(self, action: ServiceAction) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            obj = self.get_object(request, object_id)
            if obj is None or not self.has_view_permission(request, obj):
                raise Http404
            if not action.available(request, obj):
                return self._refused(request, obj, action)
            kwargs = action.form_kwargs(request, obj) if action.form_kwargs else {}
            form = action.form_class(request.POST or None, **kwargs)
            if request.method == "POST" and form.is_valid():
                try:
                    result = action.run(request, obj, form.cleaned_data)
                except DomainError as exc:
                    form.add_error(None, exc.message)
                    # Field-level reasons go next to their fields, like a form error.
                    for field, reasons in exc.errors.items():
                        if field in form.fields and isinstance(reasons, list):
                            form.add_error(field, [str(reason) for reason in reasons])
                else:
                    message = action.success_message
                    if callable(message):
                        message = message(result)
                    self.message_user(request, message, messages.SUCCESS)
                    info = self.model._meta.app_label, self.model._meta.model_name
                    return HttpResponseRedirect(
                        reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk])
                    )
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": obj,
                "title": f"{action.label}: {obj}",
                "form": form,
                "action": action,
                "subject": action.subject(obj) if action.subject else [],
            }
            return TemplateResponse(request, "admin/govboard/service_action.html", context)

        return view

    def _refused(self, request: HttpRequest, obj: Any, action: ServiceAction) -> HttpResponse:
        """The refusal page: nothing runs, whatever was posted."""
        message = action.refusal(request, obj) if callable(action.refusal) else action.refusal
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"{action.label}: {obj}",
            "action": action,
            "refusal": message,
        }
        return TemplateResponse(
            request, "admin/govboard/service_action_refused.html", context, status=403
        )


class GovernanceHistoryAdmin(SimpleHistoryAdmin):
    """simple-history's pages, read-only and limited to what the user may see.

    Its history views look objects up without the admin's queryset (so another team's
    history was readable) and its per-version form saves a POST straight to the model
    (a "revert" that skips the services and the audit trail). Here both views first find
    the object through ``get_queryset`` (a hidden object is a 404), and the per-version
    form only shows: every write goes through a service.
    """

    def _require_visible(self, request: HttpRequest, object_id: str) -> None:
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        self._require_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    #: Who acted, for history rows that name no user: set by audit's admin (core imports
    #: no app) to (model, records) -> {history_id: user}, read from the audit log.
    history_actor_lookup: Callable[[Any, list[Any]], dict[int, Any]] | None = None

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        missing = [record for record in historical_records if record.history_user_id is None]
        if missing and self.history_actor_lookup is not None:
            actors = self.history_actor_lookup(self.model, missing)
            for record in missing:
                if record.history_id in actors:
                    record.history_user = actors[record.history_id]  # shown, never saved


def reason_form(label: str = "Reason") -> type[forms.Form]:
    return type(
        "ReasonForm",
        (forms.Form,),
        {"reason": forms.CharField(label=label, widget=forms.Textarea, max_length=2000)},
    )


__all__ = [
    "GovernanceHistoryAdmin",
    "ServiceAction",
    "ServiceActionAdminMixin",
    "admin",
    "reason_form",
]
