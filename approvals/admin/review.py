"""The review page: a promotion request's admin page is where a board member decides.

Instead of Django's generic change form (a dump of read-only fields and inlines, the
policy snapshot as raw JSON and the DSSE envelope as one unbroken string), the page is
laid out from ``approvals.review_page`` in a fixed number of queries. The decision
record's envelope is never inlined; it downloads from its own URL as a JSON attachment
(404 where the request is not visible or has no record).
The service buttons (sign, reject, request changes, override, expedite) stay in the
object tools, from ``ServiceActionAdminMixin``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from approvals import selectors
from approvals.models import DecisionRecord, PromotionRequest
from approvals.review_page import review_page

REVIEW_TEMPLATE = "admin/approvals/promotionrequest/review.html"


class ReviewPageAdminMixin:
    """Renders the request's page as the review page (GET) and adds the envelope download.

    Anything but GET goes to Django's change view, which refuses it for people without
    the change permission (everything on a request changes through the service buttons).
    """

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        download = path(
            "<path:object_id>/decision-record.json",
            self.admin_site.admin_view(self.decision_record_view),
            name="{}_{}_decision_record".format(*info),
        )
        return [download, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            return super().change_view(request, object_id, form_url, extra_context)
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        page = _page_or_none(request, object_id)
        if page is None:
            # Another team's request and a missing one look the same: the admin's own
            # "does not exist" (a redirect to the index with a message), as on every page.
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        obj = page.request
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"Review PR-{obj.pk}: {obj.version}",
            "page": page,
            "service_actions": self.available_service_actions(request, obj),
            "history_url": reverse("admin:approvals_promotionrequest_history", args=[obj.pk]),
            "envelope_url": reverse(
                "admin:approvals_promotionrequest_decision_record", args=[obj.pk]
            )
            if page.decision
            else "",
            **(extra_context or {}),
        }
        return TemplateResponse(request, REVIEW_TEMPLATE, context)

    def decision_record_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The signed decision record's DSSE envelope, exactly as stored, as a download."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        visible = selectors.requests_visible_to(request.user).filter(pk=_pk(object_id))
        record = DecisionRecord.objects.filter(request__in=visible).first()
        if record is None:
            raise Http404("No decision record for this request.")
        response = HttpResponse(
            json.dumps(record.envelope, indent=2, sort_keys=True) + "\n",
            content_type="application/json",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="decision-record-PR-{record.request_id}.json"'
        )
        return response


def _pk(object_id: str) -> int:
    try:
        return int(unquote(object_id))
    except ValueError:
        raise Http404("No such request.") from None


def _page_or_none(request: HttpRequest, object_id: str) -> Any:
    try:
        return review_page(request.user, _pk(object_id))
    except (PromotionRequest.DoesNotExist, Http404):
        return None


__all__ = ["REVIEW_TEMPLATE", "ReviewPageAdminMixin"]
