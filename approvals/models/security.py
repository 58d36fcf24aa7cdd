"""Keys and second factors: trusted provenance signers and per-user TOTP devices."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.historical_records import GovernanceHistory


class TrustedSigningKey(models.Model):
    """A public key whose DSSE provenance signatures the registry trusts (admin-managed)."""

    keyid = models.CharField(max_length=128, unique=True)
    public_key_pem = models.TextField(help_text="PEM SubjectPublicKeyInfo.")
    scheme = models.CharField(max_length=64, default="ed25519")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        ordering = ["keyid"]

    def __str__(self) -> str:
        return self.keyid

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from approvals.evidence.provenance import TrustedKey

        try:
            TrustedKey(keyid=self.keyid, public_key=self.public_key_pem, scheme=self.scheme)
        except ValueError as exc:
            raise ValidationError({"public_key_pem": [str(exc)]}) from exc


class TotpDevice(models.Model):
    """A user's RFC 6238 authenticator. ``last_used_step`` stops a code being replayed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64, help_text="Base32 shared secret.")
    confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id"]
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"TOTP device of {self.user_id}"
