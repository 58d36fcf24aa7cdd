"""POST /api/v1/versions/ refuses every malformed, unauthorised or hostile registration,
answers with problem+json, and changes nothing (no version, no audit event)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from registry import services
from registry.choices import TokenScope
from registry.models import ApiToken, ModelVersion
from tests.approvals.factories import governance_row_counts
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    service_account_with_token,
    sha256_of,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/versions/"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def registered_model(team):
    return RegisteredModelFactory(team=team, name="support-lora")


@pytest.fixture
def token(team, registered_model):
    _, raw = service_account_with_token(teams=[team])
    return raw


@pytest.fixture
def ci(api_client, token):
    """An API client authenticated as the team's CI service account (every scope)."""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def payload(**overrides) -> dict:
    body = {
        "team": "assistants",
        "model": "support-lora",
        "version": "1.0.0",
        "checksum": sha256_of("weights"),
        "storage_uri": "s3://models/support-lora/1.0.0/",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with the given status; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["type"].startswith("https://govboard.invalid/problems/")
    assert body["title"]
    assert body["detail"]
    return body


def test_a_valid_registration_is_accepted_so_the_refusals_below_are_meaningful(ci):
    # Given the team's CI with a register token / When it posts a well-formed registration
    response = ci.post(URL, payload(), format="json")

    # Then the version is created as draft
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "draft"
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize("missing", ["team", "model", "version", "checksum", "storage_uri"])
def test_a_registration_missing_a_required_field_is_refused_naming_the_field(ci, missing):
    # Given a registration without one required field
    before = governance_row_counts()
    body = payload()
    del body[missing]

    # When CI posts it
    response = ci.post(URL, body, format="json")

    # Then it is a 400 naming that field, and nothing was stored or audited
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == [missing]
    assert problem["errors"][missing] == ["This field is required."]
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    "version",
    [
        "01.0.0",
        "1.01.0",
        "1.0.00",
        "1.0.0-01",
        "1.0",
        "1",
        "v1.0.0",
        "1.0.0.0",
        "1.0.0-",
        "1.0.0+",
        "1000000000000.0.0",
        "1.0.99999999999999999999999",
        "1.0.0-rc.1000000000000",
    ],
)
def test_a_registration_with_a_malformed_or_oversized_semantic_version_is_refused(ci, version):
    # Given a version string that is not semver 2.0.0 within our bounds
    before = governance_row_counts()

    # When CI registers it
    response = ci.post(URL, payload(version=version), format="json")

    # Then it is a 400 on the version field, and nothing changed
    problem = assert_problem(response, 400)
    assert "version" in problem["errors"]
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    "checksum",
    [
        sha256_of("weights")[:63],
        sha256_of("weights") + "0",
        sha256_of("weights").upper(),
        "g" * 64,
        "z" + sha256_of("weights")[1:],
        "",
        "sha256:" + sha256_of("weights")[7:],
    ],
    ids=["63-chars", "65-chars", "uppercase", "non-hex", "one-non-hex", "empty", "prefixed"],
)
def test_a_registration_with_a_malformed_checksum_is_refused(ci, checksum):
    # Given a checksum that is not 64 lowercase hex characters
    before = governance_row_counts()

    # When CI registers with it
    response = ci.post(URL, payload(checksum=checksum), format="json")

    # Then it is a 400 on the checksum field, and nothing changed
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["checksum"]
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    ("team_slug", "model_name"),
    [("no-such-team", "support-lora"), ("assistants", "no-such-model")],
)
def test_an_unknown_team_or_model_is_a_404(ci, team_slug, model_name):
    # Given coordinates that do not exist
    before = governance_row_counts()

    # When CI registers against them
    response = ci.post(URL, payload(team=team_slug, model=model_name), format="json")

    # Then it is a plain 404 and nothing changed
    assert_problem(response, 404)
    assert governance_row_counts() == before


