"""The automated baseline checks a promotion request must pass before review.

Each check is a pure function of the version and the request that returns a
``CheckOutcome``; ``services`` stores the outcomes and moves the request. Checks are
conditions on the version, never permissions: nobody's role makes a failing check pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from registry.choices import DatasetUse, FineTuneMethod, ModelKind
from registry.models import ModelVersion


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    detail: str
    critical: bool = False
    observed: dict[str, Any] = field(default_factory=dict)


def check_metadata_complete(
    version: ModelVersion,
    *,
    rollback_target: ModelVersion | None,
    approved_ids: list[int],
    dataset_uses: list[str],
) -> CheckOutcome:
    """Every required metadata field is present and valid (DESIGN 'Lifecycle rules')."""
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
    if model.kind in (ModelKind.MODEL, ModelKind.ADAPTER) and DatasetUse.TRAIN not in dataset_uses:
        missing.append("training dataset")
    if DatasetUse.EVAL not in dataset_uses:
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
    return CheckOutcome(
        name="metadata_complete",
        passed=passed,
        detail=detail[:1000],
        critical=False,
        observed={"missing": missing, "invalid": invalid},
    )


def check_rollback_target(
    version: ModelVersion,
    *,
    rollback_target: ModelVersion | None,
    approved_ids: list[int],
    dataset_uses: list[str],
) -> CheckOutcome:
    """When an approved version already exists, the request names one to roll back to."""
    if rollback_target is not None:
        if rollback_target.registered_model_id != version.registered_model_id:
            return CheckOutcome(
                "rollback_target",
                False,
                "The rollback target is a version of another model.",
                observed={"rollback_target": rollback_target.pk},
            )
        if rollback_target.pk not in approved_ids:
            return CheckOutcome(
                "rollback_target",
                False,
                f"The rollback target {rollback_target.version} is not an approved version.",
                observed={"rollback_target": rollback_target.pk, "approved": approved_ids},
            )
        return CheckOutcome(
            "rollback_target",
            True,
            f"Rolls back to {rollback_target.version}.",
            observed={"rollback_target": rollback_target.pk},
        )
    if approved_ids:
        return CheckOutcome(
            "rollback_target",
            False,
            "An approved version exists: name it (or another approved version) as the "
            "rollback target.",
            observed={"approved": approved_ids},
        )
    return CheckOutcome(
        "rollback_target",
        True,
        "First approval of this model: no prior version to roll back to.",
        observed={"approved": []},
    )


BASELINE_CHECKS: list[Callable[..., CheckOutcome]] = [
    check_metadata_complete,
    check_rollback_target,
]
