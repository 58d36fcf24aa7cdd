"""Regenerate docs/screenshots/ (`make screenshots`): the landing pages of each kind of
user, the review page, the manager dashboard and a model card, taken in Debian's headless
Chromium from the demo `make run` serves.

It builds a throw-away embedded installation in a temporary directory (migrate, demo data
with fresh passwords), serves it with ``runserver`` on a free local port and signs in as
the demo people. Nothing is read from or written to the developer's own var/ directory.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOGIN_LINE = re.compile(r"^\s+(\w+)\s+(\S+)\s+", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def wait_until_serving(url: str, server: subprocess.Popen) -> None:
    for _ in range(120):
        if server.poll() is not None:
            raise SystemExit(f"runserver exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"{url}/health/", timeout=2)  # noqa: S310 (http to 127.0.0.1)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("runserver did not answer within a minute")


def shoot(url: str, passwords: dict[str, str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    taken = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def as_user(username: str):
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{url}/admin/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", passwords[username])
            page.click("input[type=submit]")
            page.wait_for_load_state("networkidle")
            return page

        def save(page, name: str) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            taken.append(path)

        # Each person's landing page is where the login takes them.
        for username, name in (
            ("priya", "landing-approver-awaiting-sign-off"),
            ("maria", "landing-manager-dashboard"),
            ("ada", "landing-auditor-audit-log"),
            ("oliver", "landing-owner-my-models"),
        ):
            page = as_user(username)
            save(page, name)
            if username == "priya":
                # The first request waiting for her is the review page a board member decides on.
                first = page.locator("a[href*='/promotionrequest/'][href$='/change/']").first
                if first.count():
                    first.click()
                    page.wait_for_load_state("networkidle")
                    save(page, "review-page")
            if username == "oliver":
                card = page.locator("a[href*='/model-card/']").first
                if card.count():
                    card.click()
                    page.wait_for_load_state("networkidle")
                    save(page, "model-card")
            page.context.close()
        browser.close()
    return taken


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="govboard-screens-") as var:
        env = {
            **os.environ,
            "GOVBOARD_VAR_DIR": var,
            "GOVBOARD_DEMO": "1",
            "DJANGO_SETTINGS_MODULE": "govboard.settings.local",
        }
        for name in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(name, None)  # the embedded default: SQLite and the filesystem broker
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env["GOVBOARD_PUBLIC_URL"] = url
        manage(env, "migrate", "--noinput", "-v0")
        passwords = dict(LOGIN_LINE.findall(manage(env, "load_demo").split("Demo logins", 1)[1]))
        server = subprocess.Popen(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_serving(url, server)
            taken = shoot(url, passwords)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for path in taken:
        print(path.relative_to(ROOT))
    expected = 6
    if len(taken) < expected:
        print(f"only {len(taken)} of {expected} screenshots were taken", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
