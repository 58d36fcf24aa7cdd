"""Input and output shapes of the registry API. Writable fields are an explicit allow-list."""

from __future__ import annotations

import io
import json

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.api.serializers import AwareDateTimeField, StrictSerializer
from core.ids import IdField
from registry.choices import DatasetUse, EvidenceKind, FineTuneMethod, ModelKind, RiskRating
from registry.metadata import VERSION_METADATA_FIELDS
from registry.models import (
    Deployment,
    Evidence,
    ModelVersion,
    RegisteredModel,
    VersionDataset,
)
from registry.validators import SHA256_HEX, validate_label, validate_semver, validate_slug_name

User = get_user_model()


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs
        )


class RegisteredModelWriteSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    owner = UsernameField()
    backup_owner = UsernameField()
    escalation_contact = serializers.EmailField(max_length=254)
    description = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default=""
    )

    def validate(self, attrs):
        if attrs["owner"].pk == attrs["backup_owner"].pk:
            raise serializers.ValidationError({"backup_owner": ["must differ from the owner"]})
        return attrs


class RegisteredModelSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    owner = serializers.CharField(source="owner.username")
    backup_owner = serializers.CharField(source="backup_owner.username")

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "team",
            "name",
            "kind",
            "owner",
            "backup_owner",
            "escalation_contact",
            "description",
            "created_at",
        ]
        read_only_fields = fields


def _string_list() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=100, required=False
    )


#: What a registration names besides its metadata: the model, and the version's identity.
REGISTRATION_COORDINATES = ("team", "model", "version", "checksum")


class VersionRegisterSerializer(StrictSerializer, serializers.ModelSerializer):
    """A registration: model coordinates, version identity, and the metadata CI knows."""

    team = serializers.CharField(max_length=100, validators=[validate_slug_name])
    model = serializers.CharField(max_length=100, validators=[validate_slug_name])
    version = serializers.CharField(max_length=128, validators=[validate_semver])
    checksum = serializers.RegexField(
        SHA256_HEX,
        max_length=64,
        error_messages={
            "invalid": "A sha256 checksum is exactly 64 lowercase hexadecimal characters."
        },
    )
    storage_uri = serializers.CharField(max_length=1024)
    base_model_version = IdField(required=False)
    base_model_reference = serializers.CharField(max_length=300, required=False, allow_blank=True)
    fine_tune_method = serializers.ChoiceField(choices=FineTuneMethod.choices, required=False)
    license = serializers.CharField(max_length=100, required=False, allow_blank=True)
    allowed_use_cases = _string_list()
    prohibited_use_cases = _string_list()
    risk_rating = serializers.ChoiceField(choices=RiskRating.choices, required=False)
    mitigation_controls = _string_list()
    source_commit = serializers.CharField(max_length=64, required=False, allow_blank=True)
    dependency_lock_hash = serializers.CharField(max_length=64, required=False, allow_blank=True)
    prompt_checksum = serializers.CharField(max_length=64, required=False, allow_blank=True)

    class Meta:
        model = ModelVersion

    def get_field_names(self, declared_fields, info):
        """The coordinates, then exactly the registration service's metadata list
        (``registry.metadata.VERSION_METADATA_FIELDS``), not a list of its own: a field
        declared above only says how the API reads a listed field (stricter than the model
        column), a listed field not declared is built from the ``ModelVersion`` field, and
        a declared field the list does not name is not accepted."""
        return [*REGISTRATION_COORDINATES, *VERSION_METADATA_FIELDS]


class EvidenceSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username")

    class Meta:
        model = Evidence
        fields = [
            "id",
            "version",
            "kind",
            "media_type",
            "client_filename",
            "sha256",
            "size",
            "uploaded_by",
            "uploaded_at",
        ]
        read_only_fields = fields


class EvidenceMultipartUploadSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    file = serializers.FileField(allow_empty_file=False)
    sha256 = serializers.RegexField(SHA256_HEX, required=False)


class EvidenceJSONUploadSerializer(StrictSerializer):
    """Evidence sent inline as JSON; it is stored as canonical JSON bytes."""

    kind = serializers.ChoiceField(choices=EvidenceKind.choices)
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True)
    content = serializers.JSONField()
    sha256 = serializers.RegexField(SHA256_HEX, required=False)

    def validate_content(self, value):
        if not isinstance(value, dict | list):
            raise serializers.ValidationError("content must be a JSON object or array.")
        return value

    def content_stream(self) -> io.BytesIO:
        payload = json.dumps(
            self.validated_data["content"], sort_keys=True, separators=(",", ":")
        ).encode()
        return io.BytesIO(payload)


class DeploymentSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username")
    team = serializers.CharField(source="version.registered_model.team.slug")
    model = serializers.CharField(source="version.registered_model.name")
    model_version = serializers.CharField(source="version.version")

    class Meta:
        model = Deployment
        fields = [
            "id",
            "version",
            "release",
            "team",
            "model",
            "model_version",
            "environment",
            "ring",
            "customer_scope",
            "started_at",
            "ended_at",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class DeploymentWriteSerializer(StrictSerializer):
    version = IdField()
    release = IdField(
        required=False, allow_null=True, default=None, help_text="Required with a ring."
    )
    environment = serializers.SlugField(max_length=64)
    ring = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    customer_scope = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField(required=False, allow_null=True, default=None)


class DeploymentEndSerializer(StrictSerializer):
    ended_at = AwareDateTimeField()


class DatasetLinkWriteSerializer(StrictSerializer):
    dataset = serializers.CharField(max_length=100, validators=[validate_slug_name])
    version = serializers.CharField(max_length=100, validators=[validate_label])
    use = serializers.ChoiceField(choices=DatasetUse.choices)
    window_start = AwareDateTimeField()
    window_end = AwareDateTimeField()
    uri = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")
    checksum = serializers.RegexField(SHA256_HEX, required=False, allow_blank=True, default="")
    license = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class DatasetLinkSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset_version.dataset.name")
    version = serializers.CharField(source="dataset_version.version")
    window_start = serializers.DateTimeField(source="dataset_version.window_start")
    window_end = serializers.DateTimeField(source="dataset_version.window_end")
    uri = serializers.CharField(source="dataset_version.uri")
    checksum = serializers.CharField(source="dataset_version.checksum")
    license = serializers.CharField(source="dataset_version.license")

    class Meta:
        model = VersionDataset
        fields = [
            "id",
            "dataset",
            "version",
            "use",
            "window_start",
            "window_end",
            "uri",
            "checksum",
            "license",
        ]
        read_only_fields = fields
