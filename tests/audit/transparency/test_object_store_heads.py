"""Tree heads in an S3-compatible object store (``s3://`` GOVBOARD_AUDIT_HEADS_URL).

The store is moto's S3 server on 127.0.0.1: real HTTP, real SigV4 requests from boto3,
conditional writes and Object Lock, standing in for AWS S3 (outside this machine).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from moto.server import ThreadedMotoServer

from audit.services import audit_log_seal
from audit.transparency.database import verify_audit_log
from audit.transparency.external import HeadConflict, head_store
from audit.transparency.heads import TreeHead
from audit.transparency.object_store import ObjectStoreHeadStore
from tests.audit.transparency.conftest import add_events
from tests.audit.transparency.tampering import triggers_lifted
from tests.audit.transparency.test_external_heads import _rewrite_everything_in_the_database

BUCKET = "govboard-audit-heads"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 1, 12, 5, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "govboard-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "govboard-test-secret")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    yield endpoint, client
    server.stop()


@pytest.fixture
def s3_heads(s3_endpoint, settings):
    endpoint, client = s3_endpoint
    settings.GOVBOARD_AUDIT_HEADS_URL = (
        f"s3://{BUCKET}/prod/heads?endpoint_url={endpoint}&region=us-east-1&retain_days=3650"
    )
    settings.GOVBOARD_AUDIT_WITNESS_URL = ""
    return client


@pytest.fixture
def two_heads_in_the_bucket(db, s3_heads, django_capture_on_commit_callbacks):
    for moment in (NOW, LATER):
        add_events(10)
        with django_capture_on_commit_callbacks(execute=True):
            audit_log_seal(now=moment)
    return s3_heads


def _keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET)["Contents"])


def test_each_seal_writes_its_head_to_the_bucket_under_the_prefix_and_the_log_verifies(
    two_heads_in_the_bucket,
):
    client = two_heads_in_the_bucket
    assert _keys(client) == [f"prod/heads/{10:020d}.json", f"prod/heads/{20:020d}.json"]
    assert [head.tree_size for head in head_store().read_all()] == [10, 20]
    report = verify_audit_log()
    assert report.ok, [str(finding) for finding in report.findings]


def test_every_head_is_under_compliance_retention_so_not_even_the_bucket_owner_deletes_it(
    two_heads_in_the_bucket,
):
    client = two_heads_in_the_bucket
    key = f"prod/heads/{10:020d}.json"
    stored = client.head_object(Bucket=BUCKET, Key=key)
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    assert stored["ObjectLockRetainUntilDate"] > datetime.now(UTC)
    version = client.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    assert _keys(client) == [f"prod/heads/{10:020d}.json", f"prod/heads/{20:020d}.json"]


@pytest.mark.parametrize(
    "resign_with", [Ed25519PrivateKey.generate(), None], ids=["re-signed", "signature-left"]
)
def test_aud5_a_full_rewrite_of_the_database_is_caught_by_the_heads_in_the_bucket(
    two_heads_in_the_bucket, resign_with
):
    with triggers_lifted():
        _rewrite_everything_in_the_database(resign_with=resign_with)
        report = verify_audit_log()
    assert not report.ok
    assert "rewritten: tree head 10: the log recomputed differs from the external head's root" in [
        str(finding) for finding in report.findings
    ]


def test_the_bucket_refuses_a_different_head_of_the_same_size_and_keeps_the_first(
    two_heads_in_the_bucket,
):
    client = two_heads_in_the_bucket
    store = head_store()
    original = store.read(10)
    key = f"prod/heads/{10:020d}.json"
    before = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    forged = TreeHead(10, "00" * 32, original.timestamp, original.key_id, original.signature)

    with pytest.raises(HeadConflict, match="already holds a different head of size 10"):
        store.write(forged)
    assert store.write(original) is False  # the same head again: nothing to do
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == before
    assert len(client.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) == 1


def test_a_listing_of_more_than_one_page_finds_every_head(s3_endpoint):
    _, client = s3_endpoint
    store = ObjectStoreHeadStore(client, BUCKET, "many")
    for size in range(1, 1006):  # list_objects_v2 pages hold 1,000 keys
        client.put_object(Bucket=BUCKET, Key=f"many/{size:020d}.json", Body=b"{}")
    client.put_object(Bucket=BUCKET, Key="many/notes.txt", Body=b"not a head")
    assert store.sizes() == set(range(1, 1006))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3:///no-bucket", "names no bucket"),
        ("s3://bucket/p?retain_days=-3", "retain_days must be a positive integer"),
        ("s3://bucket/p?access_key=AKIA", "unknown option"),
        ("gs://bucket/p", "use file:// .* or s3://"),
    ],
)
def test_a_bad_heads_url_is_a_configuration_error_that_says_what_is_wrong(settings, url, message):
    settings.GOVBOARD_AUDIT_HEADS_URL = url
    with pytest.raises(ImproperlyConfigured, match=message):
        head_store()
