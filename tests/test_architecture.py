"""The layout's rules, checked on the source (issue 9; DESIGN "Apps and what each owns").

- ``core`` (the kernel) imports no app.
- ``audit`` imports only ``core`` (of our apps): the log knows no domain.
- ``registry`` never imports ``approvals`` (dependencies point one way).
- No app imports ``govboard`` (the roof: settings, urls, Celery, cross-app admin wiring).
- No app's API imports another app's API (shared shapes live outside ``api``).
- Reads never depend on writes: ``selectors`` and ``assessment`` modules import no
  ``services``.
- ``govboard_cli`` imports nothing of the server (its own tests run it with nothing
  installed; here the rule is stated with the others).
- Outside ``*/services/`` (and migrations), nothing writes history-tracked models with
  ``QuerySet.update()``, ``bulk_create``, ``bulk_update`` or raw SQL: those skip
  simple-history and the audit trail, so only the one place that also records them may.

- ``reports`` is read-only: it imports no ``services`` module of any app.
- No non-migration module is over 400 lines (one concept per file).

Each rule is a function over source text, so a planted violation shows it can fail; each
failure names the file, the line and the rule.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "core",
    "registry",
    "approvals",
    "audit",
    "identity",
    "sso",
    "reports",
    "govboard",
    "govboard_cli",
)
BULK_WRITES = {"update", "bulk_create", "bulk_update"}
SQL_WRITE = re.compile(r"^\s*(insert\s+into|update|delete\s+from)\s+\"?(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}"


def source_files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from approvals import services" imports approvals.services
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def forbidden_imports(source: str, path: str, *, forbidden: tuple[str, ...], rule: str):
    """Imports of any of ``forbidden`` (a package or its submodules)."""
    return [
        Violation(path, line, rule)
        for line, module in imported_modules(ast.parse(source))
        if module.split(".")[0] in forbidden
    ]


def history_tracked_models() -> dict[str, str]:
    """Class name -> table of every model simple-history tracks (and its history table)."""
    tracked = {}
    for model in apps.get_models():
        history = getattr(model, "history", None)
        if history is not None and hasattr(history, "model"):
            tracked[model.__name__] = model._meta.db_table
            tracked[history.model.__name__] = history.model._meta.db_table
    return tracked


def _chain_root(node: ast.AST) -> str | None:
    """The name a call chain starts from: ``Model`` in ``Model.objects.filter().update()``."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _via_manager(node: ast.AST) -> bool:
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and node.attr in (
            "objects",
            "history",
            "_default_manager",
        ):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def bulk_writes_outside_services(source: str, path: str, *, tracked: dict[str, str]):
    """``Model.objects….update()``/``bulk_create``/``bulk_update`` on a tracked model,
    and raw SQL writing a tracked table."""
    rule_orm = "a bulk ORM write on a history-tracked model outside */services/"
    rule_sql = "a raw SQL write to a history-tracked table outside */services/"
    tables = {table.lower() for table in tracked.values()}
    violations = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr in BULK_WRITES and _via_manager(node.func.value):
            if _chain_root(node.func.value) in tracked:
                violations.append(Violation(path, node.lineno, rule_orm))
        elif node.func.attr in ("execute", "executemany", "raw") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                match = SQL_WRITE.match(first.value)
                if match and match.group(2).lower() in tables:
                    violations.append(Violation(path, node.lineno, rule_sql))
    return violations


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_core_imports_no_app():
    violations = [
        v
        for path in source_files("core")
        for v in forbidden_imports(
            path.read_text(),
            _relative(path),
            forbidden=tuple(app for app in APPS if app != "core"),
            rule="core (the kernel) imports no app",
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_audit_imports_only_core():
    violations = [
        v
        for path in source_files("audit")
        for v in forbidden_imports(
            path.read_text(),
            _relative(path),
            forbidden=tuple(app for app in APPS if app not in ("core", "audit")),
            rule="audit imports only core (the log knows no domain)",
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_no_app_imports_the_roof():
    violations = [
        v
        for app in ("core", "registry", "approvals", "audit", "identity", "sso", "reports")
        for path in source_files(app)
        for v in forbidden_imports(
            path.read_text(),
            _relative(path),
            forbidden=("govboard",),
            rule="no app imports govboard (the roof imports the apps, never the reverse)",
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_registry_never_imports_approvals():
    violations = [
        v
        for path in source_files("registry")
        for v in forbidden_imports(
            path.read_text(),
            _relative(path),
            forbidden=("approvals",),
            rule="registry never imports approvals (dependencies point one way)",
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def api_importing_another_apps_api(source: str, path: str, *, app: str) -> list[Violation]:
    return [
        Violation(path, line, f"{app}'s API imports another app's API")
        for line, module in imported_modules(ast.parse(source))
        # core.api is the API kernel every app's API builds on
        if module.split(".")[0] in APPS
        and module.split(".")[0] not in (app, "core")
        and "api" in module.split(".")[1:2]
    ]


def test_no_apps_api_imports_another_apps_api():
    violations = [
        v
        for app in APPS
        for path in source_files(app)
        if path.stem == "api" or "api" in path.relative_to(ROOT / app).parts[:-1]
        for v in api_importing_another_apps_api(path.read_text(), _relative(path), app=app)
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_a_planted_cross_app_api_import_is_named():
    [violation] = api_importing_another_apps_api(
        "x = 1\nfrom registry.api.serializers import VersionSerializer\n",
        "approvals/api.py",
        app="approvals",
    )
    assert str(violation) == "approvals/api.py:2: approvals's API imports another app's API"


def reads_importing_services(source: str, path: str) -> list[Violation]:
    return [
        Violation(path, line, "a read (selectors, assessment) imports services")
        for line, module in imported_modules(ast.parse(source))
        if "services" in module.split(".")
    ]


def test_reports_import_no_services():
    violations = [
        v
        for path in source_files("reports")
        for v in reads_importing_services(path.read_text(), _relative(path))
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_reads_never_import_the_write_layer():
    violations = [
        v
        for package in APPS
        for path in source_files(package)
        if path.stem in ("selectors", "assessment") or "selectors" in path.parts
        for v in reads_importing_services(path.read_text(), _relative(path))
    ]
    assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize(
    "planted",
    ["from approvals.services.common import assess", "from approvals import services"],
)
def test_a_planted_read_of_the_write_layer_is_named(planted):
    [violation] = reads_importing_services(f"x = 1\n{planted}\n", "approvals/selectors.py")
    assert str(violation) == (
        "approvals/selectors.py:2: a read (selectors, assessment) imports services"
    )


def test_the_cli_imports_nothing_of_the_server():
    violations = [
        v
        for path in source_files("govboard_cli")
        for v in forbidden_imports(
            path.read_text(),
            _relative(path),
            forbidden=(*(app for app in APPS if app != "govboard_cli"), "django", "celery"),
            rule="govboard_cli imports nothing of the server",
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_only_services_write_history_tracked_models_in_bulk():
    tracked = history_tracked_models()
    assert {"ModelVersion", "PromotionRequest", "RegisteredModel"} <= set(tracked)
    violations = [
        v
        for package in APPS
        for path in source_files(package)
        if "services" not in path.parts and path.name != "services.py"
        for v in bulk_writes_outside_services(path.read_text(), _relative(path), tracked=tracked)
    ]
    assert violations == [], "\n".join(map(str, violations))


MAX_MODULE_LINES = 400


def oversized_module(source: str, path: str) -> list[Violation]:
    lines = source.count("\n")
    if lines <= MAX_MODULE_LINES:
        return []
    rule = (
        f"a module is at most {MAX_MODULE_LINES} lines (this one has {lines}): split it by concept"
    )
    return [Violation(path, MAX_MODULE_LINES + 1, rule)]


def test_no_module_is_over_the_size_limit():
    violations = [
        v
        for app in (*APPS, "tools")
        if (ROOT / app).is_dir()
        for path in source_files(app)
        for v in oversized_module(path.read_text(), _relative(path))
    ]
    assert violations == [], "\n".join(map(str, violations))


# --- each rule fails on a planted violation ------------------------------------------------


def test_a_planted_oversized_module_is_named():
    [violation] = oversized_module("x = 1\n" * 401, "core/planted.py")
    assert str(violation).startswith("core/planted.py:401: a module is at most 400 lines")


@pytest.mark.parametrize(
    ("planted", "forbidden", "rule"),
    [
        ("from registry.models import Team\n", ("registry",), "core imports no app"),
        ("import approvals.services\n", ("approvals",), "registry never imports approvals"),
        ("from registry.permissions import x\n", ("registry",), "audit imports only core"),
        ("from govboard.settings import base\n", ("govboard",), "no app imports govboard"),
        ("from django.conf import settings\n", ("django",), "the cli imports nothing"),
    ],
)
def test_a_planted_import_is_named_with_its_file_line_and_rule(planted, forbidden, rule):
    [violation] = forbidden_imports(
        "x = 1\n" + planted, "core/planted.py", forbidden=forbidden, rule=rule
    )
    assert str(violation) == f"core/planted.py:2: {rule}"


@pytest.mark.parametrize(
    "planted",
    [
        'ModelVersion.objects.filter(pk=1).update(state="approved")',
        "PromotionRequest.objects.bulk_create([])",
        'RegisteredModel.objects.all().bulk_update([], ["name"])',
        'cursor.execute("UPDATE registry_modelversion SET state = %s", ["approved"])',
        'connection.cursor().execute("insert into approvals_promotionrequest values (1)")',
    ],
)
def test_a_planted_bulk_write_outside_services_is_named(planted):
    violations = bulk_writes_outside_services(
        f"def f():\n    {planted}\n", "approvals/admin.py", tracked=history_tracked_models()
    )
    assert [str(v).split(": ")[0] for v in violations] == ["approvals/admin.py:2"]


def test_dict_updates_and_writes_to_untracked_tables_are_not_flagged():
    source = (
        "def f(data):\n"
        "    data.update(a=1)\n"
        "    WebhookDelivery.objects.bulk_create([])\n"
        '    cursor.execute("SELECT 1")\n'
    )
    assert bulk_writes_outside_services(source, "x.py", tracked=history_tracked_models()) == []
