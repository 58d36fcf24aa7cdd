"""Every audit verb, past tense, written once (issue 9).

Services record ``AuditVerb`` members; ``audit.services.record`` refuses anything else.
Webhooks and reports read them through ``AuditVerb.of``, which also maps the spellings
written before the verbs were typed (the log is append-only: old events keep their text).
"""

from __future__ import annotations

from enum import StrEnum


class AuditVerb(StrEnum):
    # registry: what exists
    MODEL_REGISTERED = "model.registered"
    MODEL_UPDATED = "model.updated"
    VERSION_REGISTERED = "version.registered"
    VERSION_DATASET_LINKED = "version.dataset_linked"
    VERSION_MARKED_CANDIDATE = "version.marked_candidate"
    VERSION_RETURNED_TO_DRAFT = "version.returned_to_draft"
    VERSION_APPROVED = "version.approved"
    VERSION_DEPRECATED = "version.deprecated"
    VERSION_RETIRED = "version.retired"
    VERSION_RECERTIFIED = "version.recertified"
    VERSION_EXPIRY_REMINDED = "version.expiry_reminded"
    EVIDENCE_ATTACHED = "evidence.attached"
    FINDING_TRIAGED = "finding.triaged"
    DEPLOYMENT_RECORDED = "deployment.recorded"
    DEPLOYMENT_ENDED = "deployment.ended"
    SERVICE_ACCOUNT_CREATED = "service_account.created"
    SERVICE_ACCOUNT_CHANGED = "service_account.changed"
    TOKEN_ISSUED = "token.issued"
    TOKEN_REVOKED = "token.revoked"
    TEAM_CREATED = "team.created"
    TEAM_RENAMED = "team.renamed"
    TEAM_ROLE_GRANTED = "team.role_granted"
    TEAM_ROLE_REVOKED = "team.role_revoked"
    USER_CREATED = "user.created"
    USER_GROUP_ADDED = "user.group_added"
    GROUP_CREATED = "group.created"
    # approvals: how things get approved
    POLICY_CREATED = "policy.created"
    POLICY_PUBLISHED = "policy.published"
    PROMOTION_SUBMITTED = "promotion.submitted"
    PROMOTION_CHECKS_STARTED = "promotion.checks_started"
    PROMOTION_CHECKED = "promotion.checked"
    PROMOTION_RECHECK_REQUESTED = "promotion.recheck_requested"
    PROMOTION_SIGNED = "promotion.signed"
    PROMOTION_APPROVED = "promotion.approved"
    PROMOTION_REJECTED = "promotion.rejected"
    PROMOTION_CHANGES_REQUESTED = "promotion.changes_requested"
    PROMOTION_WITHDRAWN = "promotion.withdrawn"
    PROMOTION_EXPIRED = "promotion.expired"
    PROMOTION_EXPEDITED = "promotion.expedited"
    PROMOTION_ESCALATED = "promotion.escalated"
    PROMOTION_EXCEPTION_GRANTED = "promotion.exception_granted"
    # releases of the whole decision stack (issue 13); a ring promotion is a request like
    # any other (promotion.* verbs), and entering the ring is recorded when it is approved
    RELEASE_SUBMITTED = "release.submitted"
    RELEASE_WITHDRAWN = "release.withdrawn"
    RELEASE_ROLLED_BACK = "release.rolled_back"
    RELEASE_RING_ENTERED = "release.ring_entered"
    MONITORING_REPORT_UPLOADED = "monitoring.report_uploaded"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_NOTE_ADDED = "incident.note_added"
    INCIDENT_MITIGATED = "incident.mitigated"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_ROLLBACK_OWNER_NOTIFIED = "incident.rollback_owner_notified"
    # the lifecycle rules (issue 12): told without changing, or could not retire
    LIFECYCLE_RULE_NOTIFIED = "lifecycle.rule_notified"
    RETIREMENT_ESCALATED = "version.retirement_escalated"
    CONTACT_BOUNCE_RECORDED = "contact.bounce_recorded"
    CONTACT_BOUNCE_CLEARED = "contact.bounce_cleared"
    TOTP_ENROLMENT_STARTED = "totp.enrolment_started"
    TOTP_CONFIRMED = "totp.confirmed"
    # identity and sso: signing in
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_REAUTHENTICATION_FAILED = "auth.reauthentication_failed"
    AUTH_LOCKED_OUT = "auth.locked_out"
    AUTH_UNLOCKED = "auth.unlocked"
    AUTH_SSO_LOGIN = "auth.sso_signed_in"
    AUTH_SSO_REAUTHENTICATED = "auth.sso_reauthenticated"
    AUTH_BREAK_GLASS_LOGIN = "auth.break_glass_signed_in"
    AUTH_PASSWORD_LOGIN_REFUSED = "auth.password_login_refused"
    SSO_ROLE_GRANTED = "sso.role_granted"
    SSO_ROLE_REVOKED = "sso.role_revoked"
    SSO_MAPPING_CREATED = "sso.mapping_created"
    SSO_MAPPING_CHANGED = "sso.mapping_changed"
    SSO_MAPPING_DELETED = "sso.mapping_deleted"
    SSO_BREAK_GLASS_MARKED = "sso.break_glass_marked"
    SSO_BREAK_GLASS_UNMARKED = "sso.break_glass_unmarked"
    # the admin's own pages (audit.admin_audit): one event per object written, a bulk
    # action ("delete selected", beat's enable/disable/toggle) one per object it changed
    ADMIN_OBJECT_CREATED = "admin.object_created"
    ADMIN_OBJECT_CHANGED = "admin.object_changed"
    ADMIN_OBJECT_DELETED = "admin.object_deleted"
    SCHEDULE_RUN_REQUESTED = "schedule.run_requested"

    @classmethod
    def of(cls, text: str) -> AuditVerb | None:
        """The verb an event's text means, old spellings included; None if unknown."""
        try:
            return cls(text)
        except ValueError:
            return LEGACY_SPELLINGS.get(text)


# Written before verbs were typed: version transitions in the present tense (the FSM's
# name) and sign-ins named as nouns.
LEGACY_SPELLINGS: dict[str, AuditVerb] = {
    "version.mark_candidate": AuditVerb.VERSION_MARKED_CANDIDATE,
    "version.return_to_draft": AuditVerb.VERSION_RETURNED_TO_DRAFT,
    "version.approve": AuditVerb.VERSION_APPROVED,
    "version.deprecate": AuditVerb.VERSION_DEPRECATED,
    "version.retire": AuditVerb.VERSION_RETIRED,
    "auth.sso_login": AuditVerb.AUTH_SSO_LOGIN,
    "auth.break_glass_login": AuditVerb.AUTH_BREAK_GLASS_LOGIN,
}
