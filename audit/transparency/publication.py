"""Publishing signed tree heads outside the database (after the seal commits)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from audit.models import SignedTreeHead, WitnessReceipt
from audit.transparency.canonical import format_timestamp
from audit.transparency.external import HeadConflict, head_store, post_to_witness
from audit.transparency.heads import TreeHead

logger = logging.getLogger(__name__)


def tree_head_of(row: SignedTreeHead) -> TreeHead:
    return TreeHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=format_timestamp(row.signed_at),
        key_id=row.key_id,
        signature=row.signature,
    )


def publish_heads() -> int:
    """Write every stored head the external store lacks, and post the latest head to the
    witness if it has not taken it yet. Idempotent: a failure is logged and the next seal
    run tries again. Returns how many heads were written."""
    store = head_store()
    present = store.sizes()
    written = 0
    missing = [
        size
        for size in SignedTreeHead.objects.values_list("tree_size", flat=True)
        if size not in present
    ]
    for row in SignedTreeHead.objects.filter(tree_size__in=missing):
        try:
            written += store.write(tree_head_of(row))
        except HeadConflict:
            logger.error("Refused to overwrite an external tree head", exc_info=True)
        except OSError:
            logger.error("Could not write tree head %s outside the database", row.tree_size)
    _post_latest_to_witness()
    return written


def _post_latest_to_witness() -> None:
    url = settings.GOVBOARD_AUDIT_WITNESS_URL
    latest = SignedTreeHead.objects.order_by("-tree_size").first()
    if not url or latest is None:
        return
    if WitnessReceipt.objects.filter(tree_size=latest.tree_size).exists():
        return
    if post_to_witness(url, tree_head_of(latest)):
        WitnessReceipt.objects.get_or_create(
            tree_size=latest.tree_size,
            defaults={"witnessed_at": timezone.now(), "witness_url": url},
        )