def test_a_model_of_another_team_is_a_404_indistinguishable_from_a_missing_one(
    ci, registered_model
):
    # Given team B's model, and an existing version of it, invisible to team A's CI token
    other_team = TeamFactory(slug="vision")
    RegisteredModelFactory(team=other_team, name="defect-detector")
    secret = ModelVersionFactory(registered_model__team=other_team, version="3.1.0")
    before = governance_row_counts()

    # When team A's CI registers a version of team B's model, or asks for B's version
    hidden = ci.post(URL, payload(team="vision", model="defect-detector"), format="json")
    missing = ci.post(URL, payload(team="vision", model="no-such-model"), format="json")
    read = ci.get(f"/api/v1/versions/{secret.pk}/")
    listed = ci.get(URL, {"team": "vision"})

    # Then both writes answer exactly like a missing model, the read is a 404,
    # the list is empty, and nothing of team B leaks
    assert assert_problem(hidden, 404) == assert_problem(missing, 404)
    assert_problem(read, 404)
    assert listed.status_code == 200
    assert listed.json()["results"] == []
    for response in (hidden, read, listed):
        assert secret.checksum not in response.content.decode()
        assert "defect-detector" not in response.content.decode()
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(payload())),
        ("application/x-www-form-urlencoded", "team=assistants&model=support-lora"),
        ("application/xml", "<version/>"),
    ],
)
def test_a_body_that_is_not_json_is_a_415(ci, content_type, body):
    # Given a registration sent with a non-JSON content type
    before = governance_row_counts()

    # When CI posts it
    response = ci.post(URL, body, content_type=content_type)

    # Then it is refused as an unsupported media type, and nothing changed
    assert_problem(response, 415)
    assert governance_row_counts() == before


def test_a_body_larger_than_the_limit_is_a_413(ci):
    # Given a syntactically valid registration one byte over the configured limit
    before = governance_row_counts()
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = payload(license="")
    padding = limit + 1 - len(json.dumps(body))
    body["license"] = "x" * padding
    raw = json.dumps(body)
    assert len(raw.encode()) == limit + 1

    # When CI posts it
    response = ci.post(URL, raw, content_type="application/json")

    # Then it is a 413 and nothing changed
    problem = assert_problem(response, 413)
    assert problem["detail"] == "The request body is larger than this endpoint accepts."
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "approved"),
        ("id", 999),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("registered_by", "admin"),
        ("approved_at", "2020-01-01T00:00:00Z"),
        ("approval_expires_at", "2999-01-01T00:00:00Z"),
        ("version_core", "9.9.9"),
        ("semver_key", "~"),
        ("registered_model", 1),
    ],
)
def test_a_registration_carrying_a_server_owned_field_is_refused(ci, field, value):
    # Given a registration that tries to set a field only the server may set
    before = governance_row_counts()

    # When CI posts it
    response = ci.post(URL, {**payload(), field: value}, format="json")

    # Then it is a 400 naming the field, and no version exists with or without it
    problem = assert_problem(response, 400)
    assert problem["errors"] == {field: ["This field is not accepted."]}
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    "raw",
    [
        '{"team": "assistants", "team": "vision", "model": "support-lora"}',
        '{"team": "assistants", "model": "support-lora", "version": NaN}',
        '{"team": "assistants", "model": "support-lora", "version": Infinity}',
        '{"team": "assistants", "model": "support-lora", "version": -Infinity}',
        '{"team": "assistants",',
        "[" * 100_000,
        "",
    ],
    ids=["duplicate-key", "nan", "infinity", "minus-infinity", "truncated", "deep", "empty"],
)
def test_a_body_that_is_not_strict_json_is_a_400(ci, raw):
    # Given a body that ordinary json.loads would accept or crash on
    before = governance_row_counts()

    # When CI posts it as JSON
    response = ci.post(URL, raw, content_type="application/json")

    # Then it is a 400 and nothing changed
    assert_problem(response, 400)
    assert governance_row_counts() == before


def test_a_body_that_is_not_utf8_is_a_400(ci):
    # Given bytes that are not UTF-8
    before = governance_row_counts()

    # When CI posts them as JSON
    response = ci.post(URL, b'{"team": "\xff\xfe"}', content_type="application/json")

    # Then it is a 400 and nothing changed
    problem = assert_problem(response, 400)
    assert problem["detail"] == "The body is not valid UTF-8."
    assert governance_row_counts() == before


