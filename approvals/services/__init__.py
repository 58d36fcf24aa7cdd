"""Every state change of the approval workflow, one transaction each, audited inside it.

Admin actions, API views, commands and Celery tasks call these; nothing else changes
approval state. Modules: ``requests`` (submit, withdraw, reject, send back, expedite),
``checking`` (the automated checks' run and re-check), ``signoffs`` (re-authenticated,
bound sign-offs; TOTP enrolment), ``overrides`` (exceptions for non-critical checks),
``decisions`` (signed decision records and approval), ``webhooks`` (the outbound events'
outbox), ``notifications`` (email through the same outbox), ``lifecycle`` (deprecate,
retire and the expiry of approvals, with the version's open request), ``policies``.
"""

from approvals.assessment import assess, current_digests, signoff_problems
from approvals.choices import OPEN_REQUEST_STATES
from approvals.models import PromotionRequest
from approvals.services.checking import promotion_request_recheck, promotion_request_run_checks
from approvals.services.contacts import contact_bounce_clear, contact_bounce_record
from approvals.services.decisions import (
    approve_if_ready,
    build_statement,
    decision_record_for,
    signing_public_key_pem,
    verify_decision_envelope,
)
from approvals.services.escalation import overdue_reviews_escalate
from approvals.services.expiry import promotion_requests_expire
from approvals.services.hygiene import (
    lifecycle_rule_sweep,
    lifecycle_sweep,
    versions_expire_approvals,
)
from approvals.services.lifecycle import version_deprecate, version_retire
from approvals.services.notifications import (
    CONTACTS,
    Audience,
    notification_send,
    notifications_due,
    notifications_relay,
    notify,
)
from approvals.services.overrides import check_override
from approvals.services.policies import (
    default_policy,
    policy_create,
    policy_for_version,
    policy_publish,
)
from approvals.services.recertification import (
    approval_expiry_reminders_send,
    recertification_request_submit,
)
from approvals.services.requests import (
    promotion_request_expedite,
    promotion_request_reject,
    promotion_request_request_changes,
    promotion_request_submit,
    promotion_request_withdraw,
    requests_stuck_in_checks,
    signing_roles,
)
from approvals.services.retirement import versions_retire_after_grace
from approvals.services.scan_reports import scan_reports_read
from approvals.services.signoffs import (
    signoff_is_valid,
    signoff_record,
    totp_device_confirm,
    totp_device_enrol,
)
from approvals.services.webhooks import (
    deliveries_due,
    webhook_deliver,
    webhooks_dispatch,
    webhooks_enqueue,
)


def is_open(request: PromotionRequest) -> bool:
    return request.state in OPEN_REQUEST_STATES


__all__ = [
    "CONTACTS",
    "Audience",
    "approval_expiry_reminders_send",
    "approve_if_ready",
    "assess",
    "build_statement",
    "check_override",
    "contact_bounce_clear",
    "contact_bounce_record",
    "current_digests",
    "decision_record_for",
    "default_policy",
    "deliveries_due",
    "is_open",
    "lifecycle_rule_sweep",
    "lifecycle_sweep",
    "notification_send",
    "notifications_due",
    "notifications_relay",
    "notify",
    "overdue_reviews_escalate",
    "policy_create",
    "policy_for_version",
    "policy_publish",
    "promotion_request_expedite",
    "promotion_request_recheck",
    "promotion_request_reject",
    "promotion_request_request_changes",
    "promotion_request_run_checks",
    "promotion_request_submit",
    "promotion_request_withdraw",
    "promotion_requests_expire",
    "recertification_request_submit",
    "requests_stuck_in_checks",
    "scan_reports_read",
    "signing_public_key_pem",
    "signing_roles",
    "signoff_is_valid",
    "signoff_problems",
    "signoff_record",
    "totp_device_confirm",
    "totp_device_enrol",
    "verify_decision_envelope",
    "version_deprecate",
    "version_retire",
    "versions_expire_approvals",
    "versions_retire_after_grace",
    "webhook_deliver",
    "webhooks_dispatch",
    "webhooks_enqueue",
]
