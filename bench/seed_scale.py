"""Benchmark data: grow the scale world of issue 14 (``bench/scale_world.py``) to
``--versions N`` model versions, with what the services write for each row: the row, its
simple-history rows and its audit events, promotion requests with check results and
signed sign-offs, releases with their components, deployments and incidents.

Not a test, and not the services: the rows are written in bulk (``bulk_create`` in
batches, one transaction per chunk of 5,000 versions) so 100,000 versions take minutes,
not hours. What the services would have added is added the same way they add it:

- history through simple-history's own bulk writer (``bulk_history_create``: a ``+`` row
  as registered, a ``~`` row for the transition), as ``bulk_create_with_history`` does;
- audit events through ``audit.services.record_many`` (the recorder's bulk path: same
  checks, same actor labels, same verbs and ``data`` shapes as the services);
- sign-offs bound and Ed25519-signed with ``approvals.signing`` as ``signoff_record``
  binds them.

The audit log's hash chain is not written on insert: the seal job (``audit_log_seal``)
chains and signs new events later, as in production. ``--seal`` runs it over everything
new and then ``verify_audit``'s full check, and prints how long both took.

Growing is append-only (the append-only triggers refuse UPDATE/DELETE): a second run
with a larger N adds versions N_old..N-1 and their rows; nothing is rewritten.

Usage:
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE govboard_bench100k'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench100k \\
        DJANGO_SETTINGS_MODULE=govboard.settings.local .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govboard_bench100k \\
        .venv/bin/python bench/seed_scale.py --versions 2000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_world as sw

CHUNK = 5_000  # versions per transaction (a multiple of every period of the layout)
BATCH = 2_000  # rows per INSERT statement


def seed_chunk(people: dict[str, Any], start: int, stop: int, written: Counter) -> None:
    """Versions ``start..stop-1`` and everything hanging off them, in one transaction."""
    from django.db import transaction
    from django.utils import timezone

    from approvals import signing
    from approvals.choices import IncidentSeverity, IncidentSource, RequestState
    from approvals.models import CheckResult, Incident, PromotionRequest, SignOff
    from approvals.services.common import signoff_binding
    from audit.services import record_many
    from audit.verbs import AuditVerb
    from registry import semver
    from registry.choices import ModelKind, VersionState
    from registry.models import Deployment, ModelVersion, RegisteredModel, Release
    from registry.services.versions import _version_snapshot
    from tests.releases.factories import bulk_releases_pinning

    owner, backup, requester = people["owner"], people["backup"], people["requester"]
    signers = people["signers"]
    teams = people["teams"]
    now = timezone.now()

    def history(model: Any, objects: list, *, update: bool, user: Any, reason: str) -> None:
        model.history.bulk_history_create(
            objects, batch_size=BATCH, update=update, default_user=user,
            default_change_reason=reason,
        )  # fmt: skip
        written[f"history {model._meta.label_lower}"] += len(objects)

    def audit(actor: Any, verb: str, entries: list) -> None:
        for offset in range(0, len(entries), BATCH):
            record_many(actor=actor, verb=verb, entries=entries[offset : offset + BATCH])
        written["audit events"] += len(entries)

    with transaction.atomic():
        # Models: a team's model names, 20 versions each (what registered_model_upsert writes).
        first_model, last_model = start // sw.VERSIONS_PER_MODEL, stop // sw.VERSIONS_PER_MODEL
        models = RegisteredModel.objects.bulk_create(
            [
                RegisteredModel(
                    team=teams[sw.team_index(m)],
                    name=sw.model_name(m),
                    kind=ModelKind.MODEL,
                    description="Scale benchmark model.",
                    owner=owner,
                    backup_owner=backup,
                    escalation_contact="oncall@example.test",
                )
                for m in range(first_model, last_model)
            ],
            batch_size=BATCH,
        )
        written["registered models"] += len(models)
        history(RegisteredModel, models, update=False, user=owner, reason="")
        audit(
            owner,
            AuditVerb.MODEL_REGISTERED,
            [(m, m.team_id, {"before": None, "after": {"name": m.name}}) for m in models],
        )
        model_of = {sw.model_name(first_model + k): m for k, m in enumerate(models)}

        # Versions, inserted in their final state; history as registered (draft) then moved.
        versions = []
        for i in range(start, stop):
            model = model_of[sw.model_name(i // sw.VERSIONS_PER_MODEL)]
            text = sw.version_text(i)
            parsed = semver.parse(text)
            approved = sw.is_approved(i)
            expires = now + timedelta(days=1 + i % 180) if approved else None
            versions.append(
                ModelVersion(
                    registered_model=model,
                    version=text,
                    version_core=parsed.core,
                    semver_key=parsed.sort_key(),
                    checksum=sw.checksum_of(i),
                    storage_uri=f"s3://models/{model.name}/{text}/",
                    state=VersionState.APPROVED if approved else VersionState.CANDIDATE,
                    license="apache-2.0",
                    risk_rating="low",
                    registered_by=owner,
                    approved_at=expires - timedelta(days=180) if expires else None,
                    approval_expires_at=expires,
                )
            )
        ModelVersion.objects.bulk_create(versions, batch_size=BATCH)
        written["model versions"] += len(versions)
        finals = [(v.state, v.approved_at, v.approval_expires_at) for v in versions]
        for v in versions:
            # ``state`` is a protected FSM field: only a transition may set it on a model
            # that is saved; these rows are already in their final state in the table.
            v.__dict__["state"], v.approved_at, v.approval_expires_at = (
                VersionState.DRAFT,
                None,
                None,
            )
        history(ModelVersion, versions, update=False, user=owner, reason="")
        audit(
            owner,
            AuditVerb.VERSION_REGISTERED,
            [
                (v, v.registered_model.team_id, {"before": None, "after": _version_snapshot(v)})
                for v in versions
            ],
        )
        for v, (state, approved_at, expires) in zip(versions, finals, strict=True):
            v.__dict__["state"], v.approved_at, v.approval_expires_at = state, approved_at, expires
        history(ModelVersion, versions, update=True, user=signers["platform"], reason="")
        for state, verb, actor in (
            (VersionState.APPROVED, AuditVerb.VERSION_APPROVED, signers["platform"]),
            (VersionState.CANDIDATE, AuditVerb.VERSION_MARKED_CANDIDATE, owner),
        ):
            audit(
                actor,
                verb,
                [
                    (
                        v,
                        v.registered_model.team_id,
                        {
                            "before": {"state": VersionState.DRAFT},
                            "after": {"state": state},
                            "reason": "scale benchmark",
                        },
                    )
                    for v in versions
                    if v.state == state
                ],
            )
        by_index = dict(zip(range(start, stop), versions, strict=True))

        # Promotion requests: approved (three sign-offs) on approved versions, in review
        # (none, or platform's) on candidates; each with its check results.
        snapshots = {
            team.pk: (people["policies"][f"board-{team.slug}"],) for team in teams
        }  # fmt: skip
        snapshots = {k: (p, p.snapshot()) for k, (p,) in snapshots.items()}
        requests, request_index = [], {}
        for i in range(start, stop):
            if not sw.has_request(i):
                continue
            v = by_index[i]
            policy, snapshot = snapshots[v.registered_model.team_id]
            approved = v.state == VersionState.APPROVED
            request = PromotionRequest(
                version=v,
                team_id=v.registered_model.team_id,
                policy=policy,
                policy_snapshot=snapshot,
                state=RequestState.APPROVED if approved else RequestState.IN_REVIEW,
                requested_by=requester,
                checked_evidence={},
                checked_at=now,
                priority=i % 2,
                due_at=now + timedelta(days=i % 14),
                decided_at=now if approved else None,
            )
            requests.append(request)
            request_index[id(request)] = i
        PromotionRequest.objects.bulk_create(requests, batch_size=BATCH)
        written["promotion requests"] += len(requests)
        history(PromotionRequest, requests, update=False, user=requester, reason="")
        audit(
            requester,
            AuditVerb.PROMOTION_SUBMITTED,
            [
                (
                    r,
                    r.version.registered_model.team_id,
                    {
                        "version": r.version_id,
                        "purpose": r.purpose,
                        "policy": {
                            "id": r.policy_id,
                            "name": r.policy_snapshot.get("name"),
                            "version": r.policy_snapshot.get("version"),
                        },
                        "rollback_target": None,
                        "due_at": r.due_at.isoformat(),
                        "before": None,
                        "after": {"state": RequestState.SUBMITTED},
                    },
                )
                for r in requests
            ],
        )
        check_names = ("metadata_complete", "artifact_scan", "eval_thresholds")
        CheckResult.objects.bulk_create(
            [
                CheckResult(request=r, check_name=name, passed=True, detail=f"{name} passed")
                for r in requests
                for name in check_names
            ],
            batch_size=BATCH,
        )
        written["check results"] += len(requests) * len(check_names)
        audit(
            None,
            AuditVerb.PROMOTION_CHECKED,
            [
                (
                    r,
                    r.version.registered_model.team_id,
                    {"passed": True, "checks": list(check_names), "after": {"state": r.state}},
                )
                for r in requests
            ],
        )
        signoffs: dict[str, list] = defaultdict(list)
        for r in requests:
            if r.state == RequestState.APPROVED:
                roles = sw.BOARD_ROLES
            else:
                roles = ("platform",) if request_index[id(r)] % 3 == 0 else ()
            for role in roles:
                signer = signers[role]
                binding = signoff_binding(
                    request=r,
                    version=r.version,
                    role=role,
                    signer=signer,
                    meaning="Approved for production promotion",
                    digests={},
                    signed_at=now,
                    reauth_method="password",
                )
                payload = signing.canonical_json(binding)
                signature, keyid = signing.sign_bytes(payload)
                signoffs[role].append(
                    SignOff(
                        request=r,
                        role=role,
                        signer=signer,
                        signed_checksum=r.version.checksum,
                        evidence_digests={},
                        reauth_method="password",
                        binding=binding,
                        binding_sha256=signing.sha256_hex(payload),
                        signature=signature,
                        keyid=keyid,
                        signed_at=now,
                    )
                )
        for role, rows in signoffs.items():
            SignOff.objects.bulk_create(rows, batch_size=BATCH)
            written["sign-offs"] += len(rows)
            audit(
                signers[role],
                AuditVerb.PROMOTION_SIGNED,
                [
                    (
                        s.request,
                        s.request.version.registered_model.team_id,
                        {
                            "role": role,
                            "signoff": s.pk,
                            "checksum": s.signed_checksum,
                            "evidence": {},
                            "meaning": s.meaning,
                            "reauthenticated_with": s.reauth_method,
                            "binding_sha256": s.binding_sha256,
                        },
                    )
                    for s in rows
                ],
            )
        audit(
            None,
            AuditVerb.PROMOTION_APPROVED,
            [
                (
                    r,
                    r.version.registered_model.team_id,
                    {"before": {"state": RequestState.IN_REVIEW}, "after": {"state": r.state}},
                )
                for r in requests
                if r.state == RequestState.APPROVED
            ],
        )

        # Releases pinning one version each, two deployments per release, some incidents.
        pins = [
            (v.registered_model.team_id, f"scale-r{i:06d}", v)
            for i, v in by_index.items()
            if sw.has_release(i)
        ]
        pinned = [v for _, _, v in pins]
        releases = bulk_releases_pinning(pins, actor=owner, batch_size=BATCH)
        written["releases"] += len(releases)
        written["release components"] += len(releases)
        history(Release, releases, update=False, user=owner, reason="")
        audit(
            owner,
            AuditVerb.RELEASE_SUBMITTED,
            [
                (r, r.team_id, {"name": r.name, "version": r.version, "components": [v.pk]})
                for r, v in zip(releases, pinned, strict=True)
            ],
        )
        deployments = [
            Deployment(
                version=v,
                release=r,
                environment=environment,
                ring=ring,
                customer_scope=f"customer-{(n + offset) % sw.CUSTOMERS:02d}",
                started_at=now - timedelta(days=1, minutes=n),
                recorded_by=requester,
            )
            for n, (r, v) in enumerate(zip(releases, pinned, strict=True))
            for offset, (environment, ring) in enumerate((("prod", "general"), ("staging", "")))
        ]
        Deployment.objects.bulk_create(deployments, batch_size=BATCH)
        written["deployments"] += len(deployments)
        history(Deployment, deployments, update=False, user=requester, reason="")
        audit(
            requester,
            AuditVerb.DEPLOYMENT_RECORDED,
            [
                (
                    d,
                    d.version.registered_model.team_id,
                    {"version": d.version_id, "environment": d.environment, "ring": d.ring},
                )
                for d in deployments
            ],
        )
        incidents = [
            Incident(
                team_id=r.team_id,
                release=r,
                title=f"p95 latency breach on {r.name}",
                severity=IncidentSeverity.SEV2,
                source=IncidentSource.PERSON,
                environment="prod",
                ring="general",
                opened_by=owner,
                opened_at=now - timedelta(hours=n),
            )
            for n, r in enumerate(releases)
            if sw.has_incident(int(r.name.removeprefix("scale-r")))
        ]
        Incident.objects.bulk_create(incidents, batch_size=BATCH)
        written["incidents"] += len(incidents)
        history(Incident, incidents, update=False, user=owner, reason="")
        Incident.versions.through.objects.bulk_create(
            [
                Incident.versions.through(incident=incident, modelversion=incident.release_pinned)
                for incident in _with_pinned(incidents, releases, pinned)
            ]
        )
        audit(
            owner,
            AuditVerb.INCIDENT_OPENED,
            [(n, n.team_id, {"title": n.title, "severity": n.severity}) for n in incidents],
        )


def _with_pinned(incidents: list, releases: list, pinned: list) -> list:
    version_of = {r.pk: v for r, v in zip(releases, pinned, strict=True)}
    for incident in incidents:
        incident.release_pinned = version_of[incident.release_id]
    return incidents


def seal_and_verify() -> None:
    """The seal job over every new event, then verify_audit's full check (ADR 0013)."""
    from audit.services import audit_log_seal
    from audit.transparency.database import verify_audit_log

    started = time.perf_counter()
    sealed = 0
    while True:
        result = audit_log_seal(limit=10_000)
        if not result.sealed:
            break
        sealed += result.sealed
    print(f"sealed {sealed} new rows in {time.perf_counter() - started:.1f} s")
    report = verify_audit_log()
    print(
        f"verify_audit: {report.leaves} leaves in {report.seconds:.1f} s: "
        f"{'OK' if report.ok else f'FAILED: {report.first}'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, required=True, help="grow the world to N")
    parser.add_argument("--database-url", help="default: $DATABASE_URL")
    parser.add_argument("--seal", action="store_true", help="then seal and verify the audit log")
    options = parser.parse_args()
    if options.database_url:
        os.environ["DATABASE_URL"] = options.database_url
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    if options.versions % sw.VERSIONS_PER_MODEL:
        print(f"--versions must be a multiple of {sw.VERSIONS_PER_MODEL}", file=sys.stderr)
        return 2
    # The signed heads' copy outside the database, one directory per database: a head
    # left by an earlier database of the same name would fail verification.
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
    heads = Path(tempfile.gettempdir()) / f"govboard-scale-heads-{database}"
    os.environ.setdefault("GOVBOARD_AUDIT_HEADS_URL", f"file://{heads}")
    sw.setup_django()
    from django.db import connection, transaction

    have = sw.versions_in_world()
    if not sw.world_exists():
        if heads.is_dir() and os.environ["GOVBOARD_AUDIT_HEADS_URL"] == f"file://{heads}":
            shutil.rmtree(heads)  # a new world: the heads of the dropped one mean nothing
        with transaction.atomic():
            people = sw.world(create=True)
    else:
        people = sw.world()
    if have % sw.VERSIONS_PER_MODEL:
        print(f"the world holds {have} versions, not whole models", file=sys.stderr)
        return 2
    written: Counter = Counter()
    started = time.perf_counter()
    for chunk in range(have, options.versions, CHUNK):
        stop = min(chunk + CHUNK, options.versions)
        seed_chunk(people, chunk, stop, written)
        print(f"  versions {chunk}..{stop - 1}: {time.perf_counter() - started:.1f} s", flush=True)
    seeded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as autovacuum would leave them
    print(
        f"grew the world from {have} to {max(have, options.versions)} versions in "
        f"{seeded:.1f} s (+ ANALYZE {time.perf_counter() - started - seeded:.1f} s); wrote:"
    )
    for what, count in sorted(written.items()):
        print(f"  {what:40} {count:>9,}")
    print(f"  {'history rows, all tables':40} {_sum(written, 'history'):>9,}")
    if options.seal:
        seal_and_verify()
    return 0


def _sum(written: Counter, prefix: str) -> int:
    return sum(count for what, count in written.items() if what.startswith(prefix))


if __name__ == "__main__":
    raise SystemExit(main())