def test_a_registration_without_credentials_is_a_401(api_client, registered_model):
    # Given no Authorization header
    before = governance_row_counts()

    # When someone posts a registration
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 401 with a challenge, and nothing changed
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="govboard"'
    assert governance_row_counts() == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer gbt_00000000_not-a-real-token",
        "Bearer not-our-format",
        "Bearer",
        "Bearer a b",
    ],
)
def test_a_registration_with_an_unknown_or_malformed_token_is_a_401(
    api_client, registered_model, header
):
    # Given a token that was never issued, or a malformed header
    before = governance_row_counts()
    api_client.credentials(HTTP_AUTHORIZATION=header)

    # When it is used to register
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 401 and nothing changed
    assert_problem(response, 401)
    assert governance_row_counts() == before


def test_a_revoked_token_is_a_401_at_once(api_client, team, registered_model):
    # Given a token that worked, then was revoked by an administrator
    admin = UserFactory(is_superuser=True)
    account, raw = service_account_with_token(teams=[team], admin=admin)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get(URL).status_code == 200
    services.api_token_revoke(actor=admin, token=account.tokens.get())
    before = governance_row_counts()

    # When it is used to register
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 401 and nothing changed
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The token is revoked or expired."
    assert governance_row_counts() == before


def test_an_expired_token_is_a_401(api_client, team, registered_model):
    # Given a token whose expiry has passed
    account, raw = service_account_with_token(teams=[team])
    ApiToken.objects.filter(service_account=account).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = governance_row_counts()

    # When it is used to register
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 401 and nothing changed
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The token is revoked or expired."
    assert governance_row_counts() == before


def test_a_token_of_a_disabled_service_account_is_a_401(api_client, team, registered_model):
    # Given a valid token of a service account that was disabled
    account, raw = service_account_with_token(teams=[team])
    account.is_active = False
    account.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = governance_row_counts()

    # When it is used to register
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 401 and nothing changed
    assert_problem(response, 401)
    assert governance_row_counts() == before


def test_a_token_without_the_register_scope_is_a_403(api_client, team, registered_model):
    # Given a token that may read and promote but not register
    _, raw = service_account_with_token(
        teams=[team], scopes=[TokenScope.READ, TokenScope.PROMOTE, TokenScope.EVIDENCE]
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = governance_row_counts()

    # When it is used to register
    response = api_client.post(URL, payload(), format="json")

    # Then it is a 403 and nothing changed
    assert_problem(response, 403)
    assert governance_row_counts() == before


STORAGE_URI_CORPUS = [
    "s3://b/../x",
    "s3://b/a/../../x",
    "s3://b/./x",
    "s3://b/%2e%2e%2fx",
    "s3://b/%2e%2e/x",
    "s3://b/%252e%252e/x",
    "s3://b/%25252e%25252e/x",
    "s3://b/a\\..\\x",
    "s3://b/a%5c..%5cx",
    "s3://b/a\x00b",
    "s3://b/a%00b",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "http://169.254.169.254/latest/meta-data/",
    "ftp://example.test/x",
    "dict://127.0.0.1:11211/",
    "javascript:alert(1)",
    "file:///etc/../passwd",
    "file:///etc/%2e%2e/passwd",
    "file://evil.test/etc/passwd",
    "file:relative/path",
    "s3://key:secret@bucket/x",
    "https://user:password@models.example.test/x",
    "https://user@models.example.test/x",
    "s3:///no-bucket",
    "s3://b/x#fragment",
    "s3://b/a b",
    "s3://b/a\u202eb",
    "",
    "s3://b/" + "a" * 1100,
]


@pytest.mark.parametrize("storage_uri", STORAGE_URI_CORPUS)
def test_a_storage_uri_with_traversal_ssrf_or_credentials_is_refused(ci, storage_uri):
    # Given a storage URI from the traversal / SSRF / credential corpus
    before = governance_row_counts()

    # When CI registers a version with it
    response = ci.post(URL, payload(storage_uri=storage_uri), format="json")

    # Then it is a 400 on storage_uri, and nothing changed
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["storage_uri"]
    assert governance_row_counts() == before
