"""A real OpenID Connect provider for the SSO tests, and a browser-less driver for the
authorization-code flow.

The provider (``tests/sso/provider/``) is django-oauth-toolkit in OIDC mode, in a second
Django process (``manage.py runserver --noreload``) on a free 127.0.0.1 port, with its own
SQLite file in a temporary folder and an RS256 key generated here. govboard's side is
driven with Django's test client; the provider's with ``requests``, following its
redirects and posting its login form like a browser would.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "govboard-test-client"
CLIENT_SECRET = "govboard-test-client-secret-0123456789"
#: govboard as the test client serves it (the provider only ever redirects there).
GOVBOARD = "http://127.0.0.1"
PASSWORD = "provider password 1"
#: Every person the provider knows, and their IdP groups. Tests that change a person's
#: groups or sessions use a person no other test uses.
PEOPLE = {
    "alice": ["gov-security", "gov-managers", "unmapped-group"],
    "bob": ["gov-security"],
    "carol": ["gov-security", "gov-managers"],
    "dave": ["gov-security"],
    "erin": ["gov-security"],
    "frank": ["gov-security"],
    "grace": ["gov-platform"],
    "heidi": ["gov-security"],
    "ivan": ["gov-security"],
    "judy": ["gov-security"],
    "mallory": ["gov-security"],
    "oscar": ["gov-security"],
    "peggy": ["gov-security"],
    "trent": ["gov-security"],
    "kate": ["gov-security"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Provider:
    """The running provider: its address, database and a driver for its pages."""

    base_url: str
    database: Path
    process: subprocess.Popen
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    #: Whether the last ``authorize`` had to post the provider's login form.
    asked_for_credentials: bool = False

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/o"

    def settings(self, *, token_endpoint: str | None = None) -> dict[str, str]:
        """govboard's OIDC settings for this provider."""
        return {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.issuer}/authorize/",
            "OIDC_OP_TOKEN_ENDPOINT": token_endpoint or f"{self.issuer}/token/",
            "OIDC_OP_USER_ENDPOINT": f"{self.issuer}/userinfo/",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.issuer}/.well-known/jwks.json",
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_RP_SCOPES": "openid email profile groups",
            "GOVBOARD_SSO_PROVIDER_NAME": "Test IdP",
        }

    def browser(self, username: str) -> requests.Session:
        """The person's browser at the provider (its session cookie is kept between calls)."""
        return self.sessions.setdefault(username, requests.Session())

    def authorize(self, url: str, *, username: str, password: str = PASSWORD) -> str:
        """Follow the provider's pages from an authorization URL, signing in when its login
        form appears, until it redirects back to govboard; returns that URL."""
        browser = self.browser(username)
        self.asked_for_credentials = False
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.status_code == 200 and "csrfmiddlewaretoken" in response.text:
                self.asked_for_credentials = True
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
                response = browser.post(
                    response.url,
                    data={
                        "csrfmiddlewaretoken": token.group(1),
                        "username": username,
                        "password": password,
                        "next": parse_qs(urlsplit(response.url).query).get("next", [""])[0],
                    },
                    allow_redirects=False,
                    timeout=10,
                )
            assert response.status_code == 302, (response.status_code, response.text[:500])
            location = response.headers["Location"]
            if location.startswith("/"):
                location = f"{self.base_url}{location}"
            if not location.startswith(self.base_url):
                return location
            url = location
        raise AssertionError("the provider never redirected back")

    def sql(self, statement: str, *parameters: object) -> None:
        with sqlite3.connect(self.database, timeout=20) as connection:
            connection.execute(statement, parameters)

    def remove_from_group(self, username: str, group: str) -> None:
        self.sql(
            "DELETE FROM auth_user_groups WHERE user_id = "
            "(SELECT id FROM auth_user WHERE username = ?) AND group_id = "
            "(SELECT id FROM auth_group WHERE name = ?)",
            username,
            group,
        )

    def backdate_login(self, username: str, seconds: int) -> None:
        """Make the person's provider sign-in (its auth_time) ``seconds`` old."""
        self.sql(
            "UPDATE auth_user SET last_login = datetime('now', ?) WHERE username = ?",
            f"-{seconds} seconds",
            username,
        )


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Provider:
    folder = tmp_path_factory.mktemp("oidc-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = folder / "rs256.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    database = folder / "provider.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "OIDC_", "GOVBOARD_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.sso.provider.settings",
        SSO_PROVIDER_DB=str(database),
        SSO_PROVIDER_KEY_FILE=str(key_file),
        SSO_PROVIDER_ISSUER=f"{base_url}/o",
        PYTHONPATH=str(ROOT),
    )
    spec = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [f"{GOVBOARD}/sso/callback/", f"{GOVBOARD}/sso/reauth/callback/"],
        "users": [
            {"username": name, "password": PASSWORD, "groups": groups}
            for name, groups in PEOPLE.items()
        ],
    }
    subprocess.run(
        [sys.executable, "-m", "tests.sso.provider.seed", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    log = (folder / "provider.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    provider = Provider(base_url=base_url, database=database, process=process)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{provider.issuer}/.well-known/jwks.json", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((folder / "provider.log").read_text())
        time.sleep(0.2)
    yield provider
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """SSO on, pointed at the test provider."""
    for name, value in oidc_provider.settings().items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def govboard() -> Client:
    """A browser at govboard, as the test client (host 127.0.0.1)."""
    return Client(SERVER_NAME="127.0.0.1")


def back_to_govboard(client: Client, url: str):
    """Deliver the provider's redirect (an absolute govboard URL) with the test client."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == GOVBOARD, url
    return client.get(f"{parts.path}?{parts.query}")


def sso_login(client: Client, provider: Provider, username: str):
    """The whole login: govboard → provider (sign in) → govboard callback. Returns the
    callback's response."""
    start = client.get("/sso/login/", {"next": "/admin/"})
    assert start.status_code == 302, start
    return back_to_govboard(client, provider.authorize(start["Location"], username=username))
