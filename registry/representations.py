"""How a version reads to every interface (the registry's API, the approvals API): one
representation, imported by both instead of one app's API importing another's."""

from __future__ import annotations

from rest_framework import serializers

from registry.models import ModelVersion


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
