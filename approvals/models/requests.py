"""Promotion requests and what hangs off them: check results, exceptions, sign-offs and the
signed decision record."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from approvals.choices import (
    OPEN_REQUEST_STATES,
    ApproverRole,
    Priority,
    ReauthMethod,
    RequestPurpose,
    RequestState,
)
from approvals.models.policies import GovernancePolicy
from approvals.models.request_team import REQUEST_TEAM, TeamOfRequest, refuse_another_team
from core.historical_records import GovernanceHistory
from core.querysets import scoped_to


class PromotionRequest(ConcurrentTransitionMixin, models.Model):
    """A request to promote a version to production, judged under one policy version.

    ``submitted → checking → in_review → approved | rejected | changes_requested``, plus
    ``withdrawn`` and ``expired``. Transitions only set ``state``; services do the rest.
    A request in ``submitted`` is its own outbox entry: the check task is enqueued on
    commit and a periodic sweep re-enqueues requests that wait too long.
    """

    version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="promotion_requests"
    )
    # A ring promotion of a release: ``version`` is then the release's anchor component (its
    # primary model version) so every list, queue and binding that reads a version still
    # holds; the checks, the sign-off binding and the decision name the release.
    release = models.ForeignKey(
        "registry.Release",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ring_requests",
        editable=False,
    )
    environment = models.CharField(max_length=64, blank=True, editable=False)
    target_ring = models.CharField(max_length=32, blank=True, editable=False)
    # The version's model's team, copied at opening and never changed, so per-team
    # figures need no join to versions (approvals.models.request_team; issue 14).
    # No index of its own: the (team, ...) indexes below lead with it.
    team = models.ForeignKey(
        "registry.Team",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,
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
    purpose = models.CharField(
        max_length=16,
        choices=RequestPurpose.choices,
        default=RequestPurpose.PROMOTION,
        editable=False,
        help_text="Re-certification: an approved version's approval is extended on approval.",
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
    checked_evidence = models.JSONField(
        default=dict,
        blank=True,
        help_text="Artifact checksum and evidence digests the latest check run saw.",
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    expedite_reason = models.TextField(blank=True)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last review step is due (business days)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    history = GovernanceHistory()

    objects = scoped_to(REQUEST_TEAM)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One open request per version at a time.
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(state__in=OPEN_REQUEST_STATES, release__isnull=True),
                name="promotion_request_one_open_per_version",
            ),
            # One open ring request per release, environment and ring.
            models.UniqueConstraint(
                fields=["release", "environment", "target_ring"],
                condition=Q(state__in=OPEN_REQUEST_STATES, release__isnull=False),
                name="promotion_request_one_open_per_ring",
            ),
            models.CheckConstraint(
                condition=Q(state__in=RequestState.values), name="promotion_request_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["state", "state_changed_at"]),
            # Per-team figures without the versions (issue 14): the dashboard's open requests
            # and age buckets, its lead-time decisions, the scorecard's decided requests.
            models.Index(
                fields=["team", "state", "created_at"], name="promotion_request_team_open"
            ),
            models.Index(
                fields=["team", "state", "decided_at"], name="promotion_request_team_decided"
            ),
            models.Index(
                fields=["team", "state", "state_changed_at"],
                name="promotion_request_team_changed",
            ),
            # The review queue's order (selectors.review_queue_for) over the requests in
            # review only: the queue walks it and stops after a page instead of sorting
            # every request in review (issue 14).
            models.Index(
                fields=["-priority", "due_at", "created_at", "id"],
                condition=Q(state=RequestState.IN_REVIEW),
                name="promotion_request_queue_order",
            ),
        ]

    def __str__(self) -> str:
        # "PR-9: support-lora 1.1.0": people read the model and version, not an id. Lists
        # of requests select_related the version and its model (no query per row).
        if self.release_id:
            # Lists that show ring requests select_related the release too.
            return f"PR-{self.pk}: release {self.release} → {self.target_ring}"
        return f"PR-{self.pk}: {self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            refuse_another_team(self)
        super().save(*args, **kwargs)

    save.alters_data = True

    @transition(field=state, source=RequestState.SUBMITTED, target=RequestState.CHECKING)
    def start_checks(self) -> None:
        """submitted → checking."""

    @transition(field=state, source=RequestState.IN_REVIEW, target=RequestState.CHECKING)
    def restart_checks(self) -> None:
        """in_review → checking: evidence changed, or someone asked for a re-run."""

    @transition(field=state, source=RequestState.CHECKING, target=RequestState.IN_REVIEW)
    def enter_review(self) -> None:
        """checking → in_review: no critical check failed."""

    @transition(
        field=state,
        source=[RequestState.CHECKING, RequestState.IN_REVIEW],
        target=RequestState.CHANGES_REQUESTED,
    )
    def request_changes(self) -> None:
        """checking/in_review → changes_requested: back to CI with reasons."""

    @transition(field=state, source=RequestState.IN_REVIEW, target=RequestState.APPROVED)
    def approve(self) -> None:
        """in_review → approved: quorum met, nothing blocking, decision record signed."""

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

    @transition(field=state, source=RequestState.IN_REVIEW, target=RequestState.EXPIRED)
    def expire(self) -> None:
        """in_review → expired: left unreviewed past its due date and grace."""

    @transition(field=state, source=RequestState.CHANGES_REQUESTED, target=RequestState.IN_REVIEW)
    def reopen(self) -> None:
        """changes_requested → in_review: a manager's exception covers the only failed
        (non-critical) checks, on unchanged evidence."""

    for _method in (
        start_checks,
        restart_checks,
        enter_review,
        request_changes,
        approve,
        reject,
        withdraw,
        expire,
        reopen,
    ):
        _method.alters_data = True
    del _method


# ``request.team`` reuses a team loaded through the version (request_team.TeamOfRequest).
PromotionRequest.team = TeamOfRequest(PromotionRequest._meta.get_field("team"))


class CheckResult(models.Model):
    """The outcome of one automated check on a request, with what it saw.

    Results are append-only; a re-run adds rows with a higher ``run`` number and the
    latest run counts.
    """

    governance_append_only = True

    request = models.ForeignKey(
        PromotionRequest, on_delete=models.PROTECT, related_name="check_results"
    )
    run = models.PositiveIntegerField(default=1)
    check_name = models.CharField(max_length=64)
    passed = models.BooleanField()
    critical = models.BooleanField(default=False)
    detail = models.CharField(max_length=1000)
    observed = models.JSONField(default=dict, blank=True)
    evidence_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Digest of the evidence document the check read."
    )
    run_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "run", "check_name"], name="check_result_one_per_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.check_name}: {'pass' if self.passed else 'FAIL'}"


class CheckException(models.Model):
    """A manager's override of one failed NON-critical check, with a justification and an
    expiry. Critical checks can never get one (service refusal and a database constraint)."""

    governance_append_only = True

    request = models.ForeignKey(
        PromotionRequest, on_delete=models.PROTECT, related_name="exceptions"
    )
    check_result = models.ForeignKey(CheckResult, on_delete=models.PROTECT, related_name="+")
    check_name = models.CharField(max_length=64)
    check_was_critical = models.BooleanField(default=False, editable=False)
    justification = models.TextField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["request_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(check_was_critical=False), name="exception_never_for_critical_check"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("granted_at")),
                name="exception_expires_after_grant",
            ),
            models.UniqueConstraint(fields=["check_result"], name="exception_one_per_check_result"),
        ]
        # The scorecard counts the exceptions granted within a window.
        indexes = [models.Index(fields=["granted_at"])]

    def __str__(self) -> str:
        return f"exception for {self.check_name} on request {self.request_id}"


class SignOff(models.Model):
    """A board member's signature for one role on one request. Never edited or deleted.

    The signed ``binding`` names the request, the version, the artifact checksum and the
    digest of every evidence document the signer saw; the server signs it (Ed25519). If
    the artifact or any evidence changes afterwards, or the row is copied onto another
    request, the binding no longer matches and the sign-off does not count.
    """

    governance_append_only = True

    request = models.ForeignKey(PromotionRequest, on_delete=models.PROTECT, related_name="signoffs")
    role = models.CharField(max_length=32, choices=ApproverRole.choices)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_checksum = models.CharField(max_length=64)
    evidence_digests = models.JSONField(default=dict, blank=True)
    meaning = models.CharField(max_length=200, default="Approved for production promotion")
    reauth_method = models.CharField(
        max_length=16, choices=ReauthMethod.choices, default=ReauthMethod.PASSWORD
    )
    binding = models.JSONField(default=dict, blank=True)
    binding_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.TextField(blank=True)
    keyid = models.CharField(max_length=128, blank=True)
    signed_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["request_id", "signed_at", "id"]
        verbose_name = "sign-off"
        constraints = [
            # A signer may re-sign only after evidence changed (a different binding).
            models.UniqueConstraint(
                fields=["request", "signer", "binding_sha256"], name="signoff_one_per_binding"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off by {self.signer_id} on request {self.request_id}"


class DecisionRecord(models.Model):
    """The signed decision: an in-toto Statement in a DSSE envelope (Ed25519). One per
    request, never changed."""

    governance_append_only = True

    request = models.OneToOneField(
        PromotionRequest, on_delete=models.PROTECT, related_name="decision_record"
    )
    envelope = models.JSONField()
    statement_sha256 = models.CharField(max_length=64)
    keyid = models.CharField(max_length=128)
    created_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"decision record for request {self.request_id}"
