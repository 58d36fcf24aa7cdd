from __future__ import annotations

from approvals import services
from approvals.models import PromotionRequest
from registry.models import ModelVersion
from tests.registry.factories import ready_version, service_account_with_token


def request_in_review(version: ModelVersion | None = None, **kwargs) -> PromotionRequest:
    """A promotion request that passed its baseline checks, submitted by the team's CI."""
    version = version or ready_version(**kwargs)
    account, _ = service_account_with_token(teams=[version.registered_model.team])
    request = services.promotion_request_submit(actor=account.user, version=version)
    assert request.state == "in_review", request.reasons
    return request
