"""What the tests do as an attacker: lift the triggers the way tests/conftest.py does for
flushes, and read a sealed log once into memory for the in-memory tamperings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connection

from audit.immutability import install_append_only_triggers
from audit.models import LogLeaf, SignedTreeHead
from audit.transparency.canonical import column_fields
from audit.transparency.external import head_store
from audit.transparency.heads import TreeHead
from audit.transparency.leaves import SealedLeaf
from audit.transparency.publication import tree_head_of
from audit.transparency.sources import model_for_table
from tests.conftest import _drop_append_only_triggers


@contextlib.contextmanager
def triggers_lifted() -> Iterator[None]:
    """What a database owner can do: the append-only triggers are gone meanwhile."""
    _drop_append_only_triggers(connection.alias)
    try:
        yield
    finally:
        install_append_only_triggers(using=connection.alias)


@dataclass
class SealedLog:
    """A sealed log read once: leaves in order, each row's columns, the heads."""

    leaves: list[SealedLeaf]
    rows: dict[tuple[str, int], dict] = field(default_factory=dict)
    stored_heads: list[TreeHead] = field(default_factory=list)
    external_heads: list[TreeHead] = field(default_factory=list)


def read_sealed_log() -> SealedLog:
    leaves = [
        SealedLeaf(index, table, pk, bytes.fromhex(leaf), bytes.fromhex(chain))
        for index, table, pk, leaf, chain in LogLeaf.objects.order_by("leaf_index").values_list(
            "leaf_index", "table", "row_pk", "leaf_hash", "chain_hash"
        )
    ]
    log = SealedLog(leaves=leaves)
    for leaf in leaves:
        model = model_for_table(leaf.table)
        fields = column_fields(model)
        values = model._base_manager.filter(pk=leaf.pk).values_list(*(a for _c, a in fields)).get()
        log.rows[(leaf.table, leaf.pk)] = dict(zip((c for c, _a in fields), values, strict=True))
    log.stored_heads = [tree_head_of(row) for row in SignedTreeHead.objects.order_by("tree_size")]
    log.external_heads = head_store().read_all()
    return log
