"""Storage URIs: allowed schemes and locations only; no traversal, credentials or internal hosts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registry.validators import validate_storage_uri

ACCEPTED = [
    "s3://models/support-lora/1.0.0/",
    "gs://bucket/path/model.safetensors",
    "az://container/models/x",
    "https://artifacts.example.com/models/x.tar",
    "file:///srv/artifacts/model-a/",
]

REFUSED = [
    "http://artifacts.example.com/x",  # scheme not allowed
    "gopher://example.com/x",
    "ftp://example.com/x",
    "s3://b/../x",
    "s3://b/%2e%2e/x",
    "s3://b/%252e%252e/x",
    "s3://b/a\\\\x",
    "s3://b/a%00x",
    "s3:///no-bucket",
    "https://user:secret@example.com/x",
    "https://example.com/x#fragment",
    "https://169.254.169.254/latest/meta-data/",
    "https://localhost/x",
    "https://127.0.0.1/x",
    "https://[::1]/x",
    "https://10.0.0.5/x",
    "https://192.168.1.10/x",
    "https://172.16.0.1/x",
    "https://metadata.internal/x",
    "https://printer.local/x",
    "https://2130706433/x",
    "https://0x7f.0.0.1/x",
    "file://remotehost/srv/x",
    "file:relative/path",
    "s3://bucket/with space",
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_allowed_storage_uris_are_accepted(uri, settings):
    settings.GOVBOARD_ALLOWED_STORAGE_SCHEMES = ["s3", "gs", "az", "https", "file"]
    settings.GOVBOARD_ARTIFACT_ROOTS = ["/srv/artifacts"]
    validate_storage_uri(uri)


@pytest.mark.parametrize("uri", REFUSED)
def test_traversal_credentials_and_internal_hosts_are_refused(uri, settings):
    settings.GOVBOARD_ALLOWED_STORAGE_SCHEMES = ["s3", "gs", "az", "https", "file"]
    with pytest.raises(ValidationError):
        validate_storage_uri(uri)
