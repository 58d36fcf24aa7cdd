"""The deployment files say what the code does: gunicorn's config keeps its control socket in
var/, the proxy header is configurable, and the compose file, systemd units and README name
only settings that exist."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.govboard.test_env_example import env_example_variables
from tests.govboard.test_settings import import_settings, production_env

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).with_name("gunicorn")

# Loads gunicorn.conf.py the way gunicorn does and prints the resulting settings.
LOAD_GUNICORN_CONFIG = """
import json, sys
from gunicorn.app.base import Application

class Probe(Application):
    def load_config(self):
        self.load_config_from_file(sys.argv[1])

    def load(self):
        raise AssertionError("not started")

cfg = Probe().cfg
print(json.dumps({name: cfg.settings[name].get() for name in sys.argv[2:]}))
"""


def gunicorn_config(tmp_path: Path, *names: str, **env: str) -> dict:
    """Settings from gunicorn.conf.py, loaded with a scratch HOME and XDG_RUNTIME_DIR (where
    gunicorn's own default would put the socket) and no GOVBOARD_VAR_DIR unless given."""
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "xdg").mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_RUNTIME_DIR": str(tmp_path / "xdg"),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", LOAD_GUNICORN_CONFIG, str(GUNICORN_CONF), *names],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gunicorn_control_socket_is_under_the_projects_var(tmp_path):
    # Given no GOVBOARD_VAR_DIR, and a HOME and XDG_RUNTIME_DIR gunicorn could default to
    # When gunicorn loads the project's config, from another working directory
    config = gunicorn_config(tmp_path, "control_socket", "control_socket_disable")

    # Then the control socket is in the project's var/, not in HOME or XDG_RUNTIME_DIR
    socket = Path(config["control_socket"])
    assert socket == ROOT / "var" / "run" / "gunicorn.ctl"
    assert socket.is_relative_to(ROOT / "var")
    assert config["control_socket_disable"] is False


def test_gunicorn_control_socket_follows_govboard_var_dir(tmp_path):
    # Given the deployment's var folder set for the settings
    var_dir = tmp_path / "state"

    # When gunicorn loads the config
    config = gunicorn_config(tmp_path, "control_socket", GOVBOARD_VAR_DIR=str(var_dir))

    # Then the socket goes there too
    assert Path(config["control_socket"]) == var_dir / "run" / "gunicorn.ctl"


def test_gunicorn_config_is_what_the_readme_documents(tmp_path):
    # Given the config with two CPUs' worth of workers asked for explicitly
    names = ["bind", "worker_class", "workers", "threads", "timeout", "keepalive"]
    config = gunicorn_config(tmp_path, *names, "wsgi_app", WEB_CONCURRENCY="3")

    # Then it has the values the Deployment section names
    assert config == {
        "bind": ["127.0.0.1:8000"],
        "worker_class": "gthread",
        "workers": 3,
        "threads": 4,
        "timeout": 30,
        "keepalive": 65,
        "wsgi_app": "govboard.wsgi:application",
    }
    readme = (ROOT / "README.md").read_text()
    assert "gunicorn -c gunicorn.conf.py" in readme
    assert "keep-alive 65 s" in readme
    assert "timeout 30 s" in readme


