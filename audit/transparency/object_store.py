"""Tree heads in an S3-compatible object store: the production choice for the copies kept
outside the database (ADR 0013).

``GOVBOARD_AUDIT_HEADS_URL=s3://<bucket>/<prefix>`` with optional query parameters:
``endpoint_url`` (an S3-compatible service other than AWS, e.g. MinIO or Ceph),
``region`` and ``retain_days`` (S3 Object Lock in compliance mode: not even the bucket's
owner can delete or overwrite a head before then; the bucket must have Object Lock
enabled). Credentials come from boto3's usual chain (environment, instance role), never
from the URL, so the URL can be shown in logs and settings dumps.

Each head is one object, ``<prefix>/<tree size, 20 digits>.json``, written with
``If-None-Match: *``: the store refuses to replace an existing key, so a head is written
once, atomically, and a second writer of the same size learns of it (HeadConflict if its
head differs) instead of overwriting it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from django.core.exceptions import ImproperlyConfigured

from audit.transparency.canonical import canonical_json
from audit.transparency.external import HeadConflict
from audit.transparency.heads import TreeHead

KEY_DIGITS = 20


class ObjectStoreHeadStore:
    """The directory store's three methods (sizes, read, write) over an S3 bucket."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        retain_days: int | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retain_days = retain_days

    def _key(self, tree_size: int) -> str:
        name = f"{tree_size:0{KEY_DIGITS}d}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def sizes(self) -> set[int]:
        sizes = set()
        listing = {"Bucket": self.bucket, "Prefix": f"{self.prefix}/" if self.prefix else ""}
        for page in self.client.get_paginator("list_objects_v2").paginate(**listing):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                stem = name.removesuffix(".json")
                if name.endswith(".json") and stem.isdigit() and len(stem) == KEY_DIGITS:
                    sizes.add(int(stem))
        return sizes

    def read(self, tree_size: int) -> TreeHead:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(tree_size))["Body"]
        return TreeHead.from_document(json.loads(body.read()))

    def read_all(self) -> list[TreeHead]:
        return [self.read(size) for size in sorted(self.sizes())]

    def write(self, head: TreeHead) -> bool:
        """Store a head; False if that very head was already there. A different head of the
        same size is refused (HeadConflict): the store is append-only."""
        from botocore.exceptions import ClientError

        put: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._key(head.tree_size),
            "Body": canonical_json(head.document()),
            "ContentType": "application/json",
            "IfNoneMatch": "*",
        }
        if self.retain_days:
            put["ObjectLockMode"] = "COMPLIANCE"
            put["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.retain_days)
        try:
            self.client.put_object(**put)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict") and status != 412:
                raise
            if self.read(head.tree_size) != head:
                raise HeadConflict(
                    f"s3://{self.bucket}/{put['Key']} already holds a different head of "
                    f"size {head.tree_size}"
                ) from None
            return False
        return True


def object_store_from_url(url: str) -> ObjectStoreHeadStore:
    """The store an ``s3://bucket/prefix?endpoint_url=…&region=…&retain_days=…`` URL names."""
    import boto3
    from botocore.config import Config

    parsed = urlparse(url)
    if not parsed.netloc:
        raise ImproperlyConfigured(f"GOVBOARD_AUDIT_HEADS_URL={url!r} names no bucket.")
    options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    unknown = set(options) - {"endpoint_url", "region", "retain_days"}
    if unknown:
        raise ImproperlyConfigured(
            f"GOVBOARD_AUDIT_HEADS_URL: unknown option(s) {', '.join(sorted(unknown))}."
        )
    retain_days = options.get("retain_days")
    if retain_days is not None and not (retain_days.isdigit() and int(retain_days) > 0):
        raise ImproperlyConfigured(
            "GOVBOARD_AUDIT_HEADS_URL: retain_days must be a positive integer."
        )
    client = boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url"),
        region_name=options.get("region"),
        # Bounded: a seal never hangs on an unreachable store (the next run retries).
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3}),
    )
    return ObjectStoreHeadStore(
        client,
        parsed.netloc,
        parsed.path,
        retain_days=int(retain_days) if retain_days else None,
    )
