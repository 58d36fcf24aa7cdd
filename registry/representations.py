"""How a version reads to every interface (the registry's API, the approvals API): one
representation, imported by both instead of one app's API importing another's.

``VersionSerializer`` declares the fields (the OpenAPI schema reads them); the reading itself
is ``version_representation``, written out by hand (issue 14): DRF building a model
serializer's fields on every response was a fifth of a registration's CPU. Its output is the
declared fields' output exactly (a test compares them). ``VERSION_COLUMNS`` are the columns
it reads, for querysets that load only those.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from registry.models import ModelVersion

#: Built once: how every datetime of the representation is written (ISO 8601, ``Z``).
_DATETIME = serializers.DateTimeField()

#: The columns ``version_representation`` reads (``QuerySet.only`` with
#: ``select_related("registered_model__team", "registered_by")``).
VERSION_COLUMNS = (
    "id",
    "registered_model__name",
    "registered_model__kind",
    "registered_model__team__slug",
    "version",
    "checksum",
    "storage_uri",
    "state",
    "base_model_version_id",
    "base_model_reference",
    "fine_tune_method",
    "license",
    "allowed_use_cases",
    "prohibited_use_cases",
    "risk_rating",
    "mitigation_controls",
    "source_commit",
    "dependency_lock_hash",
    "prompt_checksum",
    "registered_by__username",
    "created_at",
    "approved_at",
    "approval_expires_at",
)


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def version_representation(version: ModelVersion) -> dict[str, Any]:
    """A version as the API shows it (the fields of ``VersionSerializer``, in order)."""
    model = version.registered_model
    return {
        "id": version.pk,
        "team": model.team.slug,
        "model": model.name,
        "kind": model.kind,
        "version": version.version,
        "checksum": version.checksum,
        "storage_uri": version.storage_uri,
        "state": version.state,
        "base_model_version": version.base_model_version_id,
        "base_model_reference": version.base_model_reference,
        "fine_tune_method": version.fine_tune_method,
        "license": version.license,
        "allowed_use_cases": version.allowed_use_cases,
        "prohibited_use_cases": version.prohibited_use_cases,
        "risk_rating": version.risk_rating,
        "mitigation_controls": version.mitigation_controls,
        "source_commit": version.source_commit,
        "dependency_lock_hash": version.dependency_lock_hash,
        "prompt_checksum": version.prompt_checksum,
        "registered_by": version.registered_by.username,
        "created_at": _when(version.created_at),
        "approved_at": _when(version.approved_at),
        "approval_expires_at": _when(version.approval_expires_at),
    }


class VersionSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="registered_model.team.slug")
    model = serializers.CharField(source="registered_model.name")
    kind = serializers.CharField(source="registered_model.kind")
    registered_by = serializers.CharField(source="registered_by.username")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "team",
            "model",
            "kind",
            "version",
            "checksum",
            "storage_uri",
            "state",
            "base_model_version",
            "base_model_reference",
            "fine_tune_method",
            "license",
            "allowed_use_cases",
            "prohibited_use_cases",
            "risk_rating",
            "mitigation_controls",
            "source_commit",
            "dependency_lock_hash",
            "prompt_checksum",
            "registered_by",
            "created_at",
            "approved_at",
            "approval_expires_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: ModelVersion) -> dict[str, Any]:
        return version_representation(instance)
