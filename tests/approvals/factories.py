from __future__ import annotations

import factory

from approvals import services
from approvals.choices import RequestState
from approvals.models import GovernancePolicy, PromotionRequest, SignOff
from audit.models import AuditEvent
from registry.models import ModelVersion
from tests.registry.factories import (
    ModelVersionFactory,
    UserFactory,
    ready_version,
    service_account_with_token,
)


def request_in_review(version: ModelVersion | None = None, **kwargs) -> PromotionRequest:
    """A promotion request that passed its baseline checks, submitted by the team's CI."""
    version = version or ready_version(**kwargs)
    account, _ = service_account_with_token(teams=[version.registered_model.team])
    request = services.promotion_request_submit(actor=account.user, version=version)
    assert request.state == "in_review", request.reasons
    return request


def governance_row_counts() -> dict[str, int]:
    """Row counts of everything a refused operation must leave untouched."""
    return {
        "versions": ModelVersion.objects.count(),
        "requests": PromotionRequest.objects.count(),
        "signoffs": SignOff.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def _default_policy() -> GovernancePolicy:
    return GovernancePolicy.objects.get(is_default=True)


class PromotionRequestFactory(factory.django.DjangoModelFactory):
    """A request built directly in a given state (bulk fixtures such as admin lists only).

    Real requests go through ``approvals.services.promotion_request_submit``; this skips
    the checks and the audit trail, so use it only where those are not under test.
    """

    class Meta:
        model = PromotionRequest

    version = factory.SubFactory(ModelVersionFactory)
    policy = factory.LazyFunction(_default_policy)
    policy_snapshot = factory.LazyAttribute(lambda o: o.policy.snapshot())
    state = RequestState.IN_REVIEW
    requested_by = factory.SubFactory(UserFactory)


class SignOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignOff

    request = factory.SubFactory(PromotionRequestFactory)
    role = "platform"
    signer = factory.SubFactory(UserFactory)
    signed_checksum = factory.LazyAttribute(lambda o: o.request.version.checksum)
