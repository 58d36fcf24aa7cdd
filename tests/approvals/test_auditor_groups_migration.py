"""Approvals migration 0010: the "Auditors" group reads everything the admin shows, and a
"Team auditors" group opens the same pages for auditors of chosen teams."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from approvals.apps import AUDITOR_GROUP, TEAM_AUDITOR_GROUP, TEAM_AUDITOR_VIEW_PERMISSIONS

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("approvals.migrations.0010_auditor_group_reads_the_whole_admin")
SCHEMA_EDITOR = SimpleNamespace(connection=connection)


@pytest.fixture(scope="module")
def migration_apps():
    """The apps as the migration sees them (its functions change app configs' state, which
    must never be the live registry's)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return loader.project_state(("approvals", MIGRATION.__name__.rsplit(".", 1)[1])).apps


# Pages only superusers open, by their admin's design (service accounts and tokens: ADR
# 0012; the SSO mappings and grants: sso.admin.AdministratorsOnly).
ADMINISTRATORS_ONLY_APPS = {"sso"}
ADMINISTRATORS_ONLY_MODELS = {"registry.serviceaccount", "registry.apitoken"}


def held(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_the_auditor_group_holds_the_view_permission_of_every_model_the_admin_shows():
    shown = {
        f"{model._meta.app_label}.view_{model._meta.model_name}"
        for model in admin.site._registry
        if model._meta.app_label not in ADMINISTRATORS_ONLY_APPS
        and model._meta.label_lower not in ADMINISTRATORS_ONLY_MODELS
    }

    assert shown - held(AUDITOR_GROUP) == set()
    assert {"identity.view_loginlockout", "django_celery_beat.view_periodictask"} <= held(
        AUDITOR_GROUP
    )
    assert all(".view_" in permission for permission in held(AUDITOR_GROUP))


def test_the_team_auditor_group_opens_pages_but_sees_no_team_by_itself():
    permissions = held(TEAM_AUDITOR_GROUP)

    assert permissions == set(TEAM_AUDITOR_VIEW_PERMISSIONS)
    assert "registry.view_team_registry" not in permissions  # whose rows: the team role
    assert "audit.view_auditevent" in permissions


def test_reversing_removes_exactly_what_it_added_and_applying_again_restores_it(migration_apps):
    before = held(AUDITOR_GROUP)

    MIGRATION.undo_auditors_read_the_whole_admin(migration_apps, SCHEMA_EDITOR)

    assert not Group.objects.filter(name=TEAM_AUDITOR_GROUP).exists()
    assert before - held(AUDITOR_GROUP) == {
        p for p in before if p.split(".")[0] in MIGRATION.ADDED_APP_LABELS
    }
    MIGRATION.auditors_read_the_whole_admin(migration_apps, SCHEMA_EDITOR)
    assert held(AUDITOR_GROUP) == before
    assert held(TEAM_AUDITOR_GROUP) == set(TEAM_AUDITOR_VIEW_PERMISSIONS)


def test_a_deleted_auditor_group_is_not_recreated(migration_apps):
    Group.objects.filter(name=AUDITOR_GROUP).delete()

    MIGRATION.auditors_read_the_whole_admin(migration_apps, SCHEMA_EDITOR)

    assert not Group.objects.filter(name=AUDITOR_GROUP).exists()
