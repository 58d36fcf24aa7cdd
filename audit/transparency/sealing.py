"""The seal job: append committed, not-yet-sealed audit rows as leaves and sign a head.

Unsealed rows are found by an anti-join against LogLeaf (NOT EXISTS on the unique
(table, row_pk) index), never by id or time range: a row whose transaction commits after
a later row was sealed is still found by the next run. Hashing happens before any lock;
only allocating leaf indexes, inserting the leaves and signing the head run under a
transaction-scoped advisory lock on the tree (PostgreSQL), so writers of audit events never
wait on the seal and two seal runs cannot allocate the same or a gapped index. The unique
constraints on leaf_index and (table, row_pk) hold the same rule at the database.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.models import LogLeaf, SignedTreeHead
from audit.transparency.canonical import format_timestamp
from audit.transparency.heads import head_message
from audit.transparency.leaves import CHAIN_START, chain_next
from audit.transparency.merkle import CompactRange, leaf_hash
from audit.transparency.publication import publish_heads
from audit.transparency.sources import canonical_rows, sealed_models
from core.signing_key import signing_key_id, signing_private_key

CHUNK = 5_000
DEFAULT_LIMIT = 50_000
# pg_advisory_xact_lock key for "allocating leaf indexes of the audit log" ("govboard").
TREE_LOCK_KEY = 0x676F76626F617264


@dataclass(frozen=True)
class SealResult:
    sealed: int
    tree_size: int
    head: SignedTreeHead | None


def audit_log_seal(*, now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> SealResult:
    """Seal up to ``limit`` committed rows not sealed yet, in the order found, and sign the
    new tree head. Nothing new: nothing written, no new head (idempotent)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = now or timezone.now()
    candidates = find_unsealed(limit=limit)
    with transaction.atomic():
        _lock_tree()
        fresh = _still_unsealed(candidates)
        last = LogLeaf.objects.order_by("-leaf_index").values_list("leaf_index", "chain_hash")
        last = last.first()
        size = last[0] + 1 if last else 0
        chain = bytes.fromhex(last[1]) if last else CHAIN_START
        tree = _compact_range_at(size)
        leaves = []
        for offset, (table, pk, hashed) in enumerate(fresh):
            chain = chain_next(chain, hashed)
            tree.append(hashed)
            leaves.append(
                LogLeaf(
                    leaf_index=size + offset,
                    table=table,
                    row_pk=pk,
                    leaf_hash=hashed.hex(),
                    chain_hash=chain.hex(),
                    sealed_at=now,
                )
            )
        LogLeaf.objects.bulk_create(leaves, batch_size=CHUNK)
        head = None
        if tree.size and not SignedTreeHead.objects.filter(tree_size=tree.size).exists():
            head = _sign_head(tree, now)
        # Outside the database after commit; a failed write is retried by the next run.
        transaction.on_commit(publish_heads)
    return SealResult(sealed=len(leaves), tree_size=tree.size, head=head)


def find_unsealed(*, limit: int) -> list[tuple[str, int, bytes]]:
    """(table, pk, leaf hash) of committed rows without a leaf, table by table in pk order,
    read in keyset chunks (each an index-backed anti-join), at most ``limit``."""
    found: list[tuple[str, int, bytes]] = []
    for table, model in sealed_models().items():
        sealed = LogLeaf.objects.filter(table=table, row_pk=OuterRef("pk"))
        unsealed = model._base_manager.filter(~Exists(sealed)).order_by("pk")
        after = None
        while len(found) < limit:
            chunk = unsealed if after is None else unsealed.filter(pk__gt=after)
            want = min(CHUNK, limit - len(found))
            rows = list(canonical_rows(model, chunk, limit=want))
            found.extend((table, pk, leaf_hash(canonical)) for pk, canonical in rows)
            if len(rows) < want:
                break
            after = rows[-1][0]
        if len(found) >= limit:
            break
    return found


def _lock_tree() -> None:
    # SQLite has one writer at a time already; PostgreSQL needs the lock for index allocation.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK_KEY])


def _still_unsealed(candidates: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """Drop the candidates a concurrent run sealed after we read them."""
    by_table: dict[str, list[int]] = {}
    for table, pk, _hashed in candidates:
        by_table.setdefault(table, []).append(pk)
    taken: set[tuple[str, int]] = set()
    for table, pks in by_table.items():
        for start in range(0, len(pks), CHUNK):
            sealed = LogLeaf.objects.filter(table=table, row_pk__in=pks[start : start + CHUNK])
            taken.update((table, pk) for pk in sealed.values_list("row_pk", flat=True))
    return [candidate for candidate in candidates if (candidate[0], candidate[1]) not in taken]


def _compact_range_at(size: int) -> CompactRange:
    """The tree at ``size``: from the cached compact range of the latest head at or below
    it (checked against its signed root), plus the leaves sealed after that head."""
    tree = CompactRange()
    head = SignedTreeHead.objects.filter(tree_size__lte=size).order_by("-tree_size").first()
    if head is not None:
        try:
            cached = CompactRange(head.tree_size, [bytes.fromhex(h) for h in head.compact_range])
        except (TypeError, ValueError):
            cached = None
        if cached is not None and cached.root().hex() == head.root_hash:
            tree = cached
    later = LogLeaf.objects.filter(leaf_index__gte=tree.size, leaf_index__lt=size)
    for hashed in later.order_by("leaf_index").values_list("leaf_hash", flat=True).iterator(CHUNK):
        tree.append(bytes.fromhex(hashed))
    return tree


def _sign_head(tree: CompactRange, now: dt.datetime) -> SignedTreeHead:
    root = tree.root().hex()
    key_id = signing_key_id()
    message = head_message(tree.size, root, format_timestamp(now), key_id)
    return SignedTreeHead.objects.create(
        tree_size=tree.size,
        root_hash=root,
        signed_at=now,
        key_id=key_id,
        signature=base64.b64encode(signing_private_key().sign(message)).decode("ascii"),
        compact_range=[hashed.hex() for hashed in tree.hashes],
    )
