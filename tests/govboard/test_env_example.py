""".env.example lists exactly the environment variables the code reads, each with a comment,
and its example values are ones the production settings accept."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path

from tests.govboard.test_settings import import_settings, production_env

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list"}
# Outside the settings package, these files read the environment before Django does.
ENTRY_POINTS = [
    ROOT / "manage.py",
    ROOT / "govboard" / "wsgi.py",
    ROOT / "govboard" / "asgi.py",
    ROOT / "govboard" / "celery.py",
    ROOT / "gunicorn.conf.py",
]
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _reads_the_environment(function: ast.AST) -> bool:
    """``env_str(...)`` and friends, ``os.environ.get/setdefault/pop(...)``, ``os.getenv(...)``."""
    if isinstance(function, ast.Name):
        return function.id in ENV_READERS
    if not isinstance(function, ast.Attribute):
        return False
    if function.attr in {"get", "setdefault", "pop"}:
        return _is_os_environ(function.value)
    return (
        function.attr == "getenv"
        and isinstance(function.value, ast.Name)
        and function.value.id == "os"
    )


def variables_read_by(path: Path) -> set[str]:
    """Names passed as a literal to the env reader or read from ``os.environ``/``os.getenv``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        name = None
        if isinstance(node, ast.Call) and node.args and _reads_the_environment(node.func):
            name = _literal(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            name = _literal(node.slice)
        if name:
            names.add(name)
    return names


# Set by the test runner (pytest-xdist names its worker), read by the test settings only:
# nothing a deployment sets.
SET_BY_THE_TEST_RUNNER = {"PYTEST_XDIST_WORKER"}


def variables_the_code_reads() -> set[str]:
    files = sorted((ROOT / "govboard" / "settings").glob("*.py")) + ENTRY_POINTS
    return set().union(*(variables_read_by(path) for path in files)) - SET_BY_THE_TEST_RUNNER


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def env_example_variables() -> list[str]:
    return [m.group(1) for line in env_example_lines() if (m := ASSIGNMENT.match(line))]


def test_the_reader_finds_every_kind_of_read(tmp_path):
    # Given a module with each way of reading the environment
    module = tmp_path / "sample.py"
    module.write_text(
        "import os\n"
        "from govboard.settings.env import env_bool, env_int, env_list, env_str\n"
        "A = env_str('A_STR', '')\nB = env_bool('A_BOOL', False)\n"
        "C = env_int('A_INT', 1)\nD = env_list('A_LIST', [])\n"
        "E = os.environ.get('A_GET')\nF = os.environ['A_ITEM']\n"
        "os.environ.setdefault('A_DEFAULT', 'x')\nG = os.getenv('A_GETENV')\n"
        "H = os.environ.get(some_name)\n"
    )

    # When it is parsed / Then every literal name is found, and nothing else
    assert variables_read_by(module) == {
        "A_STR",
        "A_BOOL",
        "A_INT",
        "A_LIST",
        "A_GET",
        "A_ITEM",
        "A_DEFAULT",
        "A_GETENV",
    }


def test_env_example_lists_exactly_the_variables_the_code_reads():
    # Given what the settings, the entry points and gunicorn.conf.py read
    read = variables_the_code_reads()

    # When .env.example is compared with it
    listed = set(env_example_variables())

    # Then they are the same set
    missing, extra = sorted(read - listed), sorted(listed - read)
    assert not missing and not extra, (
        f".env.example is missing {missing} (read by the code) and lists {extra} (read by nothing)"
    )


def test_every_variable_in_env_example_appears_once_under_its_own_comment():
    lines = env_example_lines()
    names = env_example_variables()

    assert len(names) == len(set(names)), (
        f"listed twice: {sorted({n for n in names if names.count(n) > 1})}"
    )
    uncommented = [
        match.group(1)
        for index, line in enumerate(lines)
        if (match := ASSIGNMENT.match(line))
        and not (index > 0 and lines[index - 1].startswith("# ") and len(lines[index - 1]) > 4)
    ]
    assert uncommented == [], f"no one-line comment right above: {uncommented}"


def test_the_example_values_start_the_production_settings(tmp_path):
    # Given every value from .env.example, with the empty secrets filled in
    env = production_env(tmp_path)
    for line in env_example_lines():
        if match := ASSIGNMENT.match(line):
            value = line[match.end() :]
            if value:
                env[match.group(1)] = value
    env["SECRET_KEY"] = "k7#Qp2!vX9@mL4$wR8^tZ1&nB6*cF3(hJ5)dG0-sY2+eU7=aI4_oP9~"
    env["GOVBOARD_SIGNING_KEY"] = base64.b64encode(bytes(range(32))).decode()

    # When Django starts
    result = import_settings(env)

    # Then the example is a valid production configuration
    assert result.returncode == 0, result.stderr
