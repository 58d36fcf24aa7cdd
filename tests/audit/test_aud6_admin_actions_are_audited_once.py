"""AUD-6, the admin: every button (``service_actions``) and changelist action, used once by
the person it is for, writes exactly its audit events.

The actions are read from ``admin.site._registry``; one that is neither a case here nor a
bulk action of the audited admin fails the completeness test, so a new button cannot ship
unaudited unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.verbs import AuditVerb
from core import permissions
from identity.models import LoginLockout
from registry.choices import TokenScope
from registry.models import ApiToken, VulnerabilityFinding
from tests.approvals.factories import PromotionRequestFactory, attach, ci_user, request_in_review
from tests.audit.aud6 import (
    Acting,
    admin_actions,
    assert_audited_once,
    assert_moved,
    log_mark,
    request_with_a_non_critical_failure,
)
from tests.audit.aud6_admin_writes import bulk_actions
from tests.registry.factories import (
    PASSWORD,
    ModelVersionFactory,
    TeamFactory,
    UserFactory,
    approver,
    ready_version,
    service_account_with_token,
)

pytestmark = pytest.mark.django_db

# "Delete selected" and beat's schedule actions, audited by the one audited admin: their
# cases are in test_aud6_plain_admin_pages_are_audited_once.py.
BULK_ACTIONS = set(bulk_actions())


@dataclass(frozen=True)
class Use:
    """A person, the admin URL they post to, the form, and the events it must write."""

    acting: Acting
    url: str
    form: dict
    verbs: tuple[AuditVerb, ...]
    # For a transition: the index of its event and (source, target).
    moves: tuple[int, str, str] | None = None


def _superuser():
    return UserFactory(is_superuser=True)


def _issue_token() -> Use:
    admin = _superuser()
    account, _raw = service_account_with_token(teams=[TeamFactory()], admin=admin)
    return Use(
        Acting(user=admin),
        f"/admin/registry/serviceaccount/{account.pk}/issue_token/",
        {"label": "release", "scopes": [TokenScope.READ], "valid_days": 30},
        (AuditVerb.TOKEN_ISSUED,),
    )


def _revoke_tokens() -> Use:
    admin = _superuser()
    account, _raw = service_account_with_token(teams=[TeamFactory()], admin=admin)
    token = ApiToken.objects.get(service_account=account)
    return Use(
        Acting(user=admin),
        "/admin/registry/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        (AuditVerb.TOKEN_REVOKED,),
    )


def _version_button(name: str, source: str, target: str, verb: AuditVerb):
    def use() -> Use:
        admin = _superuser()
        version = ModelVersionFactory(state=source, complete=True)
        return Use(
            Acting(user=admin),
            f"/admin/registry/modelversion/{version.pk}/{name}/",
            {"reason": "superseded by 2.0"},
            (verb,),
            (0, source, target),
        )

    return use


def _withdraw_release() -> Use:
    from tests.registry.factories import team_member
    from tests.releases.factories import ReleaseFactory

    release = ReleaseFactory()
    registrar = team_member(release.team, "register_versions")
    return Use(
        Acting(user=registrar),
        f"/admin/registry/release/{release.pk}/withdraw/",
        {"reason": "superseded by 2.0"},
        (AuditVerb.RELEASE_WITHDRAWN,),
    )


def _open_incident() -> Use:
    from tests.registry.factories import team_member
    from tests.releases.factories import ReleaseFactory

    release = ReleaseFactory()
    registrar = team_member(release.team, "register_versions")
    return Use(
        Acting(user=registrar),
        f"/admin/registry/release/{release.pk}/open_incident/",
        {"title": "Declines up on mobile", "severity": "sev2", "blocks_promotion": "on"},
        (AuditVerb.INCIDENT_OPENED,),
    )


def _incident_button(name: str, form: dict, verb: AuditVerb, *, mitigated=False, moves=None):
    """A registrant of the incident's team uses one of its page's buttons."""

    def use() -> Use:
        from approvals.services.incidents import incident_mitigate, incident_open
        from tests.registry.factories import team_member
        from tests.releases.factories import ReleaseFactory

        release = ReleaseFactory()
        registrar = team_member(release.team, "register_versions")
        incident = incident_open(
            actor=registrar, release=release, title="Declines up", severity="sev3"
        )
        if mitigated:
            incident_mitigate(actor=registrar, incident=incident)
        return Use(
            Acting(user=registrar),
            f"/admin/approvals/incident/{incident.pk}/{name}/",
            form,
            (verb,),
            moves,
        )

    return use


def _triage() -> Use:
    version = ready_version()
    team = version.registered_model.team
    evidence = attach(version, "dependency_scan", {"dependencies": []})
    finding = VulnerabilityFinding.objects.create(
        evidence=evidence,
        vulnerability_id="GHSA-aud6-0001",
        package="urllib3",
        installed_version="1.26.0",
        severity="unknown",
        source_format="pip-audit",
    )
    security = approver(team, "security")
    return Use(
        Acting(user=security),
        f"/admin/registry/vulnerabilityfinding/{finding.pk}/triage/",
        {"status": "open", "severity": "low", "justification": "", "note": "Not reachable."},
        (AuditVerb.FINDING_TRIAGED,),
    )


def _team_role(name: str, verb: AuditVerb):
    def use() -> Use:
        admin = _superuser()
        team, person = TeamFactory(), UserFactory()
        role = "approvals.sign_as_platform"
        if name == "revoke_role":
            permissions.grant_team_role(person, role, team)
        return Use(
            Acting(user=admin),
            f"/admin/registry/team/{team.pk}/{name}/",
            {"user": person.pk, "role": role},
            (verb,),
        )

    return use


def _reviewer(name: str, form: dict, verbs: tuple[AuditVerb, ...], moves=None):
    """A board member of the request's required role acts on a request in review."""

    def use() -> Use:
        version = ModelVersionFactory(state="candidate", complete=True)
        team = version.registered_model.team
        request = PromotionRequestFactory(version=version, requested_by=ci_user(team))
        reviewer = approver(team, *request.policy_snapshot["required_roles"])
        return Use(
            Acting(user=reviewer),
            f"/admin/approvals/promotionrequest/{request.pk}/{name}/",
            form,
            verbs,
            moves,
        )

    return use


