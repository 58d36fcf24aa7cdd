"""How a cell reads in a text format: moments in ISO 8601, structures as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
    return str(value)


def report_header(scope: Any, *, generated_at: datetime) -> dict[str, Any]:
    return {
        "format": "govboard-report/1",
        "generated_at": generated_at.isoformat(),
        "generated_for": scope.actor.get_username(),
        "scope": scope.describe(),
    }
