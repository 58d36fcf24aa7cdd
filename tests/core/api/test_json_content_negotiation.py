"""Issue 14: the API's content negotiation answers the common ``Accept`` headers without
parsing them, and every answer -- 406s included -- is the one DRF's own negotiation gives."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.negotiation import JSONContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    " */* ",
    "application/*",
    "application/json; indent=4",
    "application/json, text/plain;q=0.5",
    "text/html",
    "application/xml",
    "text/html, */*;q=0.1",
]


def answer(negotiation, accept: str | None, query: str = "", renderers=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/versions/{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers or [JSONRenderer()])
    except NotAcceptable:
        return "406"
    except Http404:  # ?format= naming no renderer
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS, ids=[repr(a) for a in ACCEPTS])
@pytest.mark.parametrize("query", ["", "?format=json", "?format=xml"])
def test_every_accept_header_gets_drfs_own_answer(accept, query):
    assert answer(JSONContentNegotiation(), accept, query) == answer(
        DefaultContentNegotiation(), accept, query
    )


def test_with_several_renderers_it_is_drfs_negotiation_whole():
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]
    for accept in ACCEPTS:
        assert answer(JSONContentNegotiation(), accept, renderers=renderers) == answer(
            DefaultContentNegotiation(), accept, renderers=renderers
        )


@pytest.mark.django_db
def test_the_api_answers_html_with_a_406_problem_and_no_accept_with_json(api_client):
    refused = api_client.get("/api/v1/versions/", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406
    assert refused["Content-Type"] == "application/problem+json"
    unauthenticated = api_client.get("/api/v1/versions/")
    assert unauthenticated.status_code == 401
    assert unauthenticated["Content-Type"] == "application/problem+json"
