"""Every API route and method has an entry in the deny-by-default policy table, and nothing
outside the table can be called (AZ-1's choke point)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from govboard.api_policy import API_POLICY, PolicyTablePermission, rule_for
from registry.choices import TokenScope
from registry.models import ApiToken
from tests.registry.factories import UserFactory

API_PREFIX = "api/v1/"
# HEAD and OPTIONS follow the GET rule (see ``rule_for``); they are not separate entries.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name}" if pattern.name else None, pattern.callback


def api_routes() -> dict[str, tuple[str, set[str]]]:
    """route name → (route, the HTTP methods its view class implements), for /api/v1/."""
    routes = {}
    for route, name, callback in _walk(get_resolver().url_patterns):
        if not route.startswith(API_PREFIX):
            continue
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        assert view_class is not None, f"{route} is not a class-based API view"
        assert name is not None, f"{route} has no route name, so no policy entry can match it"
        methods = {
            method.upper()
            for method in view_class.http_method_names
            if hasattr(view_class, method) and method.upper() not in IMPLICIT_METHODS
        }
        routes[name] = (route, methods)
    return routes


def test_the_api_has_routes_so_the_checks_below_are_meaningful():
    # Given the URL configuration / When the API routes are collected
    routes = api_routes()

    # Then every known endpoint is found, with its methods
    assert routes["v1:version-list"] == ("api/v1/versions/", {"GET", "POST"})
    assert routes["v1:deployment-end"] == ("api/v1/deployments/<id:pk>/end/", {"POST"})
    assert len(routes) == 22


@pytest.mark.parametrize(
    ("name", "route", "method"),
    [
        (name, route, method)
        for name, (route, methods) in sorted(api_routes().items())
        for method in sorted(methods)
    ],
)
def test_every_api_route_and_method_has_a_policy_entry(name, route, method):
    # Given an implemented route and method / When the policy table is consulted
    rule = rule_for(name, method)

    # Then it has an explicit rule
    assert rule is not None, f"{method} {route} ({name}) has no entry in API_POLICY"


def test_the_policy_table_has_no_entry_for_a_route_or_method_that_does_not_exist():
    # Given the implemented routes
    routes = api_routes()

    # When the table's entries are compared with them
    stale = {
        (name, method)
        for name, rules in API_POLICY.items()
        for method in rules
        if name not in routes or method not in routes[name][1]
    }

    # Then every entry names a real route and an implemented method
    assert stale == set()


def _request(view_name: str | None, method: str, *, user, auth=None):
    match = SimpleNamespace(view_name=view_name) if view_name is not None else None
    return SimpleNamespace(user=user, auth=auth, method=method, resolver_match=match)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("view_name", "method"),
    [
        ("v1:no-such-route", "GET"),
        ("v1:version-detail", "DELETE"),
        ("v1:version-detail", "PUT"),
        ("v1:deployment-end", "GET"),
        ("v1:deployment-end", "PATCH"),
        ("admin:index", "GET"),
        ("", "GET"),
        (None, "GET"),
    ],
)
@pytest.mark.parametrize("caller", ["superuser", "token-with-every-scope"])
def test_an_unknown_route_or_method_is_refused_even_to_the_most_powerful_caller(
    view_name, method, caller
):
    # Given a superuser session, or a token holding every scope
    superuser = UserFactory(is_superuser=True)
    auth = (
        ApiToken(scopes=list(TokenScope.values), prefix="x", token_hash="0" * 64)
        if caller.startswith("token")
        else None
    )

    # When the permission is asked about a route or method missing from the table
    allowed = PolicyTablePermission().has_permission(
        _request(view_name, method, user=superuser, auth=auth), view=None
    )

    # Then it is refused
    assert allowed is False


@pytest.mark.django_db
def test_a_known_route_and_method_is_allowed_so_the_refusals_above_are_meaningful():
    # Given a person and a read token / When they ask for a listed route and method
    person = UserFactory()
    token = ApiToken(scopes=[TokenScope.READ], prefix="x", token_hash="0" * 64)

    # Then both are allowed, and the read token may not write
    permission = PolicyTablePermission()
    assert permission.has_permission(_request("v1:version-list", "GET", user=person), None)
    assert permission.has_permission(
        _request("v1:version-list", "GET", user=person, auth=token), None
    )
    assert not permission.has_permission(
        _request("v1:version-list", "POST", user=person, auth=token), None
    )


@pytest.mark.django_db
def test_an_unlisted_method_on_a_real_route_is_refused_over_http(api_client):
    # Given a superuser session
    api_client.force_login(UserFactory(is_superuser=True))

    # When it calls a method the view implements for no one (OPTIONS follows GET; a route
    # without GET therefore refuses OPTIONS), or one the view does not implement
    options = api_client.options("/api/v1/deployments/1/end/")
    delete = api_client.delete("/api/v1/versions/1/")

    # Then the policy refuses before the view runs
    assert options.status_code == 403
    assert delete.status_code == 403
