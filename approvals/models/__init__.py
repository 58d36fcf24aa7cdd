"""How things get approved: policies, promotion requests, checks, exceptions, sign-offs,
decision records, trusted keys, second factors, outbound webhooks and email notifications."""

from approvals.models.board import Board
from approvals.models.hygiene import ContactBounce, LifecycleRuleFiring, ScanReportReading
from approvals.models.notifications import Notification
from approvals.models.policies import GovernancePolicy
from approvals.models.releases import (
    Incident,
    IncidentTag,
    IncidentTimelineEntry,
    MonitoringReport,
    RingEntry,
)
from approvals.models.requests import (
    CheckException,
    CheckResult,
    DecisionRecord,
    PromotionRequest,
    SignOff,
)
from approvals.models.security import TotpDevice, TrustedSigningKey
from approvals.models.webhooks import (
    WEBHOOK_VERBS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "WEBHOOK_VERBS",
    "Board",
    "CheckException",
    "CheckResult",
    "ContactBounce",
    "DecisionRecord",
    "GovernancePolicy",
    "Incident",
    "IncidentTag",
    "IncidentTimelineEntry",
    "LifecycleRuleFiring",
    "MonitoringReport",
    "Notification",
    "PromotionRequest",
    "RingEntry",
    "ScanReportReading",
    "SignOff",
    "TotpDevice",
    "TrustedSigningKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
