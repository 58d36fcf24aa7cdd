"""Releases: a named, semver'd bundle of pinned component versions, the whole decision stack
(model, adapter, prompt, threshold/config policy, SDK, dataset version and the evaluation
report it was judged on), with the release notes a reviewer and an on-call engineer need.

A release is immutable once submitted: its components are append-only rows, and
``manifest_sha256`` is the digest of the canonical component list (with every pinned
artifact's checksum) taken at submission, so a later change anywhere in the stack is
detectable. Rings, monitoring and incidents hang off a release in ``approvals``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.historical_records import GovernanceHistory
from core.querysets import scoped_to
from registry.choices import ReleaseComponentKind, ReleaseState
from registry.validators import validate_semver, validate_slug_name


class Release(models.Model):
    """One release of a named decision stack, e.g. ``checkout-scoring 2.1.0``."""

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="releases")
    name = models.CharField(max_length=100, validators=[validate_slug_name])
    version = models.CharField(max_length=128, validators=[validate_semver])
    # Precedence ignores build metadata: ``version_core`` is unique per release name.
    version_core = models.CharField(max_length=128, editable=False)
    semver_key = models.CharField(max_length=400, editable=False)
    state = models.CharField(
        max_length=16, choices=ReleaseState.choices, default=ReleaseState.SUBMITTED
    )
    previous_release = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        help_text="The release of the same name this one is compared with (set at submission).",
    )

    # Release notes: every field is required at submission (the service refuses blanks).
    what_changed = models.TextField()
    why = models.TextField()
    data_used = models.TextField(help_text="Which data the release was trained and judged on.")
    channels_tested = models.JSONField(
        default=list, help_text='The channels tested, e.g. ["web", "mobile"].'
    )
    expected_benefits = models.TextField()
    known_risks = models.TextField()
    rollback_triggers = models.JSONField(
        default=list, help_text="The conditions on which the release is rolled back."
    )
    rollback_target = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The prior release to roll back to (or name a feature flag).",
    )
    rollback_feature_flag = models.CharField(max_length=200, blank=True)
    rollback_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    manifest = models.JSONField(
        default=list, editable=False, help_text="The canonical component list at submission."
    )
    manifest_sha256 = models.CharField(max_length=64, editable=False)
    change_categories = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Change categories detected against the previous release, each with why.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    objects = scoped_to("team")

    class Meta:
        ordering = ["team_id", "name", "-semver_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name", "version_core"], name="release_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(state__in=ReleaseState.values), name="release_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "name", "semver_key"]),
            models.Index(fields=["created_at", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class ReleaseComponent(models.Model):
    """One pinned component of a release. Exactly one of the three targets is set, as the
    kind says. Append-only: a release never changes once submitted."""

    governance_append_only = True

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="components")
    kind = models.CharField(max_length=24, choices=ReleaseComponentKind.choices)
    model_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="release_components",
    )
    dataset_version = models.ForeignKey(
        "registry.DatasetVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="release_components",
    )
    evaluation = models.ForeignKey(
        "registry.Evidence",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="release_components",
        help_text="The evaluation package the release was judged on.",
    )
    # What the component was at submission (checksum, version, state): the manifest entry.
    pinned = models.JSONField(default=dict, editable=False)

    class Meta:
        ordering = ["release_id", "id"]
        constraints = [
            models.CheckConstraint(
                name="release_component_one_target_for_kind",
                condition=(
                    Q(
                        kind__in=["model", "adapter", "prompt", "config", "sdk"],
                        model_version__isnull=False,
                        dataset_version__isnull=True,
                        evaluation__isnull=True,
                    )
                    | Q(
                        kind="dataset",
                        model_version__isnull=True,
                        dataset_version__isnull=False,
                        evaluation__isnull=True,
                    )
                    | Q(
                        kind="evaluation_report",
                        model_version__isnull=True,
                        dataset_version__isnull=True,
                        evaluation__isnull=False,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["release", "model_version"],
                condition=Q(model_version__isnull=False),
                name="release_component_version_once",
            ),
            models.UniqueConstraint(
                fields=["release", "dataset_version"],
                condition=Q(dataset_version__isnull=False),
                name="release_component_dataset_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of release {self.release_id}"
