"""What exists: registered models, their versions, datasets and lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.historical_records import GovernanceHistory
from core.querysets import scoped_to
from registry.choices import DatasetUse, FineTuneMethod, ModelKind, RiskRating, VersionState
from registry.validators import (
    validate_git_commit,
    validate_label,
    validate_semver,
    validate_sha256,
    validate_slug_name,
    validate_storage_uri,
)

if TYPE_CHECKING:
    from registry.models.teams import Team


class RegisteredModel(models.Model):
    """A governed thing (model, adapter, prompt, config) with one accountable owner."""

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=100, validators=[validate_slug_name])
    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models"
    )
    backup_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="backup_owned_models"
    )
    escalation_contact = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    objects = scoped_to("team")

    class Meta:
        ordering = ["team__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="registered_model_unique_name"),
            models.CheckConstraint(
                condition=~Q(backup_owner=F("owner")), name="registered_model_backup_not_owner"
            ),
        ]
        # The audit log's search by model name matches exactly or by prefix (LIKE 'x%');
        # the pattern operator class lets PostgreSQL answer both from this index.
        indexes = [
            models.Index(
                fields=["name"], name="registered_model_name", opclasses=["varchar_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


class ModelVersion(ConcurrentTransitionMixin, models.Model):
    """One immutable artifact of a registered model, and where it is in its lifecycle.

    The lifecycle is ``draft → candidate → approved → deprecated → retired``. Transitions only
    set ``state``; ``registry.services`` locks the row, calls them, saves and audits.
    """

    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.PROTECT, related_name="versions"
    )
    version = models.CharField(max_length=128, validators=[validate_semver])
    # Precedence ignores build metadata: ``version_core`` is unique per model.
    version_core = models.CharField(max_length=128, editable=False)
    semver_key = models.CharField(max_length=400, editable=False, db_index=True)
    checksum = models.CharField(
        "sha256 checksum", max_length=64, validators=[validate_sha256], db_index=True
    )
    storage_uri = models.CharField(max_length=1024, validators=[validate_storage_uri])
    state = FSMField(
        max_length=16, choices=VersionState.choices, default=VersionState.DRAFT, protected=True
    )

    # Lineage: a registered base version, or a reference to an external base model.
    base_model_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_versions"
    )
    base_model_reference = models.CharField(max_length=300, blank=True)
    fine_tune_method = models.CharField(max_length=16, choices=FineTuneMethod.choices, blank=True)
    datasets = models.ManyToManyField(
        "registry.DatasetVersion", through="registry.VersionDataset", blank=True
    )

    license = models.CharField(max_length=100, blank=True)
    allowed_use_cases = models.JSONField(default=list, blank=True)
    prohibited_use_cases = models.JSONField(default=list, blank=True)
    risk_rating = models.CharField(max_length=16, choices=RiskRating.choices, blank=True)
    mitigation_controls = models.JSONField(default=list, blank=True)
    source_commit = models.CharField(max_length=64, blank=True, validators=[validate_git_commit])
    prompt_checksum = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_sha256],
        help_text="sha256 of the prompt/template this version serves with; evals made with "
        "another prompt are stale.",
    )
    dependency_lock_hash = models.CharField(max_length=64, blank=True, validators=[validate_sha256])
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text='The values a threshold / config version pins, e.g. {"decline_above": 0.82}.',
    )

    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    approval_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    deprecated_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = GovernanceHistory()

    objects = scoped_to("registered_model__team")

    class Meta:
        ordering = ["registered_model_id", "-semver_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version_core"], name="model_version_unique_core"
            ),
            models.CheckConstraint(
                condition=Q(state__in=VersionState.values), name="model_version_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(base_model_version=F("id")), name="model_version_not_own_base"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "approval_expires_at"]),
            # The search box's exact version ("1.4.0" across every model, registry.version_search).
            models.Index(fields=["version"], name="model_version_version"),
        ]

    def __str__(self) -> str:
        # People read versions by name ("fraud-scorer 1.1.0"), never by the model's id.
        # Lists that show versions select_related the registered model (no query per row).
        return f"{self.registered_model.name} {self.version}"

    @property
    def team(self) -> Team:  # core.permissions.team_of
        return self.registered_model.team

    # --- lifecycle: transitions only change ``state``; services do the rest -------------

    @transition(field=state, source=VersionState.DRAFT, target=VersionState.CANDIDATE)
    def mark_candidate(self) -> None:
        """draft → candidate: the policy's automated baseline checks passed."""

    @transition(field=state, source=VersionState.CANDIDATE, target=VersionState.DRAFT)
    def return_to_draft(self) -> None:
        """candidate → draft: the promotion was rejected, withdrawn or sent back."""

    @transition(field=state, source=VersionState.CANDIDATE, target=VersionState.APPROVED)
    def approve(self) -> None:
        """candidate → approved: signed by the policy's quorum."""

    @transition(
        field=state,
        source=[VersionState.CANDIDATE, VersionState.APPROVED],
        target=VersionState.DEPRECATED,
    )
    def deprecate(self) -> None:
        """candidate/approved → deprecated: replacement announced, new usage blocked."""
        self.deprecated_at = timezone.now()

    @transition(field=state, source=VersionState.DEPRECATED, target=VersionState.RETIRED)
    def retire(self) -> None:
        """deprecated → retired: no serving allowed; kept for audit."""

    approve.alters_data = True
    deprecate.alters_data = True
    retire.alters_data = True
    mark_candidate.alters_data = True
    return_to_draft.alters_data = True


class Dataset(models.Model):
    """A named dataset a team trains or evaluates on."""

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=100, validators=[validate_slug_name])
    description = models.TextField(blank=True)
    history = GovernanceHistory()

    objects = scoped_to("team")

    class Meta:
        ordering = ["team__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="dataset_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


class DatasetVersion(models.Model):
    """One snapshot of a dataset, covering data from ``window_start`` to ``window_end``."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=100, validators=[validate_label])
    checksum = models.CharField(max_length=64, blank=True, validators=[validate_sha256])
    uri = models.CharField(max_length=1024, blank=True, validators=[validate_storage_uri])
    license = models.CharField(
        max_length=100, blank=True, help_text="The licence the data is used under (SPDX id)."
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    history = GovernanceHistory()

    objects = scoped_to("dataset__team")

    class Meta:
        ordering = ["dataset_id", "-window_end"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "version"], name="dataset_version_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=F("window_end")), name="dataset_version_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}@{self.version}"

    @property
    def team(self) -> Team:  # core.permissions.team_of
        return self.dataset.team


class VersionDataset(models.Model):
    """Which dataset version a model version used, and for what (train or eval)."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="dataset_links"
    )
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="model_links"
    )
    use = models.CharField(max_length=8, choices=DatasetUse.choices)
    history = GovernanceHistory()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "dataset_version", "use"],
                name="version_dataset_unique_use",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_version_id} {self.use} {self.dataset_version_id}"
