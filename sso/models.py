"""Single sign-on records: who an IdP subject is here, which IdP group gives which team role,
which grants and group memberships the mapping made (so SSO never removes a manual one), and
which accounts may still sign in with a password (break-glass)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.historical_records import GovernanceHistory
from core.team_roles import team_role_choices


class SsoIdentity(models.Model):
    """An identity provider's subject (``iss`` + ``sub``) bound to one govboard user.

    Users are matched by this pair only, never by e-mail address or username, so an IdP
    account cannot take over a local account that happens to share its address. ``groups``
    holds the IdP groups of the latest login, so a mapping changed in the admin is applied
    to its users at once instead of at their next login.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        verbose_name = "SSO identity"
        verbose_name_plural = "SSO identities"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="sso_identity_unique_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject})"


class GroupRoleMapping(models.Model):
    """Members of the IdP group ``idp_group`` hold ``permission`` on ``team``.

    Applied at every SSO login (and to known members when the mapping changes): grants it
    implies are made, grants it no longer implies are removed, both through the audited
    team role services.
    """

    idp_group = models.CharField(
        "IdP group", max_length=255, help_text="The group name exactly as the groups claim has it."
    )
    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    permission = models.CharField(max_length=64, choices=team_role_choices)
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        verbose_name = "IdP group → team role mapping"
        ordering = ["idp_group", "team__slug", "permission"]
        constraints = [
            models.UniqueConstraint(
                fields=["idp_group", "team", "permission"], name="sso_mapping_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.idp_group} → {self.permission.partition('.')[2]} on {self.team}"


class SsoRoleGrant(models.Model):
    """A team role that the group mapping granted (and so may take away again).

    A role the user already held when the mapping would have granted it is a manual grant
    and gets no row here: SSO never revokes it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_role_grants"
    )
    team = models.ForeignKey("registry.Team", on_delete=models.CASCADE, related_name="+")
    permission = models.CharField(max_length=64, choices=team_role_choices)
    idp_group = models.CharField("IdP group", max_length=255)
    granted_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        verbose_name = "role granted by SSO"
        verbose_name_plural = "roles granted by SSO"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team", "permission"], name="sso_grant_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.permission} on {self.team} (from {self.idp_group})"


class SsoGroupMembership(models.Model):
    """A Django group ("Board members", "Governance managers") SSO put the user in."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_group_memberships"
    )
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        verbose_name = "SSO group membership"
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="sso_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class BreakGlassAccount(models.Model):
    """A local account that may sign in with its password while SSO is on.

    For when the identity provider is down or misconfigured. Every password sign-in of such
    an account is an audit event; keep them few, with long random passwords in a safe.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass"
    )
    reason = models.CharField(max_length=500, help_text="Why this account exists, who holds it.")
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    class Meta:
        verbose_name = "break-glass account"

    def __str__(self) -> str:
        return str(self.user)
