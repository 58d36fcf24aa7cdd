"""Fixtures of the CLI tests: a live server with a team and a CI token, an in-process
runner of ``govboard_cli.main``, a stub HTTP server for answers the real one rarely gives,
and a Python with nothing installed to run the client as a pipeline does."""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import govboard_cli as cli
from approvals.models import GovernancePolicy
from tests.registry.factories import TeamFactory, UserFactory, service_account_with_token


@pytest.fixture
def ci(live_server, monkeypatch, tmp_path, settings):
    """A team, its owners, a CI token in GOVBOARD_TOKEN, and the live server's URL."""
    # Decision records are signed: a fixed test-only Ed25519 seed (base64 of 32 bytes).
    settings.GOVBOARD_SIGNING_KEY = base64.b64encode(bytes(range(32))).decode()
    # Transactional tests flush the seeded default policy between tests: re-seed it.
    GovernancePolicy.objects.get_or_create(
        is_default=True,
        defaults={
            "name": "default",
            "version": 1,
            "required_roles": {"platform": 1, "product": 1, "security": 1},
            "approval_validity_days": 90,
        },
    )
    team = TeamFactory(slug="assistants")
    UserFactory(username="oliver")
    UserFactory(username="bea")
    account, token = service_account_with_token(teams=[team])
    monkeypatch.setenv("GOVBOARD_TOKEN", token)
    monkeypatch.delenv("GOVBOARD_URL", raising=False)
    artifact = tmp_path / "adapter.safetensors"
    artifact.write_bytes(b"weights v1")
    return SimpleNamespace(
        url=live_server.url, token=token, team=team, account=account, artifact=artifact
    )


@pytest.fixture
def run(capsys):
    """Run the CLI in-process: (exit code, parsed stdout JSON or None, stderr text)."""

    def _run(*args: str) -> tuple[int, object, str]:
        code = cli.main(list(args))
        captured = capsys.readouterr()
        try:
            data = json.loads(captured.out) if captured.out.strip() else None
        except ValueError:
            data = captured.out
        return code, data, captured.err

    return _run


class _StubHandler(http.server.BaseHTTPRequestHandler):
    responses: list[tuple[int, str, bytes]] = []
    seen: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, content_type, payload = type(self).responses.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub(monkeypatch) -> Iterator[SimpleNamespace]:
    _StubHandler.responses = []
    _StubHandler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GOVBOARD_TOKEN", "gbt_stub_secret")
    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{server.server_address[1]}",
            responses=_StubHandler.responses,
            seen=_StubHandler.seen,
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> Path:
    """A fresh Python 3.11 with no package at all: a venv made without pip from the base
    interpreter (no system site-packages, so no Django, Celery or PyYAML)."""
    home = tmp_path_factory.mktemp("bare-python")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run(
        [base, "-m", "venv", "--without-pip", str(home)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return home / "bin" / "python3"
