"""The admin's report pages: the report form (opened from the audit log and from a
model's page) and "which version served customer C at time T".

Both are read-only and open to anyone the admin lets in who may export (or read) at least
one team; every row they show comes through ``visible_to`` (the scope and the registry's
deployment selector). Queries per page are fixed, whatever the data: the permission
lookups, and one query for the page's rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from core.errors import DomainError
from core.permissions import Verb, teams_for
from reports.exports import CONTENT_TYPES, report_chunks, report_filename
from reports.forms import ReportForm, ServingForm
from reports.scope import report_scope
from reports.sections.serving import served_at


def may_export(user: Any) -> bool:
    return teams_for(user, Verb.EXPORT).exists()


def report_view(request: HttpRequest) -> HttpResponse:
    if not may_export(request.user):
        raise PermissionDenied
    form = ReportForm(request.GET if "format" in request.GET else None, initial=request.GET)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            scope = report_scope(
                actor=request.user,
                model=data["model"],
                team=data["team"],
                customer=data["customer"],
                start=data["start"],
                until=data["until"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return report_response(scope, data["format"])
    context = {
        **admin.site.each_context(request),
        "title": "Audit report",
        "form": form,
    }
    return TemplateResponse(request, "admin/reports/report_form.html", context)


def report_response(scope: Any, export_format: str) -> HttpResponse:
    """The report as a download: CSV and JSON streamed, the PDF in one piece."""
    chunks = report_chunks(scope, export_format)
    name = report_filename(scope, export_format, now_text=timezone.now().strftime("%Y%m%dT%H%M%SZ"))
    if export_format == "pdf":
        response = HttpResponse(b"".join(chunks), content_type=CONTENT_TYPES["pdf"])
    else:
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[export_format])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def serving_view(request: HttpRequest) -> HttpResponse:
    """Which version served customer C at time T (the API's deployment selector)."""
    if not teams_for(request.user, Verb.READ).exists():
        raise PermissionDenied
    form = ServingForm(request.GET or None)
    deployments = None
    if form.is_bound and form.is_valid():
        deployments = list(
            served_at(
                request.user, customer=form.cleaned_data["customer"], at=form.cleaned_data["at"]
            )
        )
    context = {
        **admin.site.each_context(request),
        "title": "Which version served a customer",
        "form": form,
        "deployments": deployments,
    }
    return TemplateResponse(request, "admin/reports/serving.html", context)
