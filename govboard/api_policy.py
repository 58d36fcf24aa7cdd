"""Who may call what: the one deny-by-default table for every API endpoint.

Each route name maps HTTP methods to the token scope a service account needs; ``SESSION``
marks methods people may call with a browser session (their object permissions are then
checked by the selectors and services). A route or method missing here is refused with 403
— and ``tests/govboard/api/test_api_policy_table.py`` fails when any API route has no entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.permissions import BasePermission

from registry.choices import TokenScope
from registry.models import ApiToken


@dataclass(frozen=True)
class Rule:
    scope: str | None  # the token scope required; None: tokens may not call it
    session: bool = True  # whether signed-in people may call it
    public: bool = False  # anyone, even anonymous (published verification material)


READ = Rule(TokenScope.READ)
REGISTER = Rule(TokenScope.REGISTER)
EVIDENCE = Rule(TokenScope.EVIDENCE)
PROMOTE = Rule(TokenScope.PROMOTE)
DEPLOY = Rule(TokenScope.DEPLOY)
# Opening and annotating incidents: the service then checks Verb.MANAGE_INCIDENTS on the
# team (a person's session: the team's registrants and governance managers).
INCIDENTS = Rule(TokenScope.INCIDENTS)

API_POLICY: dict[str, dict[str, Rule]] = {
    "v1:version-list": {"GET": READ, "POST": REGISTER},
    "v1:version-detail": {"GET": READ},
    "v1:version-evidence": {"GET": READ, "POST": EVIDENCE},
    "v1:version-datasets": {"GET": READ, "POST": REGISTER},
    "v1:registered-model": {"GET": READ, "PUT": REGISTER},
    "v1:promotion-request-list": {"GET": READ, "POST": PROMOTE},
    "v1:promotion-request-detail": {"GET": READ},
    "v1:deployment-list": {"GET": READ, "POST": DEPLOY},
    "v1:deployment-end": {"POST": DEPLOY},
    "v1:promotion-request-withdraw": {"POST": PROMOTE},
    "v1:promotion-request-recheck": {"POST": PROMOTE},
    "v1:promotion-request-decision": {"GET": READ},
    "v1:signing-key": {"GET": Rule(TokenScope.READ, public=True)},
    "v1:release-rings": {"GET": READ, "POST": PROMOTE},
    "v1:scorecard": {"GET": READ},
    "v1:release-list": {"GET": READ, "POST": REGISTER},
    "v1:release-detail": {"GET": READ},
    "v1:served-at": {"GET": READ},
    "v1:release-monitoring-reports": {"GET": READ, "POST": EVIDENCE},
    "v1:incident-list": {"GET": READ, "POST": INCIDENTS},
    "v1:incident-detail": {"GET": READ},
    "v1:incident-timeline": {"POST": INCIDENTS},
}


def rule_for(view_name: str | None, method: str) -> Rule | None:
    if view_name is None:
        return None
    rules = API_POLICY.get(view_name)
    if rules is None:
        return None
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return rules.get(method)


class PolicyTablePermission(BasePermission):
    """Allow a request only when the policy table has a rule for its route and method."""

    message = "This credential may not call this endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        match = getattr(request, "resolver_match", None)
        rule = rule_for(match.view_name if match else None, request.method)
        if rule is None:
            return False
        if rule.public:
            return True
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if isinstance(request.auth, ApiToken):
            self.message = "This token's scopes do not allow this action."
            return rule.scope is not None and rule.scope in request.auth.scopes
        return rule.session
