"""The checks on the version's own record: required metadata, and a rollback target
whenever an approved version already exists."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from approvals.checks.context import CheckContext, CheckOutcome, make_outcome
from approvals.choices import CheckName
from registry.choices import DatasetUse, FineTuneMethod, ModelKind


def check_metadata_complete(ctx: CheckContext) -> CheckOutcome:
    """Every required metadata field is present and valid (DESIGN 'Lifecycle rules')."""
    version = ctx.version
    missing: list[str] = []
    invalid: dict[str, list[str]] = {}
    model = version.registered_model
    for name in ("license", "risk_rating", "source_commit", "dependency_lock_hash"):
        if not getattr(version, name):
            missing.append(name)
    for name in ("allowed_use_cases", "prohibited_use_cases", "mitigation_controls"):
        value = getattr(version, name)
        if not isinstance(value, list) or not value:
            missing.append(name)
        elif not all(isinstance(item, str) and item.strip() for item in value):
            invalid[name] = ["must be a list of non-empty strings"]
    if not version.fine_tune_method:
        missing.append("fine_tune_method")
    elif version.fine_tune_method != FineTuneMethod.NONE and not (
        version.base_model_version_id or version.base_model_reference
    ):
        missing.append("base_model (a fine-tune names its base model version or reference)")
    if model.kind == ModelKind.ADAPTER and not (
        version.base_model_version_id or version.base_model_reference
    ):
        missing.append("base_model (an adapter names its base model)")
    if (
        model.kind in (ModelKind.MODEL, ModelKind.ADAPTER)
        and DatasetUse.TRAIN not in ctx.dataset_uses
    ):
        missing.append("training dataset")
    if DatasetUse.EVAL not in ctx.dataset_uses:
        missing.append("evaluation dataset")
    if not model.owner_id or not model.backup_owner_id or not model.escalation_contact:
        missing.append("owner, backup owner and escalation contact")
    elif model.owner_id == model.backup_owner_id:
        invalid["backup_owner"] = ["must differ from the owner"]
    try:
        version.full_clean(exclude=["state"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        invalid.update(exc.message_dict)
    passed = not missing and not invalid
    if passed:
        detail = "All required metadata is present and valid."
    else:
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if invalid:
            parts.append("invalid: " + ", ".join(sorted(invalid)))
        detail = "; ".join(parts)
    return make_outcome(
        CheckName.METADATA_COMPLETE, passed, detail, missing=missing, invalid=invalid
    )


def check_rollback_target(ctx: CheckContext) -> CheckOutcome:
    """When an approved version already exists, the request names one to roll back to."""
    name = CheckName.ROLLBACK_TARGET
    target, approved_ids, version = ctx.rollback_target, ctx.approved_ids, ctx.version
    if target is not None:
        if target.registered_model_id != version.registered_model_id:
            return make_outcome(
                name,
                False,
                "The rollback target is a version of another model.",
                rollback_target=target.pk,
            )
        if target.pk not in approved_ids:
            return make_outcome(
                name,
                False,
                f"The rollback target {target.version} is not an approved version.",
                rollback_target=target.pk,
                approved=approved_ids,
            )
        return make_outcome(
            name, True, f"Rolls back to {target.version}.", rollback_target=target.pk
        )
    if approved_ids:
        return make_outcome(
            name,
            False,
            "An approved version exists: name it (or another approved version) as the "
            "rollback target.",
            approved=approved_ids,
        )
    return make_outcome(
        name, True, "First approval of this model: no prior version to roll back to.", approved=[]
    )
