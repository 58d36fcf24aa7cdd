"""AUD-6, the lifecycles: every declared FSM transition of a version and of a promotion
request, driven once through the service that owns it.

Each case sets up the smallest state the transition starts from, makes one service call,
and names the events that call must write, in order. A transition's own event records
its source and target state; a call that moves a second object (a rejected request's
candidate version goes back to draft) writes that object's event too, and the case names
it. The transitions are read from the models, so a new one fails here until it has a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services
from approvals.choices import RequestState
from audit.verbs import AuditVerb
from registry import services as registry_services
from registry.choices import VersionState
from tests.approvals.factories import (
    PromotionRequestFactory,
    attach_passing_evidence,
    board_policy,
    ci_user,
    request_in_review,
)
from tests.audit.aud6 import (
    Acting,
    assert_audited_once,
    assert_moved,
    declared_transitions,
    log_mark,
    request_with_a_non_critical_failure,
)
from tests.registry.factories import (
    PASSWORD,
    ModelVersionFactory,
    approver,
    manager,
    ready_version,
)

pytestmark = pytest.mark.django_db

VERSION = "registry.modelversion"
REQUEST = "approvals.promotionrequest"
SWEEP = "system:aud6-sweep"


@dataclass(frozen=True)
class Case:
    """One service call: its setup (returning who acts and the call), the events the call
    must write in order, and the transitions it drives (with their event's index)."""

    setup: Callable[[], tuple[Acting, Callable[[], object]]]
    verbs: tuple[AuditVerb, ...]
    edges: tuple[tuple[tuple[str, str, str, str], int], ...]


def _edge(model: str, name: str, source: str, target: str) -> tuple[str, str, str, str]:
    return (model, name, source, target)


def _candidate_in_review():
    """A candidate version with a request in review under the default policy (built
    directly: these cases test the closing verbs, not the checks)."""
    version = ModelVersionFactory(state=VersionState.CANDIDATE, complete=True)
    team = version.registered_model.team
    request = PromotionRequestFactory(version=version, requested_by=ci_user(team))
    return team, version, request


def _mark_candidate():
    version = ready_version()
    request = PromotionRequestFactory(version=version, state=RequestState.CHECKING)
    ci = ci_user(version.registered_model.team)
    return Acting(user=ci), lambda: registry_services.version_mark_candidate(
        actor=ci, version=version, request_id=request.pk
    )


def _return_to_draft():
    version = ModelVersionFactory(state=VersionState.CANDIDATE, complete=True)
    request = PromotionRequestFactory(version=version)
    ci = ci_user(version.registered_model.team)
    return Acting(user=ci), lambda: registry_services.version_return_to_draft(
        actor=ci, version=version, request_id=request.pk, reason="checks failed"
    )


def _run_checks(*, evidence: bool):
    version = ready_version()
    team = version.registered_model.team
    if evidence:
        board_policy(team)
        attach_passing_evidence(version)
    request = services.promotion_request_submit(actor=ci_user(team), version=version)
    return Acting(via=SWEEP), lambda: services.promotion_request_run_checks(
        request_id=request.pk, via=SWEEP
    )


def _recheck():
    team, _version, request = _candidate_in_review()
    ci = ci_user(team)
    return Acting(user=ci), lambda: services.promotion_request_recheck(actor=ci, request=request)


def _reviewer_closes(call):
    """A reviewer closes a request in review: the request moves, its version back to draft."""

    def setup():
        team, _version, request = _candidate_in_review()
        reviewer = approver(team, *request.policy_snapshot["required_roles"])
        return Acting(user=reviewer), lambda: call(reviewer, request)

    return setup


def _withdraw(state: str):
    def setup():
        version_state = VersionState.CANDIDATE if state == RequestState.IN_REVIEW else "draft"
        version = ModelVersionFactory(state=version_state, complete=True)
        ci = ci_user(version.registered_model.team)
        request = PromotionRequestFactory(version=version, state=state, requested_by=ci)
        return Acting(user=ci), lambda: services.promotion_request_withdraw(
            actor=ci, request=request
        )

    return setup


def _expire():
    _team, _version, request = _candidate_in_review()
    request.due_at = timezone.now() - timedelta(days=60)
    request.save(update_fields=["due_at"])
    later = timezone.now() + timedelta(days=1)
    return Acting(via=SWEEP), lambda: services.promotion_requests_expire(via=SWEEP, now=later)


def _approve():
    request = request_in_review(roles={"platform": 1})
    signer = approver(request.version.registered_model.team, "platform")
    return Acting(user=signer), lambda: services.signoff_record(
        actor=signer, request=request, role="platform", password=PASSWORD
    )


def _reopen():
    # Sent back by a reviewer with only a non-critical failure: a manager's exception for
    # that check returns it to review.
    request = request_with_a_non_critical_failure()
    team = request.version.registered_model.team
    services.promotion_request_request_changes(
        actor=approver(team, "platform"), request=request, reasons=["quality below 0.85"]
    )
    boss = manager(team)
    return Acting(user=boss), lambda: services.check_override(
        actor=boss,
        request=request,
        check_name="eval_thresholds",
        justification="Accepted for the pilot; a retrain is scheduled.",
        expires_at=timezone.now() + timedelta(days=14),
    )


def _manager_moves(name: str, source: str):
    """A governance manager deprecates or retires a version (no request open)."""

    def setup():
        now = timezone.now()
        approved = source == VersionState.APPROVED
        version = ModelVersionFactory(
            state=source,
            complete=True,
            approved_at=now - timedelta(days=1) if approved else None,
            approval_expires_at=now + timedelta(days=90) if approved else None,
        )
        boss = manager(version.registered_model.team)
        service = services.version_deprecate if name == "deprecate" else services.version_retire
        return Acting(user=boss), lambda: service(
            actor=boss, version=version, reason="superseded by 2.0"
        )

    return setup


BACK_TO_DRAFT = _edge(VERSION, "return_to_draft", "candidate", "draft")
CASES: dict[str, Case] = {
    "version marked candidate": Case(
        _mark_candidate,
        (AuditVerb.VERSION_MARKED_CANDIDATE,),
        ((_edge(VERSION, "mark_candidate", "draft", "candidate"), 0),),
    ),
    "version returned to draft": Case(
        _return_to_draft, (AuditVerb.VERSION_RETURNED_TO_DRAFT,), ((BACK_TO_DRAFT, 0),)
    ),
    "checks pass": Case(
        lambda: _run_checks(evidence=True),
        (
            AuditVerb.PROMOTION_CHECKS_STARTED,
            AuditVerb.PROMOTION_CHECKED,
            AuditVerb.VERSION_MARKED_CANDIDATE,
        ),
        (
            (_edge(REQUEST, "start_checks", "submitted", "checking"), 0),
            (_edge(REQUEST, "enter_review", "checking", "in_review"), 1),
        ),
    ),
    # No evidence at all: the critical checks fail and the draft version stays a draft.
    "checks fail": Case(
        lambda: _run_checks(evidence=False),
        (AuditVerb.PROMOTION_CHECKS_STARTED, AuditVerb.PROMOTION_CHECKED),
        ((_edge(REQUEST, "request_changes", "checking", "changes_requested"), 1),),
    ),
    "re-check": Case(
        _recheck,
        (AuditVerb.PROMOTION_RECHECK_REQUESTED,),
        ((_edge(REQUEST, "restart_checks", "in_review", "checking"), 0),),
    ),
    "reject": Case(
        _reviewer_closes(
            lambda who, request: services.promotion_request_reject(
                actor=who, request=request, reason="the eval set is too small"
            )
        ),
        (AuditVerb.PROMOTION_REJECTED, AuditVerb.VERSION_RETURNED_TO_DRAFT),
        ((_edge(REQUEST, "reject", "in_review", "rejected"), 0), (BACK_TO_DRAFT, 1)),
    ),
    "request changes": Case(
        _reviewer_closes(
            lambda who, request: services.promotion_request_request_changes(
                actor=who, request=request, reasons=["add the red-team report"]
            )
        ),
        (AuditVerb.PROMOTION_CHANGES_REQUESTED, AuditVerb.VERSION_RETURNED_TO_DRAFT),
        (
            (_edge(REQUEST, "request_changes", "in_review", "changes_requested"), 0),
            (BACK_TO_DRAFT, 1),
        ),
    ),
    **{
        f"withdraw {state}": Case(
            _withdraw(state),
            (AuditVerb.PROMOTION_WITHDRAWN,)
            + ((AuditVerb.VERSION_RETURNED_TO_DRAFT,) if state == RequestState.IN_REVIEW else ()),
            ((_edge(REQUEST, "withdraw", state, "withdrawn"), 0),),
        )
        for state in (RequestState.SUBMITTED, RequestState.CHECKING, RequestState.IN_REVIEW)
    },
    "expire": Case(
        _expire,
        (AuditVerb.PROMOTION_EXPIRED, AuditVerb.VERSION_RETURNED_TO_DRAFT),
        ((_edge(REQUEST, "expire", "in_review", "expired"), 0), (BACK_TO_DRAFT, 1)),
    ),
    "approve": Case(
        _approve,
        (AuditVerb.PROMOTION_SIGNED, AuditVerb.PROMOTION_APPROVED, AuditVerb.VERSION_APPROVED),
        (
            (_edge(REQUEST, "approve", "in_review", "approved"), 1),
            (_edge(VERSION, "approve", "candidate", "approved"), 2),
        ),
    ),
    "exception reopens": Case(
        _reopen,
        (AuditVerb.VERSION_MARKED_CANDIDATE, AuditVerb.PROMOTION_EXCEPTION_GRANTED),
        (
            (_edge(VERSION, "mark_candidate", "draft", "candidate"), 0),
            (_edge(REQUEST, "reopen", "changes_requested", "in_review"), 1),
        ),
    ),
    **{
        f"{name} {source}": Case(
            _manager_moves(name, source),
            (verb,),
            ((_edge(VERSION, name, source, target), 0),),
        )
        for name, source, target, verb in (
            ("deprecate", "candidate", "deprecated", AuditVerb.VERSION_DEPRECATED),
            ("deprecate", "approved", "deprecated", AuditVerb.VERSION_DEPRECATED),
            ("retire", "deprecated", "retired", AuditVerb.VERSION_RETIRED),
        )
    },
}


def test_every_declared_transition_is_driven_by_a_case():
    # Given the transitions the models declare / When the cases' transitions are collected
    covered = {edge for case in CASES.values() for edge, _index in case.edges}

    # Then every declared transition has a case, and no case names an undeclared one
    assert covered == declared_transitions()


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_transition_writes_exactly_its_audit_events(name, settings, tmp_path):
    # Given the state the transition starts from
    settings.MEDIA_ROOT = str(tmp_path)
    settings.GOVBOARD_RUN_CHECKS_INLINE = False
    case = CASES[name]
    acting, act = case.setup()
    mark = log_mark()

    # When its service runs once
    act()

    # Then exactly its events are written, complete, each transition's naming its states
    events = assert_audited_once(mark, case.verbs, acting)
    for (model, _transition, source, target), index in case.edges:
        assert events[index].object_type == model
        assert_moved(events[index], source, target)
