"""Helpers the CLI tests share: register arguments, a version made reviewable, and the
client's folder copied into a pipeline's repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from approvals import services as approval_services
from registry.choices import DatasetUse
from registry.models import ModelVersion
from tests.registry.factories import complete_metadata, link_dataset

CLIENT_PACKAGE = Path(__file__).resolve().parents[2] / "govboard_cli"


def register_args(ci, version: str = "1.0.0", *extra: str) -> list[str]:
    return [
        "register",
        "--url",
        ci.url,
        "--team",
        "assistants",
        "--model",
        "support-lora",
        "--version",
        version,
        "--artifact",
        str(ci.artifact),
        "--storage-uri",
        f"s3://models/support-lora/{version}/",
        "--kind",
        "adapter",
        "--owner",
        "oliver",
        "--backup-owner",
        "bea",
        "--escalation-contact",
        "oncall@example.test",
        *extra,
    ]


def make_reviewable(version_id: int, *, datasets: bool = True) -> None:
    """Datasets (unless the test links them itself) and passing evidence for a version,
    judged by the team's board (platform, product, security), as these tests sign so."""
    from tests.approvals.factories import attach_passing_evidence, board_policy

    version = ModelVersion.objects.get(pk=version_id)
    if datasets:
        link_dataset(version, DatasetUse.TRAIN)
        link_dataset(version, DatasetUse.EVAL)
    board_policy(version.registered_model.team)
    attach_passing_evidence(version)


def run_pending_checks(request_id: int) -> None:
    """Stand in for the Celery worker when checks run asynchronously after submit."""
    approval_services.promotion_request_run_checks(request_id=request_id, via="test worker")


def complete_metadata_file(tmp_path: Path) -> Path:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(complete_metadata()))
    return path


def vendor_client(repository: Path) -> Path:
    """Copy the ``govboard_cli/`` folder into ``repository`` as docs/ci/README.md says
    (the source only: no bytecode left by this test run)."""
    destination = repository / "govboard_cli"
    shutil.copytree(
        CLIENT_PACKAGE, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return destination
