"""The API's documentation pages (Swagger UI and ReDoc), from the pinned
drf-spectacular-sidecar bundles, under a policy that lets the browser load nothing from
anywhere but this server: ReDoc's footer, for one, links a logo on a CDN."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Inline scripts and styles are the bundles' own start-up code; ReDoc starts a worker
# from a blob. Nothing else may be fetched, and only from this origin.
LOCAL_ONLY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)


def local_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = LOCAL_ONLY_POLICY
        return response

    return wrapped


swagger_ui = local_only(SpectacularSwaggerView.as_view(url_name="schema"))
redoc = local_only(SpectacularRedocView.as_view(url_name="schema"))
