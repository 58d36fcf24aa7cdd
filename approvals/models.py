"""How things get approved: policies, promotion requests, check results and sign-offs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from approvals.choices import OPEN_REQUEST_STATES, RequestState
from registry.choices import ApproverRole


class GovernancePolicy(models.Model):
    """A versioned rule set: which roles must sign (with quorum) and how long approval lasts.

    Policies are data, not code. A new rule is a new ``version`` row; requests keep a
    snapshot of the policy version they were judged under.
    """

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False)
    required_roles = models.JSONField(
        help_text='Role → quorum, e.g. {"platform": 1, "product": 1, "security": 1}.'
    )
    approval_validity_days = models.PositiveIntegerField(default=90)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "-version"]
        verbose_name_plural = "governance policies"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="policy_unique_version"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="policy_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def snapshot(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "version": self.version,
            "required_roles": self.required_roles,
            "approval_validity_days": self.approval_validity_days,
        }


class PromotionRequest(ConcurrentTransitionMixin, models.Model):
    """A request to promote a version to production, judged under one policy version.

    ``submitted → checking → in_review → approved | rejected | changes_requested``, plus
    ``withdrawn`` and ``expired``. Transitions only set ``state``; services do the rest.
    """

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    policy = models.ForeignKey(GovernancePolicy, on_delete=models.PROTECT, related_name="+")
    policy_snapshot = models.JSONField(editable=False)
    state = FSMField(
        max_length=24,
        choices=RequestState.choices,
        default=RequestState.SUBMITTED,
        protected=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    rollback_target = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The approved version to roll back to if this one misbehaves.",
    )
    rollback_plan = models.TextField(blank=True)
    reasons = models.JSONField(
        default=list, blank=True, help_text="Why the request is blocked or was sent back."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One open request per version at a time.
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(state__in=OPEN_REQUEST_STATES),
                name="promotion_request_one_open_per_version",
            ),
            models.CheckConstraint(
                condition=Q(state__in=RequestState.values), name="promotion_request_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"PR-{self.pk} for version {self.version_id}"

    @transition(field=state, source=RequestState.SUBMITTED, target=RequestState.CHECKING)
    def start_checks(self) -> None:
        """submitted → checking."""

    @transition(field=state, source=RequestState.CHECKING, target=RequestState.IN_REVIEW)
    def enter_review(self) -> None:
        """checking → in_review: every baseline check passed."""

    @transition(
        field=state,
        source=[RequestState.CHECKING, RequestState.IN_REVIEW],
        target=RequestState.CHANGES_REQUESTED,
    )
    def request_changes(self) -> None:
        """checking/in_review → changes_requested: back to CI with reasons."""

    @transition(field=state, source=RequestState.IN_REVIEW, target=RequestState.APPROVED)
    def approve(self) -> None:
        """in_review → approved: quorum met."""

    @transition(field=state, source=RequestState.IN_REVIEW, target=RequestState.REJECTED)
    def reject(self) -> None:
        """in_review → rejected."""

    @transition(
        field=state,
        source=[RequestState.SUBMITTED, RequestState.CHECKING, RequestState.IN_REVIEW],
        target=RequestState.WITHDRAWN,
    )
    def withdraw(self) -> None:
        """open → withdrawn by the requester."""

    for _method in (start_checks, enter_review, request_changes, approve, reject, withdraw):
        _method.alters_data = True
    del _method


class CheckResult(models.Model):
    """The outcome of one automated check on a request, with what it saw."""

    governance_append_only = True

    request = models.ForeignKey(
        PromotionRequest, on_delete=models.PROTECT, related_name="check_results"
    )
    check_name = models.CharField(max_length=64)
    passed = models.BooleanField()
    critical = models.BooleanField(default=False)
    detail = models.CharField(max_length=1000)
    observed = models.JSONField(default=dict, blank=True)
    run_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "id"]

    def __str__(self) -> str:
        return f"{self.check_name}: {'pass' if self.passed else 'FAIL'}"


class SignOff(models.Model):
    """A board member's signature for one role on one request. Never edited or deleted.

    It is bound to the artifact checksum it saw, so a sign-off copied onto another version
    does not match. One signer signs at most once per request (separation of duties).
    """

    governance_append_only = True

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="signoffs")
    role = models.CharField(max_length=32, choices=ApproverRole.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_checksum = models.CharField(max_length=64)
    meaning = models.CharField(max_length=200, default="Approved for production promotion")
    signed_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["request_id", "signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "signer"], name="signoff_one_per_signer"),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off by {self.signer_id} on request {self.request_id}"