def _sign() -> Use:
    request = request_in_review(roles={"platform": 1, "product": 1})
    signer = approver(request.version.registered_model.team, "platform")
    return Use(
        Acting(user=signer),
        f"/admin/approvals/promotionrequest/{request.pk}/sign/",
        {"role": "platform", "meaning": "Approved for production", "password": PASSWORD},
        (AuditVerb.PROMOTION_SIGNED,),
    )


def _override() -> Use:
    request = request_with_a_non_critical_failure()
    team = request.version.registered_model.team
    boss = approver(team)
    permissions.grant_team_role(boss, "registry.manage_governance", team)
    expires = (timezone.now() + timedelta(days=14)).date().isoformat()
    return Use(
        Acting(user=boss),
        f"/admin/approvals/promotionrequest/{request.pk}/override/",
        {
            "check_name": "eval_thresholds",
            "justification": "Accepted for the pilot; a retrain is scheduled.",
            "expires_at": expires,
        },
        (AuditVerb.PROMOTION_EXCEPTION_GRANTED,),
        (0, "in_review", "in_review"),
    )


def _expedite() -> Use:
    version = ModelVersionFactory(state="candidate", complete=True)
    team = version.registered_model.team
    request = PromotionRequestFactory(version=version, requested_by=ci_user(team))
    boss = approver(team)
    permissions.grant_team_role(boss, "registry.manage_governance", team)
    return Use(
        Acting(user=boss),
        f"/admin/approvals/promotionrequest/{request.pk}/expedite/",
        {"reason": "customer launch on Monday"},
        (AuditVerb.PROMOTION_EXPEDITED,),
    )


def _unlock() -> Use:
    admin = _superuser()
    now = timezone.now()
    lockout = LoginLockout.objects.create(
        scope="account",
        key="locked-out-person",
        failures=5,
        window_started_at=now,
        last_failure_at=now,
        locked_at=now,
        locked_until=now + timedelta(minutes=15),
    )
    return Use(
        Acting(user=admin),
        f"/admin/identity/loginlockout/{lockout.pk}/unlock/",
        {"reason": "identity confirmed by phone"},
        (AuditVerb.AUTH_UNLOCKED,),
    )


