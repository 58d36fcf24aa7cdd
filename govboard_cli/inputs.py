"""Local input the commands read: files and their sha256, the metadata file, timestamps.
Anything unusable is a ``UsageError`` (exit 2)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import UsageError

CHUNK = 1024 * 1024


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def reconciled_checksum(declared: str | None, path: str | None, what: str) -> str | None:
    """The sha256 to send: the file's when one is given (a declared checksum must then
    equal it), else the declared one, normalised; None when neither is known."""
    checksum = (declared or "").strip().lower() or None
    if not path:
        return checksum
    try:
        computed = sha256_file(path)
    except OSError as exc:
        raise UsageError(f"Cannot read {what} {path}: {exc}") from exc
    if checksum and checksum != computed:
        raise UsageError(f"--checksum {checksum} does not match the {what}'s sha256 {computed}.")
    return computed


def load_metadata(path: str | None, what: str = "metadata file") -> dict[str, Any]:
    """A JSON object file (--metadata, a release's --file; nothing given: an empty one)."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"The {what} {path} must hold a JSON object.")
    return data


def timestamp(value: str | None, flag: str, *, allow_now: bool = True) -> str | None:
    """An ISO 8601 timestamp with a zone (or ``now``, where allowed), as the API wants it."""
    if value is None:
        return None
    if value == "now" and allow_now:
        return datetime.now(UTC).isoformat(timespec="seconds")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{flag} must be an ISO 8601 timestamp, got {value!r}.") from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{flag} needs a timezone (e.g. 2025-01-31T12:00:00Z).")
    return parsed.isoformat()
