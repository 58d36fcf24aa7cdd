"""Every API error, even outside a DRF view, is an RFC 9457 problem document."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import path

from govboard.urls import urlpatterns as project_urls


def _boom(request):
    raise RuntimeError("an unexpected failure")


urlpatterns = [*project_urls, path("api/v1/_boom/", _boom)]
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=False)
def test_an_unknown_api_url_is_a_problem_json_404():
    response = Client().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_an_unexpected_api_failure_is_a_problem_json_500_without_internals():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/_boom/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500
    assert "unexpected failure" not in response.content.decode()


@override_settings(DEBUG=False)
def test_pages_outside_the_api_keep_django_s_html_errors():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
