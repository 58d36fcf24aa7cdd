"""Tree heads outside the database: an append-only store and an optional witness.

Only these copies catch someone who owns the database and rewrites rows, leaves and heads
alike (they cannot sign with the server's key, and cannot reach this store). The store is
chosen by GOVBOARD_AUDIT_HEADS_URL: ``file://`` (a directory, the default) or ``s3://`` (an
S3-compatible object store with conditional writes and optional Object Lock retention, the
production choice: audit/transparency/object_store.py). Both have the same methods.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit.transparency.canonical import canonical_json
from audit.transparency.heads import TreeHead

if TYPE_CHECKING:
    from audit.transparency.object_store import ObjectStoreHeadStore

logger = logging.getLogger(__name__)


class HeadConflict(RuntimeError):
    """A different head of the same size is already stored outside the database."""


class DirectoryHeadStore:
    """One file per head, ``<tree size, 20 digits>.json``, written atomically, never replaced."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, tree_size: int) -> Path:
        return self.directory / f"{tree_size:020d}.json"

    def sizes(self) -> set[int]:
        if not self.directory.is_dir():
            return set()
        return {
            int(name[:-5])
            for name in os.listdir(self.directory)
            if name.endswith(".json") and name[:-5].isdigit()
        }

    def read(self, tree_size: int) -> TreeHead:
        return TreeHead.from_document(json.loads(self._path(tree_size).read_bytes()))

    def read_all(self) -> list[TreeHead]:
        return [self.read(size) for size in sorted(self.sizes())]

    def write(self, head: TreeHead) -> bool:
        """Store a head; False if that very head was already there. A different head of the
        same size is refused (HeadConflict): the store is append-only."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self._path(head.tree_size)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".head-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(canonical_json(head.document()))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # link() fails if the name exists: atomic, and never overwrites.
                os.link(temporary, final)
            except FileExistsError:
                if self.read(head.tree_size) != head:
                    raise HeadConflict(
                        f"{final} already holds a different head of size {head.tree_size}"
                    ) from None
                return False
        finally:
            os.unlink(temporary)
        return True


def head_store() -> DirectoryHeadStore | ObjectStoreHeadStore:
    url = settings.GOVBOARD_AUDIT_HEADS_URL
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from audit.transparency.object_store import object_store_from_url

        return object_store_from_url(url)
    if parsed.scheme != "file":
        raise ImproperlyConfigured(
            f"GOVBOARD_AUDIT_HEADS_URL={url!r}: "
            "use file:// (a directory) or s3:// (an object store)."
        )
    path = Path(parsed.netloc + parsed.path) if parsed.netloc else Path(parsed.path)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    return DirectoryHeadStore(path)


def post_to_witness(url: str, head: TreeHead, *, timeout: float = 5.0) -> bool:
    """POST the head document; True on a 2xx. Failures are logged, never raised."""
    if urlparse(url).scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"GOVBOARD_AUDIT_WITNESS_URL={url!r} must be http(s).")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=canonical_json(head.document()),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked above
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("The audit witness at %s did not take head %s: %s", url, head.tree_size, exc)
        return False
