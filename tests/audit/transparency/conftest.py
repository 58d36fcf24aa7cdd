"""Fixtures of the transparency log tests: a heads directory of their own, audit rows."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent


@pytest.fixture
def heads_dir(tmp_path, settings):
    directory = tmp_path / "audit-heads"
    settings.GOVBOARD_AUDIT_HEADS_URL = f"file://{directory}"
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    return directory


def add_events(count: int, *, verb: str = "version.registered") -> list[AuditEvent]:
    """Audit rows written straight to the table (the seal job reads rows, not services)."""
    return [
        AuditEvent.objects.create(
            actor_label="system:test",
            verb=verb,
            object_type="registry.modelversion",
            object_id=str(number),
            data={"number": number, "note": "ünïcode ✓"},
        )
        for number in range(count)
    ]
