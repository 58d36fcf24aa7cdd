from django.db import models


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    CHECKING = "checking", "Checking"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


class RequestPurpose(models.TextChoices):
    """Why a request exists: a first promotion (draft → approved), or the re-certification
    of an approved version (fresh evidence, the same quorum; the approval's expiry moves)."""

    PROMOTION = "promotion", "Promotion"
    RECERTIFICATION = "recertification", "Re-certification"


class ApproverRole(models.TextChoices):
    """The board's roles. Each is a permission of ``approvals.Board`` granted on a team
    (``core.permissions``): adding one is an approvals migration."""

    PLATFORM = "platform", "Platform approver"
    PRODUCT = "product", "Product approver"
    SECURITY = "security", "Security approver"
    # The release runbook's owners (migration 0004 seeds the runbook policy).
    PLATFORM_LEAD = "platform_lead", "Platform lead"
    DATA_GOVERNANCE = "data_governance", "Data governance"
    ML_ENGINEER = "ml_engineer", "ML engineer"
    APPLICATION_SECURITY = "application_security", "Application security"
    SECURITY_OPERATIONS_LEAD = "security_operations_lead", "Security operations lead"


OPEN_REQUEST_STATES = [RequestState.SUBMITTED, RequestState.CHECKING, RequestState.IN_REVIEW]


class StepType(models.TextChoices):
    """What a runbook step asks of its owner."""

    MANUAL_CHECK = "manual_check", "Manual check"
    FILE_UPLOAD = "file_upload", "File upload"
    FORM = "form", "Form / questionnaire"
    APPROVAL = "approval", "Approval"
    WEBHOOK = "webhook", "Webhook"


class CheckName(models.TextChoices):
    """The automated checks a policy can run (``approvals.checks``)."""

    METADATA_COMPLETE = "metadata_complete", "Required metadata complete"
    ROLLBACK_TARGET = "rollback_target", "Rollback target named"
    SBOM = "sbom", "SBOM present and valid CycloneDX JSON"
    PROVENANCE = "provenance", "Provenance names the artifact; signature trusted"
    ARTIFACT_CHECKSUM = "artifact_checksum", "Artifact bytes match the registered checksum"
    MODEL_SIGNATURE = "model_signature", "OpenSSF model signature"
    DEPENDENCY_SCAN = "dependency_scan", "No open critical vulnerability"
    ARTIFACT_SCAN = "artifact_scan", "Artifact scan clean"
    EVAL_THRESHOLDS = "eval_thresholds", "Evaluation metrics meet the policy thresholds"
    EVALS_FRESH = "evals_fresh", "Evaluations are for the current prompt/template"


CHECK_NAMES = CheckName.values
# Conditions on the version that nobody can override, whatever a policy says: missing
# SBOM or provenance, checksum mismatch, open critical CVE, stale evals (issue #3).
ALWAYS_CRITICAL_CHECKS = frozenset(
    {
        CheckName.SBOM,
        CheckName.PROVENANCE,
        CheckName.ARTIFACT_CHECKSUM,
        CheckName.DEPENDENCY_SCAN,
        CheckName.EVALS_FRESH,
    }
)


class RingCheckName(models.TextChoices):
    """The checks of a ring request (``approvals.checks.release``): run instead of the
    version's evidence checks, whose components were judged on their own requests."""

    COMPONENTS_APPROVED = "components_approved", "Every component approved or candidate"
    MANIFEST_INTACT = "manifest_intact", "No pinned component changed since submission"
    PREVIOUS_RING_ENTERED = "previous_ring_entered", "The previous ring was entered"
    MIN_DAYS_IN_PREVIOUS = "min_days_in_previous", "Long enough in the previous ring"
    MONITORING_WITHIN_THRESHOLDS = (
        "monitoring_within_thresholds",
        "Latest monitoring in the previous ring within thresholds",
    )
    NO_OPEN_INCIDENT = "no_open_incident", "No open incident blocks promotion"


RING_CHECK_NAMES = RingCheckName.values
# A ring request's conditions no manager can except: a component not approved, a changed
# manifest, a skipped ring, an open blocking incident (docs/adr/0020-rings.md). Days in
# the previous ring and monitoring take an exception unless a policy marks them critical.
ALWAYS_CRITICAL_RING_CHECKS = frozenset(
    {
        RingCheckName.COMPONENTS_APPROVED,
        RingCheckName.MANIFEST_INTACT,
        RingCheckName.PREVIOUS_RING_ENTERED,
        RingCheckName.NO_OPEN_INCIDENT,
    }
)


class Priority(models.IntegerChoices):
    NORMAL = 0, "Normal"
    EXPEDITED = 1, "Expedited"


class ReauthMethod(models.TextChoices):
    PASSWORD = "password", "Password"
    TOTP = "totp", "One-time code (TOTP)"
    IDP = "idp", "Fresh sign-in at the identity provider (SSO)"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (retries exhausted)"


class IncidentSeverity(models.TextChoices):
    SEV1 = "sev1", "SEV1 (critical)"
    SEV2 = "sev2", "SEV2 (major)"
    SEV3 = "sev3", "SEV3 (minor)"
    SEV4 = "sev4", "SEV4 (low)"


class IncidentState(models.TextChoices):
    OPEN = "open", "Open"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"


OPEN_INCIDENT_STATES = [IncidentState.OPEN, IncidentState.MITIGATED]


class IncidentSource(models.TextChoices):
    BREACH = "breach", "Rollback trigger breached by a monitoring report"
    PERSON = "person", "Opened by a person"
