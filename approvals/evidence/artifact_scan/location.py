"""Where a ``file://`` storage URI points, proven to lie inside a configured artifact root
(no other scheme, no traversal, no symlink below the root)."""

from __future__ import annotations

import stat
from pathlib import Path

from approvals.evidence import EvidenceError
from registry.validators import file_uri_path


def resolve_artifact_path(storage_uri: str, *, allowed_roots: list[Path]) -> Path:
    """The local path a ``file://`` storage URI names, proven to lie inside an allowed root.

    Refused with ``EvidenceError``: any other scheme (the server never fetches URLs, so
    no SSRF), a remote host, ``.``/``..`` segments in any percent-decoding layer,
    double-encoded escapes, backslashes, NUL and control characters, any symlink below
    the root, and a path that does not exist. The root prefix itself may contain
    symlinks: it is operator configuration, not client input.
    """
    path = _path_from_uri(storage_uri)
    roots = _resolved_roots(allowed_roots)
    for given_root, real_root in roots:
        for root in dict.fromkeys((given_root, real_root)):
            if path != root and path.is_relative_to(root):
                return _resolve_below(path, root=root, real_root=real_root)
    raise EvidenceError("The artifact path is not inside an allowed artifact root.")


def _path_from_uri(storage_uri: str) -> Path:
    try:
        return file_uri_path(storage_uri)
    except ValueError as exc:
        raise EvidenceError(str(exc)) from exc


def _resolved_roots(allowed_roots: list[Path]) -> list[tuple[Path, Path]]:
    if not allowed_roots:
        raise EvidenceError("No artifact roots are configured; nothing may be scanned.")
    roots = []
    for root in allowed_roots:
        root = Path(root)
        if not root.is_absolute():
            raise EvidenceError(f"Artifact root {root} must be an absolute path.")
        try:
            roots.append((root, root.resolve(strict=True)))
        except OSError as exc:
            raise EvidenceError(f"Artifact root {root} does not exist.") from exc
    return roots


def _resolve_below(path: Path, *, root: Path, real_root: Path) -> Path:
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            info = current.lstat()
        except OSError as exc:
            raise EvidenceError("The artifact path does not exist.") from exc
        if stat.S_ISLNK(info.st_mode):
            raise EvidenceError("The artifact path goes through a symlink; symlinks are refused.")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise EvidenceError("The artifact path does not exist.") from exc
    # Belt and braces: even a path we walked must still land inside the real root.
    if resolved == real_root or not resolved.is_relative_to(real_root):
        raise EvidenceError("The artifact path is not inside an allowed artifact root.")
    return resolved