BACK_TO_DRAFT = AuditVerb.VERSION_RETURNED_TO_DRAFT
CASES: dict[tuple[str, str], Callable[[], Use]] = {
    ("registry.serviceaccount", "issue_token"): _issue_token,
    ("registry.apitoken", "revoke_tokens"): _revoke_tokens,
    ("registry.modelversion", "deprecate"): _version_button(
        "deprecate", "approved", "deprecated", AuditVerb.VERSION_DEPRECATED
    ),
    ("registry.modelversion", "retire"): _version_button(
        "retire", "deprecated", "retired", AuditVerb.VERSION_RETIRED
    ),
    ("registry.vulnerabilityfinding", "triage"): _triage,
    ("registry.release", "withdraw"): _withdraw_release,
    ("registry.release", "open_incident"): _open_incident,
    ("approvals.incident", "note"): _incident_button(
        "note", {"text": "Paged the on-call."}, AuditVerb.INCIDENT_NOTE_ADDED
    ),
    ("approvals.incident", "edit"): _incident_button(
        "edit",
        {"title": "Declines up on mobile", "severity": "sev1", "tags": "mobile"},
        AuditVerb.INCIDENT_UPDATED,
    ),
    ("approvals.incident", "mitigate"): _incident_button(
        "mitigate",
        {"text": "Flag off."},
        AuditVerb.INCIDENT_MITIGATED,
        moves=(0, "open", "mitigated"),
    ),
    ("approvals.incident", "resolve"): _incident_button(
        "resolve",
        {"retrospective": "Tuned on web only.", "contributing_factors": "no mobile holdout"},
        AuditVerb.INCIDENT_RESOLVED,
        mitigated=True,
        moves=(0, "mitigated", "resolved"),
    ),
    ("registry.team", "grant_role"): _team_role("grant_role", AuditVerb.TEAM_ROLE_GRANTED),
    ("registry.team", "revoke_role"): _team_role("revoke_role", AuditVerb.TEAM_ROLE_REVOKED),
    ("approvals.promotionrequest", "sign"): _sign,
    ("approvals.promotionrequest", "reject"): _reviewer(
        "reject",
        {"reason": "the eval set is too small"},
        (AuditVerb.PROMOTION_REJECTED, BACK_TO_DRAFT),
        (0, "in_review", "rejected"),
    ),
    ("approvals.promotionrequest", "request-changes"): _reviewer(
        "request-changes",
        {"reasons": "add the red-team report"},
        (AuditVerb.PROMOTION_CHANGES_REQUESTED, BACK_TO_DRAFT),
        (0, "in_review", "changes_requested"),
    ),
    ("approvals.promotionrequest", "override"): _override,
    ("approvals.promotionrequest", "expedite"): _expedite,
    ("identity.loginlockout", "unlock"): _unlock,
}


def test_every_admin_action_is_a_case_with_no_exemption():
    # Given every button and changelist action the admin offers an administrator
    offered = admin_actions(UserFactory(is_superuser=True))

    # Then each is exercised, below or as a bulk action of the audited admin; none is
    # left unaudited
    assert offered == set(CASES) | BULK_ACTIONS
    assert not set(CASES) & BULK_ACTIONS


@pytest.mark.parametrize("action", sorted(CASES), ids=lambda a: f"{a[0]} {a[1]}")
def test_each_admin_action_writes_exactly_its_audit_events(action, settings, tmp_path):
    # Given the object the action is for and the person it is for, signed in
    settings.MEDIA_ROOT = str(tmp_path)
    use = CASES[action]()
    client = Client()
    client.force_login(use.acting.user)
    mark = log_mark()

    # When they use it once
    response = client.post(use.url, use.form)

    # Then it succeeds (back to the object or the list) and writes exactly its events
    assert response.status_code == 302, response.content.decode()[-3000:]
    events = assert_audited_once(mark, use.verbs, use.acting)
    if use.moves is not None:
        index, source, target = use.moves
        assert_moved(events[index], source, target)