def test_a_running_gunicorn_creates_its_control_socket_in_var_and_nothing_in_home(tmp_path):
    # Given a trivial WSGI app, a scratch HOME and the deployment's var folder
    (tmp_path / "probe_app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
    )
    home, var_dir = tmp_path / "home", tmp_path / "var"
    home.mkdir()
    socket = var_dir / "run" / "gunicorn.ctl"

    # When gunicorn starts with the project's config
    process = subprocess.Popen(
        [str(GUNICORN), "-c", str(GUNICORN_CONF), "--bind", "127.0.0.1:0", "probe_app:app"],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GOVBOARD_VAR_DIR": str(var_dir),
            "WEB_CONCURRENCY": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        created = socket.is_socket()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    # Then the control socket was in var/run, HOME stayed empty, and gunicorn removed it on exit
    assert created, output
    assert list(home.iterdir()) == []
    assert not socket.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("HTTP_X_FORWARDED_PROTOCOL,ssl", "('HTTP_X_FORWARDED_PROTOCOL', 'ssl')"),
        ("off", "None"),
        ("OFF", "None"),
    ],
    ids=["default", "other-header", "off", "off-uppercase"],
)
def test_the_proxy_ssl_header_comes_from_the_environment(tmp_path, value, expected):
    # Given a production environment with SECURE_PROXY_SSL_HEADER set (or not)
    env = production_env(tmp_path, SECURE_PROXY_SSL_HEADER=value)

    # When the settings load
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(repr(settings.SECURE_PROXY_SSL_HEADER))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then Django trusts exactly that header
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize(
    "value",
    ["X-Forwarded-Proto,https", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PROTO,https,x", "a,b"],
    ids=["dashed-name", "no-value", "three-parts", "not-http"],
)
def test_a_malformed_proxy_ssl_header_refuses_to_start(tmp_path, value):
    # Given a production environment with a malformed SECURE_PROXY_SSL_HEADER
    env = production_env(tmp_path, SECURE_PROXY_SSL_HEADER=value)

    # When Django starts / Then it exits, saying what the value must look like
    result = import_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECURE_PROXY_SSL_HEADER must be 'HTTP_<HEADER>,<value>'" in result.stderr


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_runs_web_worker_beat_postgres_and_redis():
    services = load_compose()["services"]

    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "govboard", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "govboard", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # Only the host's loopback reaches gunicorn: the proxy in front of it sets the headers.
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in services["redis"] and "ports" not in services["postgres"]


def test_compose_redis_is_configured_as_a_broker():
    command = load_compose()["services"]["redis"]["command"]

    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert command[0] == "redis-server"
    assert flags["--maxmemory-policy"] == "noeviction"
    assert flags["--appendonly"] == "yes"


def test_compose_web_health_check_is_valid_python_probing_health():
    test = load_compose()["services"]["web"]["healthcheck"]["test"]

    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<healthcheck>", "exec")
    assert "/health/" in test[3] and "X-Forwarded-Proto" in test[3]


def test_compose_sets_only_variables_the_settings_read():
    environment = load_compose()["x-app"]["environment"]

    unknown = sorted(set(environment) - set(env_example_variables()))
    assert unknown == [], f"compose sets variables nothing reads: {unknown}"


def test_systemd_units_run_the_documented_commands():
    units = {}
    for path in sorted((ROOT / "deploy" / "systemd").glob("*.service")):
        parser = ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read_string(path.read_text())
        units[path.stem] = parser

    assert set(units) == {"govboard-migrate", "govboard-web", "govboard-worker", "govboard-beat"}
    assert units["govboard-web"]["Service"]["ExecStart"].endswith(
        "gunicorn -c /srv/govboard/gunicorn.conf.py"
    )
    assert " worker " in units["govboard-worker"]["Service"]["ExecStart"]
    assert units["govboard-beat"]["Service"]["ExecStart"].endswith("beat --loglevel=INFO")
    for name in ("govboard-web", "govboard-worker", "govboard-beat"):
        assert units[name]["Unit"]["Requires"] == "govboard-migrate.service"
        assert units[name]["Service"]["EnvironmentFile"] == "/etc/govboard/govboard.env"


def deployment_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Deployment\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def test_every_setting_the_deployment_docs_name_exists():
    # Given every upper-case name in backticks in the README's Deployment section
    names = set(re.findall(r"`\$?([A-Z][A-Z0-9_]{2,})`", deployment_section()))
    names |= set(re.findall(r"`([A-Z][A-Z0-9_]{2,})=", deployment_section()))
    assert "GOVBOARD_SIGNING_KEY" in names

    # Then each is a variable in .env.example or a Django setting (XDG_RUNTIME_DIR is named
    # only as gunicorn's own default for the control socket, which the config overrides)
    documented = set(env_example_variables()) | {"XDG_RUNTIME_DIR"}
    unknown = sorted(
        name for name in names if name not in documented and not hasattr(settings, name)
    )
    assert unknown == [], f"the Deployment section names settings that do not exist: {unknown}"
