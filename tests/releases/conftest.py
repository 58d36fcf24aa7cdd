from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Eval packages are stored under a per-test media root."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
