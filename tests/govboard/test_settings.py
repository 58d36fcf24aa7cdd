"""Production settings fail fast on a missing or weak secret, and pass Django's deploy
checks with no warning once configured."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k7#Qp2!vX9@mL4$wR8^tZ1&nB6*cF3(hJ5)dG0-sY2+eU7=aI4_oP9~"
GOOD_SIGNING_KEY = base64.b64encode(bytes(range(32))).decode()


def production_env(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GOVBOARD_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "govboard.settings.production",
        "SECRET_KEY": GOOD_SECRET,
        "ALLOWED_HOSTS": "govboard.example.test",
        "GOVBOARD_SIGNING_KEY": GOOD_SIGNING_KEY,
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_import_when_every_secret_is_set(tmp_path):
    # Given a complete production environment / When Django starts
    result = import_settings(production_env(tmp_path))

    # Then it starts
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "The environment variable SECRET_KEY must be set."),
        ({"SECRET_KEY": ""}, "The environment variable SECRET_KEY must be set."),
        ({"SECRET_KEY": "short-secret"}, "SECRET_KEY must be a real secret"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be a real secret"),
        ({"SECRET_KEY": "local-" + "x" * 60}, "SECRET_KEY must be a real secret"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must list the host names"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS must list the host names"),
        ({"GOVBOARD_SIGNING_KEY": None}, "GOVBOARD_SIGNING_KEY must be set"),
        ({"GOVBOARD_SIGNING_KEY": "not base64!"}, "GOVBOARD_SIGNING_KEY must be base64"),
        (
            {"GOVBOARD_SIGNING_KEY": base64.b64encode(b"x" * 31).decode()},
            "GOVBOARD_SIGNING_KEY must be base64 of a 32-byte seed",
        ),
    ],
    ids=[
        "no-secret",
        "empty-secret",
        "short-secret",
        "insecure-secret",
        "local-secret",
        "no-hosts",
        "blank-hosts",
        "no-signing-key",
        "malformed-signing-key",
        "short-signing-key",
    ],
)
def test_production_settings_refuse_to_start_without_a_real_secret(tmp_path, overrides, message):
    # Given a production environment with one secret missing or weak
    env = production_env(tmp_path, **overrides)

    # When Django starts
    result = import_settings(env)

    # Then it exits non-zero, saying what is wrong
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_deploy_checks_pass_with_no_warning_under_production_settings(tmp_path):
    # Given a complete production environment
    env = production_env(tmp_path)

    # When Django's deployment checks run, failing on any warning
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # Then they pass with no issue
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
