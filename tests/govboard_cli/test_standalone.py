"""The client runs as a pipeline runs it: in a Python with nothing installed.

``bare_python`` is a fresh venv made without pip (no Django, no Celery, nothing), and the
client is only the ``govboard_cli/`` folder copied into a directory, as docs/ci/README.md
tells a pipeline to vendor it. The folder alone must import, print its help, and talk to a
live server with the exit codes CI branches on; so must the single-file ``govboard.pyz``
built with the guide's own lines. A static check keeps every import in the package to the
standard library, so a server import cannot creep back in unnoticed.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import govboard_cli as cli
from tests.govboard_cli.support import CLIENT_PACKAGE, register_args, vendor_client

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "ci" / "README.md"


@pytest.fixture
def pipeline_repo(tmp_path) -> Path:
    """A pipeline's checkout holding nothing but the vendored client."""
    repository = tmp_path / "pipeline-repo"
    repository.mkdir()
    vendor_client(repository)
    return repository


def _run(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run with a minimal environment: no PYTHONPATH, no virtualenv, no proxies."""
    base_env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        command,
        cwd=cwd,
        env={**base_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _without_url(args: list[str]) -> list[str]:
    index = args.index("--url")
    return args[:index] + args[index + 2 :]


# ---------------------------------------------------------------------- the interpreter
@pytest.mark.parametrize("module", ["django", "celery", "rest_framework", "yaml", "govboard"])
def test_the_bare_interpreter_cannot_import_the_server_or_its_dependencies(
    bare_python, pipeline_repo, module
):
    result = _run([str(bare_python), "-c", f"import {module}"], cwd=pipeline_repo)

    assert result.returncode == 1
    assert f"ModuleNotFoundError: No module named '{module}'" in result.stderr


def test_importing_the_client_loads_only_the_standard_library(bare_python, pipeline_repo):
    script = (
        "import json, sys; import govboard_cli; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules} "
        "- set(sys.stdlib_module_names) - {'govboard_cli', '__main__'})))"
    )

    result = _run([str(bare_python), "-c", script], cwd=pipeline_repo)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_every_import_in_the_package_is_standard_library_or_its_own():
    found = []
    for path in sorted(CLIENT_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "govboard_cli":
                    found.append(f"{path.relative_to(CLIENT_PACKAGE.parent)}:{node.lineno} {name}")

    assert found == [], "govboard_cli must import only the standard library: " + ", ".join(found)


# ---------------------------------------------------------------------- the vendored folder
def test_python_m_govboard_cli_prints_its_help_with_every_exit_code(bare_python, pipeline_repo):
    result = _run([str(bare_python), "-m", "govboard_cli", "--help"], cwd=pipeline_repo)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: govboard ")
    for number in cli.EXIT_CODES:
        assert f"  {number}  " in result.stdout


def test_python_m_govboard_cli_talks_to_a_live_server_with_the_exit_codes(
    ci, bare_python, pipeline_repo
):
    env = {"GOVBOARD_URL": ci.url, "GOVBOARD_TOKEN": ci.token}
    client = [str(bare_python), "-m", "govboard_cli"]

    registered = _run(
        [*client, "--json", *_without_url(register_args(ci))], cwd=pipeline_repo, env=env
    )

    assert registered.returncode == cli.EXIT_OK, registered.stderr
    version = json.loads(registered.stdout)
    assert version["state"] == "draft"
    assert registered.stderr == ""

    pending = _run([*client, "status", "--version", str(version["id"])], cwd=pipeline_repo, env=env)
    assert pending.returncode == cli.EXIT_PENDING, pending.stderr
    assert "no promotion request yet" in pending.stderr

    missing = _run([*client, "status", "--version", "999999"], cwd=pipeline_repo, env=env)
    assert missing.returncode == cli.EXIT_NOT_FOUND, missing.stderr

    refused = _run(
        [*client, "status", "--version", str(version["id"])],
        cwd=pipeline_repo,
        env={**env, "GOVBOARD_TOKEN": "gbt_nothere_notasecret"},
    )
    assert refused.returncode == cli.EXIT_AUTH
    assert "gbt_nothere_notasecret" not in refused.stdout + refused.stderr

    usage = _run([*client, "status"], cwd=pipeline_repo, env=env)
    assert usage.returncode == cli.EXIT_USAGE


# ---------------------------------------------------------------------- the single file
def _guide_zipapp_lines() -> list[str]:
    """The shell block of docs/ci/README.md that builds govboard.pyz."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    found = [block for block in blocks if "zipapp" in block]
    assert len(found) == 1, "docs/ci/README.md: one ```sh block builds govboard.pyz"
    return [line for line in found[0].splitlines() if line.strip()]


def test_the_guides_single_file_govboard_pyz_builds_and_runs_in_a_bare_python(
    ci, bare_python, pipeline_repo
):
    # `python3` in the guide's lines is the bare interpreter (first on PATH).
    path = f"{bare_python.parent}:/usr/bin:/bin"
    built = _run(
        ["bash", "-e", "-c", "\n".join(_guide_zipapp_lines())],
        cwd=pipeline_repo,
        env={"PATH": path},
    )

    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("usage: govboard ")
    pyz = pipeline_repo / "govboard.pyz"
    assert pyz.is_file()

    # The file alone, anywhere: no folder next to it.
    elsewhere = pipeline_repo.parent / "elsewhere"
    elsewhere.mkdir()
    moved = pyz.rename(elsewhere / "govboard.pyz")
    env = {"GOVBOARD_URL": ci.url, "GOVBOARD_TOKEN": ci.token}
    registered = _run(
        [str(bare_python), str(moved), "--json", *_without_url(register_args(ci))],
        cwd=elsewhere,
        env=env,
    )
    assert registered.returncode == cli.EXIT_OK, registered.stderr
    version = json.loads(registered.stdout)

    pending = _run(
        [str(bare_python), str(moved), "status", "--version", str(version["id"])],
        cwd=elsewhere,
        env=env,
    )
    assert pending.returncode == cli.EXIT_PENDING, pending.stderr

    missing = _run(
        [str(bare_python), str(moved), "status", "--request", "999999"], cwd=elsewhere, env=env
    )
    assert missing.returncode == cli.EXIT_NOT_FOUND
