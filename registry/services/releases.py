"""Releases: submitting a bundle of pinned components with its release notes, and
withdrawing one that never served.

``release_create`` validates everything before it writes anything (one transaction; on a
refusal nothing is written), pins each component's manifest entry, computes the diff from
the previous release and records the change categories it detected, with why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput
from core.permissions import Verb, require
from core.team_roles import held_on_team
from registry import semver
from registry.choices import ReleaseComponentKind, ReleaseState, Ring
from registry.models import (
    DatasetVersion,
    Evidence,
    ModelVersion,
    Release,
    ReleaseComponent,
    Team,
)
from registry.release_categories import detect_change_categories
from registry.release_diff import manifest_diff
from registry.release_manifest import (
    MODEL_COMPONENT_KINDS,
    PINNABLE_STATES,
    dataset_entry,
    evaluation_entry,
    manifest_digest,
    manifest_of,
    release_integrity,
    version_entry,
)

__all__ = ["RELEASE_NOTE_FIELDS", "release_create", "release_integrity", "release_withdraw"]

#: The release notes, every one required (text fields non-blank, lists non-empty).
RELEASE_NOTE_TEXT_FIELDS = (
    "what_changed",
    "why",
    "data_used",
    "expected_benefits",
    "known_risks",
)
RELEASE_NOTE_LIST_FIELDS = ("channels_tested", "rollback_triggers")
RELEASE_NOTE_FIELDS = (
    *RELEASE_NOTE_TEXT_FIELDS,
    *RELEASE_NOTE_LIST_FIELDS,
    "rollback_owner",
    "rollback_target",
    "rollback_feature_flag",
)
#: A ring request in one of these states is finished (``approvals.choices.RequestState``
#: values, named as data: the registry does not import approvals).
FINISHED_REQUEST_STATES = ("approved", "rejected", "withdrawn", "expired")
_TARGET_FIELD = {
    ReleaseComponentKind.DATASET: "dataset_version",
    ReleaseComponentKind.EVALUATION_REPORT: "evaluation",
}


def _notes_errors(notes: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    unknown = set(notes) - set(RELEASE_NOTE_FIELDS)
    if unknown:
        errors["notes"] = [f"Unknown release note fields: {', '.join(sorted(unknown))}."]
    for name in RELEASE_NOTE_TEXT_FIELDS:
        value = notes.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["This release note is required and may not be blank."]
    for name in RELEASE_NOTE_LIST_FIELDS:
        value = notes.get(name)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            errors[name] = ["A non-empty list of non-blank strings is required."]
    flag = notes.get("rollback_feature_flag") or ""
    if not isinstance(flag, str):
        errors["rollback_feature_flag"] = ["A feature flag is named by a string."]
    if notes.get("rollback_target") is None and not (isinstance(flag, str) and flag.strip()):
        errors["rollback_target"] = [
            "A rollback target is required: a prior release or a feature flag."
        ]
    return errors


def _rollback_owner(team: Team, owner: Any) -> Any:
    User = get_user_model()
    if isinstance(owner, int) or (isinstance(owner, str) and owner.isdigit()):
        found = User.objects.filter(pk=int(owner), is_active=True).first()
    elif isinstance(owner, str):
        found = User.objects.filter(username=owner, is_active=True).first()
    else:
        found = owner if isinstance(owner, User) and owner.is_active else None
    if found is None or not held_on_team(found, team.pk):
        raise InvalidInput(
            "The rollback owner must be a person who holds a role on the team.",
            errors={"rollback_owner": ["not a person holding a role on the team"]},
        )
    return found


def _rollback_target(team: Team, name: str, target: Any) -> Release | None:
    if target is None:
        return None
    pk = target.pk if isinstance(target, Release) else target
    found = (
        Release.objects.filter(team=team, name=name, pk=pk)
        .exclude(state=ReleaseState.WITHDRAWN)
        .first()
        if isinstance(pk, int)
        else None
    )
    if found is None:
        raise InvalidInput(
            "The rollback target must be a prior, non-withdrawn release of the same name.",
            errors={"rollback_target": ["not a prior release of this name and team"]},
        )
    return found


def _resolve(actor: Any, team: Team, index: int, item: Any) -> tuple[str, Any]:
    """One requested component: its kind and its target row (locked), or InvalidInput."""
    where = f"components[{index}]"
    if not isinstance(item, dict) or item.get("kind") not in ReleaseComponentKind.values:
        raise InvalidInput(
            f"Component {index + 1} needs a kind ({', '.join(ReleaseComponentKind.values)}).",
            errors={where: ["unknown or missing kind"]},
        )
    kind = item["kind"]
    field = _TARGET_FIELD.get(kind, "model_version")
    model = {"dataset_version": DatasetVersion, "evaluation": Evidence}.get(field, ModelVersion)
    related = {
        "model_version": ("registered_model__team",),
        "dataset_version": ("dataset__team",),
        "evaluation": ("version__registered_model__team",),
    }[field]
    rows = model.objects.visible_to(actor).select_related(*related)
    target = None
    reference = {
        "model_version": ("model", "registered_model"),
        "dataset_version": ("dataset", "dataset"),
    }
    if isinstance(item.get(field), int):
        target = rows.filter(pk=item[field]).first()
    elif field in reference and item.get(reference[field][0]) and item.get("version"):
        # By reference: {"model": "[team/]name", "version": "1.2.0"}; the team defaults to
        # the release's own.
        key, path = reference[field]
        team_slug, _, name = str(item[key]).rpartition("/")
        lookup = {
            f"{path}__name": name,
            f"{path}__team__slug": team_slug or team.slug,
            "version": item["version"],
        }
        target = rows.filter(**lookup).first()
    if target is None:
        raise InvalidInput(
            f"Component {index + 1} ({kind}): the {field.replace('_', ' ')} does not exist.",
            errors={where: [f"no such {field.replace('_', ' ')}"]},
        )
    if model is ModelVersion:
        # Lock the pinned version: its state cannot change under the submission.
        target = ModelVersion.objects.select_for_update(of=("self",)).get(pk=target.pk)
    return kind, target


def _component_entries(
    actor: Any, team: Team, components: Any
) -> list[tuple[str, Any, dict[str, Any]]]:
    if not isinstance(components, list) or not components:
        raise InvalidInput(
            "A release needs a list of components.", errors={"components": ["required"]}
        )
    resolved = [_resolve(actor, team, index, item) for index, item in enumerate(components)]
    seen_models: dict[int, str] = {}
    pinned = []
    for index, (kind, target) in enumerate(resolved):
        if kind in MODEL_COMPONENT_KINDS:
            model = target.registered_model
            label = f"{model.name} {target.version}"
            if model.kind != kind:
                raise InvalidInput(
                    f"Component {index + 1}: {label} is a {model.kind}, not a {kind}.",
                    errors={f"components[{index}]": ["kind does not match the registered model"]},
                )
            if model.pk in seen_models:
                raise InvalidInput(
                    f"Component {index + 1}: {model.name} is pinned twice "
                    f"({seen_models[model.pk]} and {target.version}); a release pins one "
                    "version per registered model.",
                    errors={f"components[{index}]": ["registered model pinned twice"]},
                )
            seen_models[model.pk] = target.version
            if target.state not in PINNABLE_STATES:
                raise IllegalTransition(
                    f"{kind.capitalize()} {label} is {target.state}: a release pins only "
                    "approved components (or candidates, approved by the release's review).",
                    errors={f"components[{index}]": [f"{target.state} version"]},
                )
            pinned.append((kind, target, version_entry(kind, target)))
        elif kind == ReleaseComponentKind.DATASET:
            pinned.append((kind, target, dataset_entry(target)))
        else:
            pinned.append((kind, target, None))
    version_ids = {target.pk for kind, target, _ in pinned if kind in MODEL_COMPONENT_KINDS}
    if not version_ids:
        raise InvalidInput(
            "A release needs at least one model, adapter, prompt, config or SDK component.",
            errors={"components": ["no model-kind component"]},
        )
    checked = []
    for index, (kind, target, entry) in enumerate(pinned):
        if kind == ReleaseComponentKind.EVALUATION_REPORT:
            if target.kind != "eval_package" or target.version_id not in version_ids:
                raise InvalidInput(
                    f"Component {index + 1}: evidence {target.pk} is not an evaluation "
                    "package of one of the release's versions.",
                    errors={f"components[{index}]": ["not an eval package of a pinned version"]},
                )
            entry = evaluation_entry(target)
        checked.append((kind, target, entry))
    keys = [(kind, target.pk) for kind, target, _ in checked]
    if len(set(keys)) != len(keys):
        raise InvalidInput(
            "A component is listed twice.", errors={"components": ["duplicate component"]}
        )
    return checked


@transaction.atomic
def release_create(
    actor: Any,
    *,
    team: Team,
    name: str,
    version: str,
    components: list[dict[str, Any]],
    notes: dict[str, Any],
    now: datetime | None = None,
) -> Release:
    """Submit a release of ``team``'s stack ``name`` at ``version``: every component
    approved (or a candidate), every release note given, the version above every earlier
    release of the name. Records ``release.submitted`` with the manifest digest and the
    change categories. Refuses (nothing written) with ``InvalidInput`` or
    ``IllegalTransition`` naming the component or note at fault."""
    require(actor, Verb.REGISTER, team, refusal="You may not submit releases for this team.")
    team = Team.objects.select_for_update().get(pk=team.pk)  # one submission per team at once
    try:
        parsed = semver.parse(version)
    except semver.InvalidVersion as exc:
        raise InvalidInput(str(exc), errors={"version": [str(exc)]}) from exc
    if not isinstance(notes, dict):
        raise InvalidInput("Release notes are required.", errors={"notes": ["required"]})
    errors = _notes_errors(notes)
    if errors:
        raise InvalidInput("The release notes are incomplete or invalid.", errors=errors)
    owner = _rollback_owner(team, notes["rollback_owner"])
    earlier = Release.objects.filter(team=team, name=name).order_by("-semver_key", "-id")
    highest = earlier.first()
    if highest is not None and parsed.sort_key() <= highest.semver_key:
        raise InvalidInput(
            f"{name} {parsed} is not greater than the latest release {highest.version}.",
            errors={"version": [f"must be greater than {highest.version}"]},
        )
    previous = earlier.exclude(state=ReleaseState.WITHDRAWN).first()
    target = _rollback_target(team, name, notes.get("rollback_target"))
    pinned = _component_entries(actor, team, components)
    manifest = manifest_of([entry for _, _, entry in pinned])
    release = Release(
        team=team,
        name=name,
        version=str(parsed),
        version_core=parsed.core,
        semver_key=parsed.sort_key(),
        previous_release=previous,
        **{field: notes[field] for field in RELEASE_NOTE_TEXT_FIELDS + RELEASE_NOTE_LIST_FIELDS},
        rollback_target=target,
        rollback_feature_flag=(notes.get("rollback_feature_flag") or "").strip(),
        rollback_owner=owner,
        manifest=manifest,
        manifest_sha256=manifest_digest(manifest),
        created_by=actor,
    )
    release.change_categories = detect_change_categories(
        manifest_diff(
            release=release,
            previous=previous,
            before=previous.manifest if previous else [],
            after=manifest,
            channels_before=list(previous.channels_tested) if previous else [],
            channels_after=list(release.channels_tested),
        )
    )
    try:
        release.full_clean(
            exclude=["rollback_owner", "created_by", "team", "rollback_target", "previous_release"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise InvalidInput("The release is invalid.", errors=exc.message_dict) from exc
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin leaves this usable
            release.save()
    except IntegrityError as exc:
        raise Conflict(f"{name} {parsed.core} is already released.") from exc
    for kind, target_row, entry in pinned:
        ReleaseComponent.objects.create(
            release=release,
            kind=kind,
            **{_TARGET_FIELD.get(kind, "model_version"): target_row},
            pinned=entry,
        )
    record(
        actor=actor,
        verb=AuditVerb.RELEASE_SUBMITTED,
        target=release,
        team_id=team.pk,
        data={
            "before": None,
            "after": {
                "name": name,
                "version": release.version,
                "manifest_sha256": release.manifest_sha256,
                "components": len(manifest),
                "previous_release": previous.pk if previous else None,
                "change_categories": [item["category"] for item in release.change_categories],
                "submitted_at": (now or timezone.now()).isoformat(),
            },
        },
    )
    return release


@transaction.atomic
def release_withdraw(
    actor: Any, *, release: Release, reason: str, now: datetime | None = None
) -> Release:
    """submitted → withdrawn, for a release that entered no ring past offline validation
    and has no open ring request."""
    release = Release.objects.select_for_update().select_related("team").get(pk=release.pk)
    require(actor, Verb.REGISTER, release.team, refusal="You may not withdraw this release.")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Say why the release is withdrawn.", errors={"reason": ["required"]})
    if release.state != ReleaseState.SUBMITTED:
        raise IllegalTransition(f"{release} is {release.state}; only a submitted one withdraws.")
    entered = (
        release.ring_entries.exclude(ring=Ring.OFFLINE_VALIDATION)
        .values_list("environment", "ring")
        .first()
    )
    if entered is not None:
        raise IllegalTransition(
            f"{release} entered {entered[1]} in {entered[0]}: roll it back instead of "
            "withdrawing it."
        )
    if release.ring_requests.exclude(state__in=FINISHED_REQUEST_STATES).exists():
        raise IllegalTransition(f"{release} has an open ring request: withdraw that first.")
    release.state = ReleaseState.WITHDRAWN
    release.save(update_fields=["state"])
    record(
        actor=actor,
        verb=AuditVerb.RELEASE_WITHDRAWN,
        target=release,
        team_id=release.team_id,
        data={
            "reason": reason.strip(),
            "before": ReleaseState.SUBMITTED,
            "after": ReleaseState.WITHDRAWN,
            "withdrawn_at": (now or timezone.now()).isoformat(),
        },
    )
    return release
