"""Service accounts for CI and their API tokens (stored as hashes, shown once)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.historical_records import GovernanceHistory
from registry.validators import validate_slug_name


class ServiceAccount(models.Model):
    """A non-human caller (a CI pipeline). Acts as its own user; limited to its teams."""

    name = models.CharField(max_length=100, unique=True, validators=[validate_slug_name])
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_account"
    )
    teams = models.ManyToManyField("registry.Team", related_name="service_accounts")
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory(m2m_fields=[teams])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token. Only its sha256 is stored; the secret is shown once at creation.

    Tokens have the form ``gbt_<prefix>_<secret>``; the prefix identifies the token in logs
    and the admin without revealing it.
    """

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="tokens"
    )
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Actions this token may perform.")
    team_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Teams this token is limited to (a subset of the account's); empty: all of "
        "the account's teams.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = GovernanceHistory(excluded_fields=["token_hash"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.service_account.name}/{self.label} ({self.prefix})"

    def is_usable(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class IdempotencyKey(models.Model):
    """The stored answer to a write sent with an ``Idempotency-Key`` header.

    Unique per caller and key in the database, so concurrent retries cannot both act: the
    same key with the same payload replays the stored answer; with another payload it is
    refused (422).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
