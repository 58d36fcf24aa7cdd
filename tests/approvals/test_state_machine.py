"""CON-3: a Hypothesis state machine over the governance services.

Every rule calls a real service (registration, dataset links, evidence uploads, submit and
the worker's check run, sign-offs by each role and by the wrong people, reject, request
changes, overrides of critical and non-critical checks, expedite, deprecate, retire,
withdraw, role grants and revocations, and the three sweeps with a clock far ahead).
A refused operation raises a ``DomainError`` and must leave every row as it was. After
every step the invariants below are checked against the database:

- only declared transitions happened (the FSM's (source, target) pairs; a service may
  chain several, each recorded), retired is terminal, closed requests stay closed;
- an approved request has one decision record, valid bound sign-offs meeting the quorum of
  its policy snapshot and no failed critical check in its latest run;
- an open request never points at a deprecated or retired version (and a version's state
  agrees with its open request);
- every state change has exactly one audit event, and every announced event exactly one
  outbox row (``WebhookDelivery``) per active matching endpoint, and nothing else has one.

Each example runs inside a savepoint rolled back in ``teardown``, so examples never see
each other's rows. The default run is a small profile; ``GOVBOARD_CON3_EXAMPLES=2000``
(``make test-long``) is the dedicated run. The figure is printed at the end.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from guardian.models import UserObjectPermission
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from approvals import checks as check_registry
from approvals import services
from approvals.choices import CHECK_NAMES, OPEN_REQUEST_STATES
from approvals.models import (
    WEBHOOK_VERBS,
    CheckException,
    CheckResult,
    DecisionRecord,
    PromotionRequest,
    SignOff,
    WebhookDelivery,
    WebhookEndpoint,
)
from audit.models import AuditEvent
from core import permissions
from core.errors import Conflict, DomainError, NotPermitted
from registry import services as registry_services
from registry.models import (
    Evidence,
    ModelVersion,
    Team,
    VersionDataset,
    VulnerabilityFinding,
)
from registry.services.versions import TRANSITION_VERBS
from tests.approvals.factories import (
    SAMPLES,
    board_policy,
    ci_user,
    eval_package,
    passing_evidence_documents,
)
from tests.registry.factories import (
    PASSWORD,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
    complete_metadata,
    manager,
    sha256_of,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("GOVBOARD_CON3_EXAMPLES", "30"))
STEPS = int(os.environ.get("GOVBOARD_CON3_STEPS", "15"))
BOARD = ("platform", "product", "security")
FAR_AHEAD = timedelta(days=400)
# Dataset versions are immutable: every link names the same window.
WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))

# --- the declared transitions (tested against the FSM below) --------------------------

VERSION_TRANSITIONS = {
    ("mark_candidate", "draft", "candidate"),
    ("return_to_draft", "candidate", "draft"),
    ("approve", "candidate", "approved"),
    ("deprecate", "candidate", "deprecated"),
    ("deprecate", "approved", "deprecated"),
    ("retire", "deprecated", "retired"),
}
REQUEST_TRANSITIONS = {
    ("start_checks", "submitted", "checking"),
    ("restart_checks", "in_review", "checking"),
    ("enter_review", "checking", "in_review"),
    ("request_changes", "checking", "changes_requested"),
    ("request_changes", "in_review", "changes_requested"),
    ("approve", "in_review", "approved"),
    ("reject", "in_review", "rejected"),
    ("withdraw", "submitted", "withdrawn"),
    ("withdraw", "checking", "withdrawn"),
    ("withdraw", "in_review", "withdrawn"),
    ("expire", "in_review", "expired"),
    ("reopen", "changes_requested", "in_review"),
}
PICK = st.integers(min_value=0, max_value=7)
CLOSED_REQUEST_STATES = {"approved", "rejected", "withdrawn", "expired"}


def _pairs(*names: str) -> set[tuple[str, str]]:
    return {(s, t) for n, s, t in REQUEST_TRANSITIONS if n in names}


_FINISH_CHECKS = _pairs("enter_review", "request_changes")
# What one audit event of each verb may say a request went through: a declared pair. A
# check run commits ``checking`` before its checks run (its own event), and its results
# later, from ``checking``.
REQUEST_EVENT_PAIRS: dict[str, set[tuple[str, str]]] = {
    "promotion.checks_started": _pairs("start_checks", "restart_checks"),
    "promotion.checked": _FINISH_CHECKS,
    "promotion.recheck_requested": _pairs("restart_checks") | {(s, s) for s in OPEN_REQUEST_STATES},
    "promotion.withdrawn": _pairs("withdraw"),
    "promotion.rejected": _pairs("reject"),
    "promotion.changes_requested": _pairs("request_changes"),
    "promotion.approved": _pairs("approve"),
    "promotion.expired": _pairs("expire"),
    "promotion.exception_granted": _pairs("reopen") | {("in_review", "in_review")},
}


def test_the_declared_transitions_are_the_fsm():
    """The oracle's table is the models' FSM, pair for pair (a new transition fails here)."""
    for model, table in (
        (ModelVersion, VERSION_TRANSITIONS),
        (PromotionRequest, REQUEST_TRANSITIONS),
    ):
        field = model._meta.get_field("state")
        declared = {(t.name, t.source, t.target) for t in field.get_all_transitions(model)}
        assert declared == table


# --- the world every example starts from -------------------------------------------------


@dataclass
class World:
    team: Team
    model: Any
    people: dict[str, Any]
    endpoints: list[WebhookEndpoint]
    sweep_errors: list[logging.LogRecord]


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture
def con3_world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GOVBOARD_RUN_CHECKS_INLINE = False
    team = TeamFactory(slug="con3")
    other = TeamFactory(slug="con3-other")
    policy = board_policy(team)
    policy.metric_thresholds = {"quality": {"min": 0.85}}
    policy.save()
    registrar = approver(team, "security", username="con3-registrar")
    permissions.grant_team_role(registrar, "registry.register_versions", team)
    people = {
        "ci": ci_user(team),
        "platform": approver(team, "platform", username="con3-platform"),
        "product": approver(team, "product", username="con3-product"),
        "security": approver(team, "security", username="con3-security"),
        "security_2": approver(team, "security", username="con3-security-2"),
        # One person holding two roles: signs one of them per request, never both.
        "dual": approver(team, "platform", "product", username="con3-dual"),
        # Registers and submits as a person, and holds a signing role: never signs their own.
        "registrar": registrar,
        "manager": manager(team, username="con3-manager"),
        "admin": UserFactory(username="con3-admin", is_superuser=True),
        "outsider": approver(other, *BOARD, username="con3-outsider"),
    }
    permissions.grant_team_role(people["outsider"], "registry.manage_governance", other)
    endpoints = [
        WebhookEndpoint.objects.create(name="all", url="http://127.0.0.1:9/", secret="s1"),
        WebhookEndpoint.objects.create(
            name="approvals-only",
            url="http://127.0.0.1:9/a",
            secret="s2",
            events=["promotion.approved"],
        ),
        WebhookEndpoint.objects.create(
            name="inactive", url="http://127.0.0.1:9/i", secret="s3", is_active=False
        ),
        WebhookEndpoint.objects.create(
            name="other-team", url="http://127.0.0.1:9/o", secret="s4", team_slugs=[other.slug]
        ),
    ]
    model = RegisteredModelFactory(team=team, name="con3-model")
    errors: list[logging.LogRecord] = []
    handler = _Collect(errors)
    sweeps_logger = logging.getLogger("core.sweeps")
    level = sweeps_logger.level
    sweeps_logger.setLevel(logging.WARNING)  # every sweep logs its report at INFO
    sweeps_logger.addHandler(handler)
    try:
        yield World(team=team, model=model, people=people, endpoints=endpoints, sweep_errors=errors)
    finally:
        sweeps_logger.removeHandler(handler)
        sweeps_logger.setLevel(level)


# --- the figure ----------------------------------------------------------------------------

STATS: Counter = Counter()
RULES: Counter = Counter()
REFUSALS: Counter = Counter()


def _endpoint_wants(endpoint: WebhookEndpoint, verb: str, team_slug: str) -> bool:
    return (
        endpoint.is_active
        and (not endpoint.events or verb in endpoint.events)
        and (not endpoint.team_slugs or team_slug in endpoint.team_slugs)
    )


def _state_of(data: dict, side: str) -> str | None:
    value = (data or {}).get(side)
    return value.get("state") if isinstance(value, dict) else None


SIGNERS = ("platform", "product", "security", "security_2", "dual", "registrar", "ci", "outsider")
REVIEWERS = ("platform", "product", "security", "dual", "registrar", "manager", "outsider")
LIFECYCLE_ACTORS = ("manager", "manager", "admin", "outsider", "platform")
# What an approved version still takes: scan reports (a nightly scan) and a fresh eval
# package (re-certification), as new rows that reopen nothing (issue 12).
AFTER_APPROVAL_KINDS = {"dependency_scan", "artifact_scan", "eval_package"}
UPLOADS = (
    "passing",
    "passing_with_low_eval",
    "passing_without_sbom",
    "eval_below_threshold",
    "critical_cve",
    "clean_dependency_scan",
    "passing_eval",
    "sbom",
)
ROLE_PERMISSIONS = (
    ("platform", "approvals.sign_as_platform"),
    ("product", "approvals.sign_as_product"),
    ("security", "approvals.sign_as_security"),
    ("dual", "approvals.sign_as_product"),
    ("registrar", "approvals.sign_as_security"),
    ("manager", "registry.manage_governance"),
)


class GovernanceMachine(RuleBasedStateMachine):
    world: World  # set by the test before the run

    def __init__(self) -> None:
        super().__init__()
        self.sid = transaction.savepoint()
        self.w = type(self).world
        self.p = self.w.people
        self.counter = 0
        self.version_ids: list[int] = []
        self.request_ids: list[int] = []
        self.seen_versions, self.seen_requests = self._states()
        self.last_event = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
        self.last_delivery = WebhookDelivery.objects.aggregate(m=Max("id"))["m"] or 0
        STATS["examples"] += 1

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.sid)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _states() -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
        versions = dict(ModelVersion.objects.values_list("id", "state"))
        requests = {
            pk: (state, version_id)
            for pk, state, version_id in PromotionRequest.objects.values_list(
                "id", "state", "version_id"
            )
        }
        return versions, requests

    @staticmethod
    def _fingerprint() -> dict[str, Any]:
        """Everything a refused operation must leave as it was."""
        models = (
            ModelVersion,
            PromotionRequest,
            SignOff,
            AuditEvent,
            CheckResult,
            CheckException,
            DecisionRecord,
            Evidence,
            WebhookDelivery,
            VersionDataset,
            VulnerabilityFinding,
            UserObjectPermission,
        )
        counts = {m.__name__: m.objects.count() for m in models}
        # A refused sign-off whose re-authentication failed (the CI account has no password)
        # is recorded by the sign-in lockout on purpose (identity.*, ADR 0008): the one
        # write a refusal makes, and never on a version or a request.
        counts["AuditEvent"] = AuditEvent.objects.exclude(
            object_type__startswith="identity."
        ).count()
        return {
            "counts": counts,
            "versions": sorted(
                ModelVersion.objects.values_list(
                    "id", "state", "approved_at", "approval_expires_at", "deprecated_at"
                )
            ),
            "requests": sorted(
                PromotionRequest.objects.values_list(
                    "id", "state", "priority", "due_at", "decided_at", "checked_at", "reasons"
                )
            ),
        }

    def attempt(self, name: str, call, *, must_refuse: list[str] | None = None):
        """Run one service call. A DomainError must change nothing; returns (ok, value)."""
        STATS["steps"] += 1
        before = self._fingerprint()
        try:
            value = call()
        except DomainError as exc:
            after = self._fingerprint()
            assert after == before, f"{name} was refused ({exc.message}) but changed rows"
            RULES[f"{name}: refused"] += 1
            REFUSALS[f"{name}: {type(exc).__name__}: {exc.message[:70]}"] += 1
            return False, exc
        assert not must_refuse, f"{name} succeeded but must be refused: {must_refuse}"
        RULES[f"{name}: ok"] += 1
        return True, value

    def pick_version(self, i: int) -> int:
        """0 is the newest version (where the action is), 1 the one before, and so on."""
        return self.version_ids[-1 - i % len(self.version_ids)]

    def pick_request(self, i: int) -> int:
        return self.request_ids[-1 - i % len(self.request_ids)]

    def version(self, pk: int) -> ModelVersion:
        return ModelVersion.objects.select_related("registered_model__team").get(pk=pk)

    def request(self, pk: int) -> PromotionRequest:
        return PromotionRequest.objects.select_related("version__registered_model__team").get(pk=pk)

    # --- rules ----------------------------------------------------------------------------

    def _register(self, *, complete: bool, datasets: bool) -> int | None:
        self.counter += 1
        number = f"1.{self.counter}.0"
        metadata = complete_metadata() if complete else {}
        ok, version = self.attempt(
            "register",
            lambda: registry_services.version_register(
                actor=self.p["ci"],
                registered_model=self.w.model,
                version=number,
                checksum=sha256_of(f"weights {number}"),
                storage_uri=f"s3://models/con3/{number}/",
                **metadata,
            )[0],
        )
        if not ok:
            return None
        self.version_ids.append(version.pk)
        if datasets:
            for use in ("train", "eval"):
                self._link(version.pk, use)
        return version.pk

    def _link(self, version_id: int, use: str) -> None:
        self.attempt(
            "link dataset",
            lambda: registry_services.version_dataset_link(
                actor=self.p["ci"],
                version=version_id,
                dataset=f"data-{use}",
                dataset_version="v1",
                use=use,
                window_start=WINDOW[0],
                window_end=WINDOW[1],
            ),
        )

    @initialize(
        signed=st.integers(min_value=0, max_value=3),
        evidence=st.sampled_from(["passing", "passing_with_low_eval"]),
    )
    def a_version_in_review(self, signed, evidence):
        """Start where the interesting decisions are: one version, passing evidence (or
        a non-critical eval miss), its request checked and in review, and ``signed`` board
        roles signed (3 and passing: approved), all through the services."""
        pk = self._register(complete=True, datasets=True)
        self._upload(pk, evidence)
        self._submit(pk, "ci", name_rollback=True, run_now=True)
        for role in BOARD[:signed]:
            self._sign(self.request_ids[-1], role, role)

    @rule(
        complete=st.sampled_from([True, True, True, False]),
        datasets=st.sampled_from([True, True, False]),
        evidence=st.sampled_from(["passing", "passing_with_low_eval", *UPLOADS, None]),
    )
    def register(self, complete, datasets, evidence):
        pk = self._register(complete=complete, datasets=datasets)
        if pk is not None and evidence is not None:
            self._upload(pk, evidence)

    @precondition(lambda self: self.version_ids)
    @rule(pick=PICK, same_checksum=st.booleans())
    def register_again(self, pick, same_checksum):
        version = self.pick_version(pick)
        existing = self.version(version)
        checksum = existing.checksum if same_checksum else sha256_of(f"other {version}")
        before = self._fingerprint()
        ok, value = self.attempt(
            "register again",
            lambda: registry_services.version_register(
                actor=self.p["ci"],
                registered_model=self.w.model,
                version=existing.version,
                checksum=checksum,
                storage_uri=existing.storage_uri,
            ),
            must_refuse=None if same_checksum else ["another checksum for a registered version"],
        )
        if ok:  # idempotent: the same row, nothing written
            assert value == (existing, False)
            assert self._fingerprint() == before
        else:
            assert isinstance(value, Conflict)

    @precondition(lambda self: self.version_ids)
    @rule(pick=PICK, use=st.sampled_from(["train", "eval"]))
    def link_dataset(self, pick, use):
        self._link(self.pick_version(pick), use)

    def _upload(self, version_id: int, variant: str) -> None:
        version = self.version(version_id)
        documents = passing_evidence_documents(version)
        chosen: dict[str, Any] = {
            "passing": documents,
            "passing_with_low_eval": documents
            | {"eval_package": eval_package(version, metrics={"quality": 0.80})},
            "passing_without_sbom": {k: v for k, v in documents.items() if k != "sbom"},
            "eval_below_threshold": {
                "eval_package": eval_package(version, metrics={"quality": 0.80})
            },
            "critical_cve": {"dependency_scan": (SAMPLES / "trivy-vulnerable.json").read_bytes()},
            "clean_dependency_scan": {"dependency_scan": documents["dependency_scan"]},
            "passing_eval": {"eval_package": documents["eval_package"]},
            "sbom": {"sbom": documents["sbom"]},
        }[variant]
        for kind, content in chosen.items():
            body = json.dumps(content).encode() if isinstance(content, dict) else content
            self.attempt(
                "upload evidence",
                lambda kind=kind, body=body: registry_services.evidence_attach(
                    actor=self.p["ci"],
                    version=version_id,
                    kind=kind,
                    content=io.BytesIO(body),
                    media_type="application/json",
                ),
                must_refuse=None
                if version.state in ("draft", "candidate")
                or (version.state == "approved" and kind in AFTER_APPROVAL_KINDS)
                else [f"evidence for a {version.state} version"],
            )
            if version.state == "approved":
                # Monitoring and re-certification evidence reopens nothing (issue 12).
                version.refresh_from_db()
                assert version.state == "approved"

    @precondition(lambda self: self.version_ids)
    @rule(pick=PICK, variant=st.sampled_from(UPLOADS))
    def upload(self, pick, variant):
        self._upload(self.pick_version(pick), variant)

    @precondition(lambda self: self.version_ids)
    @rule(
        pick=PICK,
        requester=st.sampled_from(["ci", "ci", "registrar", "manager", "outsider"]),
        name_rollback=st.sampled_from([True, True, False]),
        run_now=st.sampled_from([True, True, False]),
    )
    def submit(self, pick, requester, name_rollback, run_now):
        self._submit(self.pick_version(pick), requester, name_rollback, run_now)

    def _submit(self, version: int, requester: str, name_rollback: bool, run_now: bool) -> None:
        rollback = (
            ModelVersion.objects.filter(registered_model=self.w.model, state="approved")
            .order_by("-id")
            .first()
            if name_rollback
            else None
        )
        ok, request = self.attempt(
            "submit",
            lambda: services.promotion_request_submit(
                actor=self.p[requester], version=version, rollback_target=rollback
            ),
            must_refuse=["not a registrar of the team"]
            if requester in ("manager", "outsider")
            else None,
        )
        if not ok:
            return
        assert request.state == "submitted"
        self.request_ids.append(request.pk)
        if run_now:
            self._run_checks(request.pk)

    def _run_checks(self, request_id: int) -> None:
        self.attempt(
            "run checks",
            lambda: services.promotion_request_run_checks(request_id=request_id, via="con3"),
        )

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def worker_runs_checks(self, pick):
        self._run_checks(self.pick_request(pick))

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def recheck(self, pick):
        request = self.pick_request(pick)
        self.attempt(
            "recheck",
            lambda: services.promotion_request_recheck(actor=self.p["ci"], request=request),
        )

    def _sign(self, request_id: int, who: str, role: str) -> None:
        signer = self.p[who]
        request = self.request(request_id)
        team = request.version.registered_model.team
        mine = list(SignOff.objects.filter(request=request, signer=signer))
        must_refuse = []
        if signer.pk == request.requested_by_id:
            must_refuse.append("the requester signs their own request")
        if any(s.role != role for s in mine):
            must_refuse.append("one person signs a second role")
        if not permissions.allowed(signer, permissions.Verb.SIGN, team, role=role):
            must_refuse.append(f"{who} does not hold the {role} role")
        if request.state != "in_review":
            must_refuse.append(f"the request is {request.state}")
        ok, _ = self.attempt(
            "sign",
            lambda: services.signoff_record(
                actor=signer, request=request_id, role=role, password=PASSWORD
            ),
            must_refuse=must_refuse,
        )
        if ok:
            STATS["signoffs"] += 1

    # The board signs often (one rule per role, so a quorum is reached in many examples);
    # anyone may try any role.
    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def sign_as_platform(self, pick):
        self._sign(self.pick_request(pick), "platform", "platform")

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def sign_as_product(self, pick):
        self._sign(self.pick_request(pick), "product", "product")

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def sign_as_security(self, pick):
        self._sign(self.pick_request(pick), "security", "security")

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK)
    def the_board_signs_in_turn(self, pick):
        request = self.pick_request(pick)
        for role in BOARD:
            self._sign(request, role, role)

    @precondition(lambda self: self.request_ids)
    @rule(
        pick=PICK,
        who=st.sampled_from(SIGNERS),
        role=st.sampled_from([*BOARD, "platform_lead"]),
    )
    def sign_as_anyone(self, pick, who, role):
        self._sign(self.pick_request(pick), who, role)

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK, who=st.sampled_from(REVIEWERS))
    def reject(self, pick, who):
        request = self.pick_request(pick)
        self.attempt(
            "reject",
            lambda: services.promotion_request_reject(
                actor=self.p[who], request=request, reason="not good enough yet"
            ),
            must_refuse=["not a reviewer"] if who in ("manager", "outsider") else None,
        )

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK, who=st.sampled_from(REVIEWERS))
    def request_changes(self, pick, who):
        request = self.pick_request(pick)
        self.attempt(
            "request changes",
            lambda: services.promotion_request_request_changes(
                actor=self.p[who], request=request, reasons=["add the latency eval"]
            ),
            must_refuse=["not a reviewer"] if who in ("manager", "outsider") else None,
        )

    @precondition(lambda self: self.request_ids)
    @rule(
        pick=PICK,
        who=st.sampled_from(["manager", "manager", "manager", "admin", "outsider", "platform"]),
        check=st.sampled_from(["eval_thresholds"] * 4 + [*CHECK_NAMES]),
    )
    def override(self, pick, who, check):
        request = self.pick_request(pick)
        snapshot = self.request(request).policy_snapshot
        latest = CheckResult.objects.filter(request_id=request).aggregate(m=Max("run"))["m"]
        result = CheckResult.objects.filter(
            request_id=request, run=latest, check_name=check
        ).first()
        critical = check_registry.is_critical(check, snapshot) or bool(result and result.critical)
        must_refuse = []
        if critical:
            must_refuse.append(f"{check} is critical")
        if who != "manager":
            must_refuse.append(f"{who} is not the team's manager")
        _, value = self.attempt(
            "override",
            lambda: services.check_override(
                actor=self.p[who],
                request=request,
                check_name=check,
                justification="Accepted for the pilot; a retrain is scheduled next sprint.",
                expires_at=timezone.now() + timedelta(days=14),
            ),
            must_refuse=must_refuse,
        )
        if critical and result is not None:
            assert isinstance(value, NotPermitted) and "critical check" in value.message, value
            STATS["critical overrides refused"] += 1

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK, who=st.sampled_from(["manager", "manager", "admin", "outsider", "ci"]))
    def expedite(self, pick, who):
        request = self.pick_request(pick)
        self.attempt(
            "expedite",
            lambda: services.promotion_request_expedite(
                actor=self.p[who], request=request, reason="customer escalation"
            ),
            must_refuse=None if who == "manager" else [f"{who} is not the team's manager"],
        )

    @precondition(lambda self: self.request_ids)
    @rule(pick=PICK, who=st.sampled_from(["ci", "registrar", "manager", "outsider"]))
    def withdraw(self, pick, who):
        request = self.pick_request(pick)
        self.attempt(
            "withdraw",
            lambda: services.promotion_request_withdraw(actor=self.p[who], request=request),
            must_refuse=["not the requester, its CI or a manager"] if who == "outsider" else None,
        )

    @precondition(lambda self: self.version_ids)
    @rule(pick=PICK, who=st.sampled_from(LIFECYCLE_ACTORS))
    def deprecate(self, pick, who):
        version = self.pick_version(pick)
        self.attempt(
            "deprecate",
            lambda: services.version_deprecate(
                actor=self.p[who], version=version, reason="replaced by a newer version"
            ),
            must_refuse=["not a manager"] if who in ("outsider", "platform") else None,
        )

    @precondition(lambda self: self.version_ids)
    @rule(pick=PICK, who=st.sampled_from(LIFECYCLE_ACTORS))
    def retire(self, pick, who):
        version = self.pick_version(pick)
        self.attempt(
            "retire",
            lambda: services.version_retire(
                actor=self.p[who], version=version, reason="end of life"
            ),
            must_refuse=["not a manager"] if who in ("outsider", "platform") else None,
        )

    @rule(
        grant=st.sampled_from(ROLE_PERMISSIONS), by=st.sampled_from(["admin", "admin", "manager"])
    )
    def revoke_role(self, grant, by):
        who, permission = grant
        self.attempt(
            "revoke role",
            lambda: registry_services.team_role_revoke(
                actor=self.p[by], user=self.p[who], permission=permission, team=self.w.team
            ),
            must_refuse=None if by == "admin" else ["only administrators revoke roles"],
        )

    @rule(grant=st.sampled_from(ROLE_PERMISSIONS))
    def grant_role(self, grant):
        who, permission = grant
        self.attempt(
            "grant role",
            lambda: registry_services.team_role_grant(
                actor=self.p["admin"], user=self.p[who], permission=permission, team=self.w.team
            ),
        )

    @rule(sweep=st.sampled_from(["expire approvals", "expire requests", "retire after grace"]))
    def sweep(self, sweep):
        now = timezone.now() + FAR_AHEAD
        call = {
            "expire approvals": services.versions_expire_approvals,
            "expire requests": services.promotion_requests_expire,
            "retire after grace": services.versions_retire_after_grace,
        }[sweep]
        errors_before = len(self.w.sweep_errors)
        self.attempt(sweep, lambda: call(via=f"con3 {sweep}", now=now))
        failed = [r.getMessage() for r in self.w.sweep_errors[errors_before:]]
        assert not failed, f"the {sweep} sweep failed items: {failed}"

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def governance_invariants(self):
        STATS["invariant checks"] += 1
        try:
            self._check()
        except AssertionError:
            STATS["invariant violations"] += 1
            raise

    def _check(self) -> None:
        versions, requests = self._states()
        events = list(AuditEvent.objects.filter(id__gt=self.last_event).order_by("id"))
        assert set(self.seen_versions) <= set(versions), "a version disappeared"
        assert set(self.seen_requests) <= set(requests), "a request disappeared"

        self._check_version_history(versions, events)
        self._check_request_history(requests, events)
        self._check_outbox(events)
        self._check_consistency(versions, requests)
        self._check_approved(requests)

        self.seen_versions, self.seen_requests = versions, requests
        if events:
            self.last_event = events[-1].pk
        self.last_delivery = WebhookDelivery.objects.aggregate(m=Max("id"))["m"] or 0

    def _events_for(self, events, object_type: str) -> dict[int, list[AuditEvent]]:
        by_object: dict[int, list[AuditEvent]] = {}
        for event in events:
            if event.object_type == object_type:
                by_object.setdefault(int(event.object_id), []).append(event)
        return by_object

    def _check_version_history(self, versions, events) -> None:
        by_version = self._events_for(events, "registry.modelversion")
        declared = {(TRANSITION_VERBS[n], s, t) for n, s, t in VERSION_TRANSITIONS}
        for pk, state in versions.items():
            before = self.seen_versions.get(pk)
            if before == "retired":
                assert state == "retired", f"version {pk}: retired is terminal, now {state}"
            current = before
            for event in by_version.get(pk, []):
                if event.verb == "version.registered":
                    assert current is None, f"version {pk} registered twice"
                    current = _state_of(event.data, "after")
                    assert current == "draft", event.data
                    continue
                b, a = _state_of(event.data, "before"), _state_of(event.data, "after")
                if event.verb in set(TRANSITION_VERBS.values()):
                    assert (event.verb, b, a) in declared, f"undeclared {event}: {b} → {a}"
                    assert b == current, f"{event} starts from {b}, the version was {current}"
                    current = a
                else:
                    assert b == a, f"{event} changed the state outside a transition"
            assert current == state, (
                f"version {pk}: {before} → {state}, but its audit events account for "
                f"{before} → {current}"
            )

    def _check_request_history(self, requests, events) -> None:
        by_request = self._events_for(events, "approvals.promotionrequest")
        for pk, (state, _version_id) in requests.items():
            before = self.seen_requests.get(pk, (None, None))[0]
            if before in CLOSED_REQUEST_STATES:
                assert state == before, f"request {pk}: {before} is final, now {state}"
            current = before
            for event in by_request.get(pk, []):
                b, a = _state_of(event.data, "before"), _state_of(event.data, "after")
                if event.verb == "promotion.submitted":
                    assert current is None, f"request {pk} submitted twice"
                    current = "submitted"
                elif event.verb in REQUEST_EVENT_PAIRS:
                    assert (b, a) in REQUEST_EVENT_PAIRS[event.verb], (
                        f"undeclared {event}: {b} → {a}"
                    )
                    assert b == current, f"{event} starts from {b}, the request was {current}"
                    current = a
                else:
                    assert b == a, f"{event} changed the state outside a transition"
            assert current == state, (
                f"request {pk}: {before} → {state}, but its audit events account for "
                f"{before} → {current}"
            )

    def _check_outbox(self, events) -> None:
        deliveries: dict[int, list[WebhookDelivery]] = {}
        for delivery in WebhookDelivery.objects.filter(id__gt=self.last_delivery):
            deliveries.setdefault(delivery.event_id, []).append(delivery)
        slug = self.w.team.slug
        for event in events:
            expected = (
                sorted(e.pk for e in self.w.endpoints if _endpoint_wants(e, event.verb, slug))
                if event.verb in WEBHOOK_VERBS
                else []
            )
            got = deliveries.pop(event.pk, [])
            assert sorted(d.endpoint_id for d in got) == expected, (
                f"{event}: deliveries to {[d.endpoint_id for d in got]}, expected {expected}"
            )
            for delivery in got:
                assert (delivery.verb, delivery.payload["event_id"]) == (event.verb, event.pk)
                assert delivery.payload["event"] == event.verb
            if got:
                STATS["webhook deliveries checked"] += len(got)
        assert not deliveries, f"deliveries for no event of this step: {sorted(deliveries)}"

    def _check_consistency(self, versions, requests) -> None:
        open_by_version: dict[int, list[tuple[int, str]]] = {}
        for pk, (state, version_id) in requests.items():
            if state in OPEN_REQUEST_STATES:
                open_by_version.setdefault(version_id, []).append((pk, state))
        for version_id, open_requests in open_by_version.items():
            version_state = versions[version_id]
            assert len(open_requests) == 1, f"version {version_id}: {open_requests} open"
            assert version_state not in ("deprecated", "retired"), (
                f"open request {open_requests[0]} for a {version_state} version {version_id}"
            )
            request_state = open_requests[0][1]
            allowed = {
                "submitted": {"draft"},
                "checking": {"draft", "candidate"},
                "in_review": {"candidate"},
            }[request_state]
            assert version_state in allowed, (
                f"request {open_requests[0]} with a {version_state} version {version_id}"
            )
        for version_id, state in versions.items():
            if state == "candidate":
                assert version_id in open_by_version, (
                    f"candidate version {version_id} without an open request"
                )

    def _check_approved(self, requests) -> None:
        approved_versions = Counter()
        for pk, (state, version_id) in requests.items():
            if state != "approved":
                continue
            approved_versions[version_id] += 1
            request = self.request(pk)
            assert request.version.state in ("approved", "deprecated", "retired"), (
                f"approved request {pk} for a {request.version.state} version"
            )
            assert DecisionRecord.objects.filter(request=request).count() == 1
            assessment = services.assess(request)
            valid = Counter(s.role for s in assessment.valid_signoffs)
            for role, quorum in request.policy_snapshot["required_roles"].items():
                assert valid[role] >= quorum, (
                    f"approved request {pk}: {role} {valid[role]}/{quorum}"
                )
            signers = [s.signer_id for s in assessment.valid_signoffs]
            assert len(signers) == len(set(signers)), f"request {pk}: one person, two roles"
            assert request.requested_by_id not in signers, f"request {pk}: requester signed"
            excepted = set(
                CheckException.objects.filter(request=request).values_list(
                    "check_result_id", flat=True
                )
            )
            for result in assessment.results:
                critical = result.critical or check_registry.is_critical(
                    result.check_name, request.policy_snapshot
                )
                assert result.passed or (not critical and result.pk in excepted), (
                    f"approved request {pk} with failed check {result.check_name}"
                )
            if pk not in self.seen_requests or self.seen_requests[pk][0] != "approved":
                STATS["approvals"] += 1
        for version_id, state in ModelVersion.objects.filter(state="approved").values_list(
            "id", "state"
        ):
            assert approved_versions[version_id] == 1, (
                f"{state} version {version_id} without exactly one approved request"
            )


def test_con3_governance_state_machine(con3_world):
    STATS.clear()
    RULES.clear()
    REFUSALS.clear()
    GovernanceMachine.world = con3_world
    started = time.monotonic()
    try:
        run_state_machine_as_test(
            GovernanceMachine,
            settings=hypothesis_settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        elapsed = time.monotonic() - started
        rules = ", ".join(f"{name} {count}" for name, count in sorted(RULES.items()))
        print(
            f"\nCON-3: {STATS['examples']} examples, {STATS['steps']} service calls, "
            f"{STATS['invariant checks']} invariant checks, "
            f"{STATS['invariant violations']} invariant violations; "
            f"{STATS['approvals']} approvals, {STATS['signoffs']} sign-offs, "
            f"{STATS['critical overrides refused']} critical overrides refused, "
            f"{STATS['webhook deliveries checked']} webhook deliveries checked; "
            f"{elapsed:.1f} s\nCON-3 calls: {rules}\nCON-3 most frequent refusals: "
            + "; ".join(f"{why} ({n})" for why, n in REFUSALS.most_common(12))
        )
    assert STATS["invariant violations"] == 0
    assert STATS["examples"] >= EXAMPLES
