"""AUD-5 and the heads kept outside the database: the directory store and the witness."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection

from audit.models import LogLeaf, SignedTreeHead, WitnessReceipt
from audit.services import audit_log_seal
from audit.transparency.canonical import format_timestamp
from audit.transparency.database import verify_audit_log
from audit.transparency.external import HeadConflict, head_store
from audit.transparency.heads import TreeHead, head_message
from audit.transparency.leaves import CHAIN_START, chain_next
from audit.transparency.merkle import CompactRange, MerkleLevels
from audit.transparency.sources import current_leaf_hashes, model_for_table
from tests.audit.transparency.conftest import add_events
from tests.audit.transparency.tampering import triggers_lifted

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)


@pytest.fixture
def two_heads(db, heads_dir, django_capture_on_commit_callbacks):
    for moment in (NOW, LATER):
        add_events(10)
        with django_capture_on_commit_callbacks(execute=True):
            audit_log_seal(now=moment)
    assert len(head_store().sizes()) == 2


def _rewrite_everything_in_the_database(*, resign_with: Ed25519PrivateKey | None) -> None:
    """A database superuser edits one event, then recomputes every leaf, chain, root and
    compact range, and either re-signs the heads with a key of their own or leaves the
    signatures. The server's key and the external directory are out of their reach."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET verb = 'version.approved' "
            "WHERE id = (SELECT MIN(id) FROM audit_auditevent)"
        )
    leaves = list(LogLeaf.objects.order_by("leaf_index"))
    chain, hashes = CHAIN_START, []
    for leaf in leaves:
        model = model_for_table(leaf.table)
        hashed = current_leaf_hashes(model, [leaf.row_pk])[leaf.row_pk]
        chain = chain_next(chain, hashed)
        LogLeaf.objects.filter(pk=leaf.pk).update(leaf_hash=hashed.hex(), chain_hash=chain.hex())
        hashes.append(hashed)
    levels = MerkleLevels(hashes)
    for head in SignedTreeHead.objects.all():
        root = levels.root(head.tree_size).hex()
        compact = CompactRange()
        for hashed in hashes[: head.tree_size]:
            compact.append(hashed)
        changes = {"root_hash": root, "compact_range": [h.hex() for h in compact.hashes]}
        if resign_with is not None:
            message = head_message(
                head.tree_size, root, format_timestamp(head.signed_at), head.key_id
            )
            changes["signature"] = base64.b64encode(resign_with.sign(message)).decode()
        SignedTreeHead.objects.filter(pk=head.pk).update(**changes)


@pytest.mark.parametrize(
    "resign_with", [Ed25519PrivateKey.generate(), None], ids=["re-signed", "signature-left"]
)
def test_a_full_rewrite_of_the_database_is_caught_by_the_external_heads(two_heads, resign_with):
    with triggers_lifted():
        _rewrite_everything_in_the_database(resign_with=resign_with)
        report = verify_audit_log()

    leaf_findings = [
        f for f in report.findings if f.kind in ("altered", "missing", "reordered", "inserted")
    ]
    assert leaf_findings == []  # every leaf and chain was recomputed: the rows alone agree
    external = [
        str(f)
        for f in report.findings
        if "external head" in f.message or "database's head" in f.message
    ]
    assert (
        "rewritten: tree head 10: the log recomputed differs from the external head's root"
        in external
    )
    assert "rewritten: tree head 10: the database's head of this size differs" in external
    how = "re-signed" if resign_with else "signature left"
    print(f"\nAUD-5 ({how}): first finding {report.first}")


def test_a_head_deleted_from_the_database_is_named_by_its_external_copy(two_heads):
    with triggers_lifted():
        SignedTreeHead.objects.filter(tree_size=10).delete()
        report = verify_audit_log()
    assert "deleted: tree head 10: the database has no head of this size" in [
        str(f) for f in report.findings
    ]


def test_the_external_store_refuses_a_different_head_of_the_same_size(two_heads, heads_dir):
    store = head_store()
    original = store.read(10)
    before = (heads_dir / f"{10:020d}.json").read_bytes()
    forged = TreeHead(10, "00" * 32, original.timestamp, original.key_id, original.signature)

    with pytest.raises(HeadConflict, match="already holds a different head of size 10"):
        store.write(forged)
    assert store.write(original) is False  # the same head again: nothing to do
    assert (heads_dir / f"{10:020d}.json").read_bytes() == before
    assert sorted(p.name for p in heads_dir.iterdir()) == [f"{10:020d}.json", f"{20:020d}.json"]


class _Witness(http.server.BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(json.loads(body))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def witness(settings):
    _Witness.statuses, _Witness.received = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.GOVBOARD_AUDIT_WITNESS_URL = f"http://127.0.0.1:{server.server_address[1]}/heads"
    yield _Witness
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_the_witness_is_posted_each_new_head_and_a_failure_is_retried_next_run(
    heads_dir, witness, django_capture_on_commit_callbacks
):
    witness.statuses = [500]
    add_events(4)
    with django_capture_on_commit_callbacks(execute=True):
        result = audit_log_seal(now=NOW)
    assert witness.received == [] and WitnessReceipt.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert audit_log_seal(now=LATER).sealed == 0  # nothing new, but the head is retried

    assert [doc["tree_size"] for doc in witness.received] == [result.tree_size]
    assert witness.received[0] == head_store().read(result.tree_size).document()
    assert list(WitnessReceipt.objects.values_list("tree_size", flat=True)) == [result.tree_size]
