"""The scale world of issue 14, shared by ``bench/seed_scale.py`` (which builds it) and
``bench/reads.py`` (which reads it): teams, the people who use the pages, a read token,
and per version index the rows the services would have written for it.

Not a test. The layout is a pure function of the version index ``i`` (0-based, global), so
a seed can grow an existing world (2,000 versions, then up to 100,000) without reading it
back, and the proportions stay the same at every size:

- model ``i // VERSIONS_PER_MODEL`` of team ``team_index(model)`` (every team gets requests
  in review); version ``1.<i % 20>.0``;
- versions with ``i % 20 < 15`` are approved, the rest candidates (two history rows and
  two audit events each: registered, then the transition);
- ``i % 25 < 4`` has a promotion request (16 %): approved with the board's three
  sign-offs on an approved version, in review with none or one (platform) otherwise;
- ``i % 50 == 0`` is pinned by a release (2 %), deployed twice (prod and staging);
- ``i % 500 == 0`` has an incident on that release (0.2 %).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEAMS = 10
VERSIONS_PER_MODEL = 20
REQUEST_EVERY, REQUESTS_PER = 25, 4
RELEASE_EVERY = 50
INCIDENT_EVERY = 500
CUSTOMERS = 50
BOARD_ROLES = ("platform", "product", "security")
#: The persona's board role: the one an open request of this world still needs.
APPROVER_ROLE = "security"
MODEL_PREFIX = "scale-m"


def setup_django() -> None:
    """Django with the test settings (fast password hashing), as the other benches."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.test")
    os.environ.setdefault("GOVBOARD_WARN_NOT_TAMPER_RESISTANT", "0")
    os.environ.setdefault("GOVBOARD_API_RATE", "1000000/min")  # reads.py must not be throttled
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host, in-memory email


def is_approved(i: int) -> bool:
    return i % VERSIONS_PER_MODEL < 15


def has_request(i: int) -> bool:
    return i % REQUEST_EVERY < REQUESTS_PER


def has_release(i: int) -> bool:
    return i % RELEASE_EVERY == 0


def has_incident(i: int) -> bool:
    return i % INCIDENT_EVERY == 0


def team_index(model_index: int) -> int:
    # Not ``model % TEAMS``: the models with requests in review are every fifth one, which
    # that would put on two teams only.
    return (model_index + model_index // 10) % TEAMS


def model_name(model_index: int) -> str:
    return f"{MODEL_PREFIX}{model_index:06d}"


def version_text(i: int) -> str:
    return f"1.{i % VERSIONS_PER_MODEL}.0"


def checksum_of(i: int) -> str:
    import hashlib

    return hashlib.sha256(f"scale-version-{i}".encode()).hexdigest()


def world(create: bool = False) -> dict[str, Any]:
    """Teams, policy and people of the world (made when ``create``; read otherwise)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from approvals.apps import AUDITOR_GROUP, MANAGER_GROUP
    from registry.models import Team

    User = get_user_model()
    if not create:
        teams = list(Team.objects.filter(slug__startswith="scale-t").order_by("slug"))
        users = {u.username: u for u in User.objects.filter(username__startswith="scale-")}
        from approvals.models import GovernancePolicy

        return {
            "teams": teams,
            "policies": {
                p.name: p for p in GovernancePolicy.objects.filter(name__startswith="board-scale-")
            },
            "admin": users["scale-admin"],
            "approver": users["scale-approver"],
            "manager": users["scale-manager"],
            "auditor": users["scale-auditor"],
            "owner": users["scale-owner"],
            "backup": users["scale-backup"],
            "requester": users["scale-ci"],
            "signers": {role: users[f"scale-signer-{role}"] for role in BOARD_ROLES},
        }

    from tests.approvals.factories import board_policy
    from tests.conftest import reseed_governance_policies
    from tests.registry.admin.owner_scenario import owner_of
    from tests.registry.factories import TeamFactory, UserFactory, approver, manager

    reseed_governance_policies()
    teams = [TeamFactory(slug=f"scale-t{t:02d}", name=f"Scale team {t}") for t in range(TEAMS)]
    policies = {}
    for team in teams:
        policy = board_policy(team)  # platform, product and security, one each
        policies[policy.name] = policy
    admin = UserFactory(username="scale-admin", is_superuser=True)
    board = approver(teams[0], APPROVER_ROLE, username="scale-approver")
    for team in teams[1:]:
        from core import permissions

        permissions.grant_team_role(board, permissions.role_permission(APPROVER_ROLE), team)
    manager_user = manager(teams[0], username="scale-manager", is_staff=True)
    manager_user.groups.add(Group.objects.get(name=MANAGER_GROUP))
    auditor = UserFactory(username="scale-auditor", is_staff=True)
    auditor.groups.add(Group.objects.get(name=AUDITOR_GROUP))
    owner = owner_of(teams[0], username="scale-owner")
    owner.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_modelversion", "view_registeredmodel"])
    )
    signers = {}
    for role in BOARD_ROLES:
        signer = approver(teams[0], role, username=f"scale-signer-{role}")
        from core import permissions

        for team in teams[1:]:
            permissions.grant_team_role(signer, permissions.role_permission(role), team)
        signers[role] = signer
    return {
        "teams": teams,
        "policies": policies,
        "admin": admin,
        "approver": board,
        "manager": manager_user,
        "auditor": auditor,
        "owner": owner,
        "backup": UserFactory(username="scale-backup"),
        "requester": UserFactory(username="scale-ci"),
        "signers": signers,
    }


def read_token(people: dict[str, Any]) -> str:
    """A fresh read-scope token of a service account on every team (through the services:
    the raw secret is shown only once, so each reads.py run issues its own)."""
    from django.db import transaction
    from django.utils import timezone

    from registry.models import ServiceAccount
    from registry.services import accounts

    with transaction.atomic():
        account = ServiceAccount.objects.filter(name="scale-reader").first()
        if account is None:
            account = accounts.service_account_create(
                actor=people["admin"], name="scale-reader", teams=list(people["teams"])
            )
        _, raw = accounts.api_token_issue(
            actor=people["admin"],
            service_account=account,
            label="reads.py",
            scopes=["read"],
            expires_at=timezone.now() + timedelta(hours=2),
        )
    return raw


def world_exists() -> bool:
    from registry.models import Team

    return Team.objects.filter(slug="scale-t00").exists()


def versions_in_world() -> int:
    """How many versions the world holds (the next index to seed)."""
    from registry.models import ModelVersion

    return ModelVersion.objects.filter(registered_model__name__startswith=MODEL_PREFIX).count()
