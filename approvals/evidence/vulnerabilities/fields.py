"""Typed, bounded access to a scan report's fields: every wrong type, missing required
field or over-long value is an ``EvidenceError`` naming where it is in the report."""

from __future__ import annotations

from typing import Any

from approvals.evidence import EvidenceError
from approvals.evidence.vulnerabilities.findings import MAX_FIXED_VERSION_LENGTH


def json_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvidenceError(f"The dependency report's {where} must be an object.")
    return value


def optional_object(container: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An object field; absent or null is empty."""
    value = container.get(key)
    return {} if value is None else json_object(value, f"{where}.{key}")


def array(container: dict[str, Any], key: str, where: str) -> list[Any]:
    """A list field; absent or null is empty (scanners omit empty arrays)."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(f"The dependency report's {where}.{key} must be an array.")
    return value


def text(
    container: dict[str, Any], key: str, where: str, max_length: int, *, required: bool = False
) -> str:
    value = container.get(key)
    if value is None or value == "":
        if required:
            raise EvidenceError(f"The dependency report's {where} has no {key}.")
        return ""
    if not isinstance(value, str):
        raise EvidenceError(f"The dependency report's {where}.{key} must be a string.")
    return bounded(value, f"{where}.{key}", max_length)


def bounded(value: str, where: str, max_length: int) -> str:
    if len(value) > max_length:
        raise EvidenceError(
            f"The dependency report's {where} is longer than {max_length} characters."
        )
    return value


def strings(container: dict[str, Any], key: str, where: str) -> list[str]:
    values = array(container, key, where)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise EvidenceError(f"The dependency report's {where}.{key}[{index}] must be a string.")
    return values


def join_versions(versions: list[str]) -> str:
    return clip(", ".join(version for version in versions if version))


def clip(value: str) -> str:
    """Fixed versions are advice for the reader; a long list is cut, not refused."""
    if len(value) <= MAX_FIXED_VERSION_LENGTH:
        return value
    return value[: MAX_FIXED_VERSION_LENGTH - 3] + "..."
