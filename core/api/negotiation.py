"""Content negotiation with a short answer for what nearly every client asks (issue 14).

The API renders JSON only. DRF's negotiation parses the ``Accept`` header into media types,
orders them by precedence and matches each against each renderer on every request (about
2 % of a CI registration's CPU) -- to answer what is known before it starts when a client
sends no ``Accept``, ``*/*`` or exactly the one renderer's type, with no ``?format=``.
Anything else (parameters, several types, ``text/html``) goes through DRF's own answer,
406 included.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation


class JSONContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Any, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        if len(renderers) == 1 and not format_suffix:
            (renderer,) = renderers
            accept = request.META.get("HTTP_ACCEPT")  # absent is */*; empty is a 406
            if (accept is None or accept in ("*/*", renderer.media_type)) and (
                self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            ):
                return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
