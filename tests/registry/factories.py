"""Factories for registry objects. ``complete_metadata`` gives a version that passes checks."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from core import permissions
from registry import semver, services
from registry.choices import DatasetUse, ModelKind, TokenScope
from registry.models import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    ServiceAccount,
    Team,
    VersionDataset,
)

User = get_user_model()
PASSWORD = "correct horse battery staple"


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisteredModel

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"model-{n}")
    kind = ModelKind.ADAPTER
    owner = factory.SubFactory(UserFactory)
    backup_owner = factory.SubFactory(UserFactory)
    escalation_contact = "oncall@example.test"


def complete_metadata(**overrides) -> dict:
    metadata = {
        "license": "apache-2.0",
        "allowed_use_cases": ["support drafting"],
        "prohibited_use_cases": ["medical advice"],
        "risk_rating": "medium",
        "mitigation_controls": ["human review"],
        "source_commit": "a" * 40,
        "dependency_lock_hash": sha256_of("lock"),
        "fine_tune_method": "lora",
        "base_model_reference": "hf://example/base@1",
    }
    metadata.update(overrides)
    return metadata


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version; pass ``state=`` to start elsewhere than draft (construction only)."""

    class Meta:
        model = ModelVersion
        skip_postgeneration_save = True

    registered_model = factory.SubFactory(RegisteredModelFactory)
    version = factory.Sequence(lambda n: f"1.{n}.0")
    version_core = factory.LazyAttribute(lambda o: semver.parse(o.version).core)
    semver_key = factory.LazyAttribute(lambda o: semver.parse(o.version).sort_key())
    checksum = factory.LazyAttribute(lambda o: sha256_of(f"{o.registered_model.name}{o.version}"))
    storage_uri = factory.LazyAttribute(
        lambda o: f"s3://models/{o.registered_model.name}/{o.version}/"
    )
    registered_by = factory.SelfAttribute("registered_model.owner")

    class Params:
        complete = factory.Trait(**complete_metadata())

    @factory.post_generation
    def datasets(obj, create, extracted, **kwargs):
        if create and extracted:
            for use in extracted:
                link_dataset(obj, use)


def link_dataset(version: ModelVersion, use: str) -> VersionDataset:
    team = version.registered_model.team
    dataset, _ = Dataset.objects.get_or_create(team=team, name=f"data-{use}")
    now = timezone.now()
    dataset_version, _ = DatasetVersion.objects.get_or_create(
        dataset=dataset,
        version="v1",
        defaults={"window_start": now - timedelta(days=60), "window_end": now - timedelta(days=1)},
    )
    return VersionDataset.objects.create(
        model_version=version, dataset_version=dataset_version, use=use
    )


def ready_version(**kwargs) -> ModelVersion:
    """A draft version whose metadata passes every baseline check."""
    return ModelVersionFactory(
        complete=True, datasets=[DatasetUse.TRAIN, DatasetUse.EVAL], **kwargs
    )


def service_account_with_token(
    *,
    teams: list[Team],
    scopes: list[str] | None = None,
    admin=None,
) -> tuple[ServiceAccount, str]:
    admin = admin or UserFactory(is_superuser=True)
    account = services.service_account_create(
        actor=admin, name=f"ci-{UserFactory._meta.model.objects.count()}", teams=teams
    )
    _, raw = services.api_token_issue(
        actor=admin,
        service_account=account,
        label="test",
        scopes=scopes or list(TokenScope.values),
        expires_at=timezone.now() + timedelta(days=1),
    )
    return account, raw


def move_account_to_another_team(account: ServiceAccount) -> None:
    """An administrator gives the account a new team in place of all of its own."""
    services.service_account_update(
        actor=UserFactory(is_superuser=True),
        account=account,
        teams=[TeamFactory()],
        description="",
        is_active=True,
    )


BOARD_VIEW_PERMISSIONS = ["view_promotionrequest", "view_modelversion", "view_registeredmodel"]


def approver(team: Team, *roles: str, **kwargs) -> User:
    """A board member: staff with the admin view permissions and the team's signing roles."""
    from django.contrib.auth.models import Permission

    user = UserFactory(**kwargs)
    user.user_permissions.add(*Permission.objects.filter(codename__in=BOARD_VIEW_PERMISSIONS))
    for role in roles:
        permissions.grant_team_role(user, permissions.role_permission(role), team)
    return user


def team_member(team: Team, *permission_names: str, **kwargs) -> User:
    """A person holding the given team object permissions (e.g. ``"manage_governance"``)."""
    user = UserFactory(**kwargs)
    roles = {role.partition(".")[2]: role for role in permissions.team_roles()}
    for name in permission_names:
        permissions.grant_team_role(user, roles[name], team)
    return user


def manager(team: Team, **kwargs) -> User:
    """A governance manager of ``team`` (team role ``registry.manage_governance``)."""
    return team_member(team, "manage_governance", **kwargs)
