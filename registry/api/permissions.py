"""What a credential may do. Tokens carry scopes; people act through services' checks."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from registry.models import ApiToken


class TokenScopeAllows(BasePermission):
    """A token must carry the view's ``required_scope`` for the request method."""

    message = "This token's scopes do not allow this action."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if not isinstance(request.auth, ApiToken):
            return True  # session users: services check their object permissions
        scopes = getattr(view, "required_scopes", {})
        needed = scopes.get(request.method, scopes.get("*"))
        return needed is not None and needed in request.auth.scopes
