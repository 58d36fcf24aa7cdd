"""IN-2, IN-3, IN-4, SEC-4: hostile bodies, oversized uploads, tricky file names and
spoofable names are refused quickly with a problem, and leave nothing behind.

The registration endpoint's own strict-JSON refusals (deep nesting, NaN, duplicate keys,
bad UTF-8, oversized body), its semver leading-zero and build-metadata collisions live in
tests/registry/api/test_version_registration_refusals.py and ..._idempotency.py; here the same
corpus is run against every other write, plus huge numbers and gzip for all of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Evidence, RegisteredModel, Team
from tests.world import World, assert_problem, governance_snapshot, registration_payload

pytestmark = pytest.mark.django_db

SERVER_KEY = re.compile(r"^evidence/[0-9a-f]{32}$")
TIME_LIMIT_SECONDS = 2.0


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Evidence files land in a fresh directory, so "nothing stored" can be checked."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(media_root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()
    )


def write_urls(world: World) -> dict[str, tuple[str, str]]:
    return {
        "register-version": ("post", "/api/v1/versions/"),
        "upload-evidence": ("post", f"/api/v1/versions/{world.draft_a.pk}/evidence/"),
        "upsert-model": ("put", "/api/v1/teams/alpha/models/support-lora/"),
        "request-promotion": ("post", "/api/v1/promotion-requests/"),
        "record-deployment": ("post", "/api/v1/deployments/"),
        "end-deployment": ("post", f"/api/v1/deployments/{world.deployment_a.pk}/end/"),
    }


HOSTILE_BODIES = {
    "deep-nesting": b"[" * 100_000,
    "deep-object-nesting": b'{"a":' * 50_000,
    "huge-number": b'{"version": 1e400, "ended_at": 1e400, "kind": 1e400, "team": 1e400}',
    "huge-integer": b'{"version": ' + b"9" * 5000 + b"}",
    "nan": b'{"version": NaN, "ended_at": NaN, "kind": NaN}',
    "infinity": b'{"version": Infinity, "ended_at": -Infinity, "kind": Infinity}',
    "duplicate-keys": b'{"version": 1, "version": 2}',
    "invalid-utf8": b'{"kind": "\xff\xfe\xc3\x28"}',
    "gzip": gzip.compress(json.dumps({"version": 1, "ended_at": "2030-01-01T00:00:00Z"}).encode()),
}
# Already run against the registration endpoint by test_version_registration_refusals.py.
COVERED_ELSEWHERE = {
    ("register-version", name)
    for name in ("deep-nesting", "nan", "infinity", "duplicate-keys", "invalid-utf8")
}
ENDPOINTS = [
    "register-version",
    "upload-evidence",
    "upsert-model",
    "request-promotion",
    "record-deployment",
    "end-deployment",
]


@pytest.mark.parametrize(
    ("endpoint", "body_name"),
    [
        (endpoint, name)
        for endpoint in ENDPOINTS
        for name in HOSTILE_BODIES
        if (endpoint, name) not in COVERED_ELSEWHERE
    ],
)
def test_a_hostile_json_body_is_a_fast_400_problem_that_changes_nothing(
    world, media_root, endpoint, body_name
):
    # Given a hostile body and the team's CI
    method, url = write_urls(world)[endpoint]
    client = world.client("ci_a")
    before = governance_snapshot()
    extra = {"HTTP_CONTENT_ENCODING": "gzip"} if body_name == "gzip" else {}

    # When it is sent as JSON
    started = time.monotonic()
    response = getattr(client, method)(
        url, HOSTILE_BODIES[body_name], content_type="application/json", **extra
    )
    elapsed = time.monotonic() - started

    # Then it is a 400 problem, quickly, and nothing was stored or audited
    assert_problem(response, 400)
    assert elapsed < TIME_LIMIT_SECONDS, f"{elapsed:.2f}s"
    assert governance_snapshot() == before
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e not in {"register-version", "upload-evidence"}]
)
def test_a_json_body_over_the_limit_is_a_413_that_stores_nothing(world, settings, endpoint):
    # Given a body one byte over the JSON limit (a long string value in a valid document)
    method, url = write_urls(world)[endpoint]
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    skeleton = json.dumps({"padding": ""})
    raw = json.dumps({"padding": "x" * (limit + 1 - len(skeleton))})
    assert len(raw) == limit + 1
    before = governance_snapshot()

    # When the team's CI sends it
    response = getattr(world.client("ci_a"), method)(url, raw, content_type="application/json")

    # Then it is a 413 problem and nothing changed
    problem = assert_problem(response, 413)
    assert problem["detail"] == "The request body is larger than this endpoint accepts."
    assert governance_snapshot() == before


# --- Evidence uploads (IN-3, SEC-4) --------------------------------------------------------


def evidence_url(world: World) -> str:
    return f"/api/v1/versions/{world.draft_a.pk}/evidence/"


def test_evidence_over_the_configured_size_is_a_413_and_nothing_is_stored(
    world, settings, media_root
):
    # Given an evidence limit of 1 KiB, and a 2 KiB file
    settings.GOVBOARD_MAX_EVIDENCE_BYTES = 1024
    upload = SimpleUploadedFile("eval.json", b"x" * 2048, "application/json")
    before = governance_snapshot()

    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world), {"kind": "eval_package", "file": upload}, format="multipart"
    )

    # Then it is a 413 problem, no Evidence row, no file in storage
    assert_problem(response, 413)
    assert Evidence.objects.count() == 0
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


def test_inline_json_evidence_over_the_configured_size_is_a_413_and_nothing_is_stored(
    world, settings, media_root
):
    # Given an evidence limit of 1 KiB, and 2 KiB of inline JSON content
    settings.GOVBOARD_MAX_EVIDENCE_BYTES = 1024
    before = governance_snapshot()

    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world),
        {"kind": "eval_package", "content": {"notes": "x" * 2048}},
        format="json",
    )

    # Then it is a 413 problem and nothing is stored
    assert_problem(response, 413)
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


def test_an_evidence_body_declared_far_over_the_limit_is_refused_before_it_is_read(
    world, settings, media_root
):
    # Given an evidence limit of 1 KiB and a multipart body of 200 KiB
    settings.GOVBOARD_MAX_EVIDENCE_BYTES = 1024
    upload = SimpleUploadedFile("eval.json", b"x" * 200 * 1024, "application/json")
    before = governance_snapshot()

    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world), {"kind": "eval_package", "file": upload}, format="multipart"
    )

    # Then the declared length alone refuses it (413), and nothing is stored
    problem = assert_problem(response, 413)
    assert problem["detail"] == "The request body is larger than this endpoint accepts."
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


@pytest.mark.parametrize("transport", ["multipart", "json"])
def test_evidence_whose_declared_sha256_differs_from_its_content_is_refused(
    world, media_root, transport
):
    # Given content and the digest of something else
    wrong = hashlib.sha256(b"something else").hexdigest()
    before = governance_snapshot()
    client = world.client("ci_a")

    # When the team's CI uploads it
    if transport == "multipart":
        upload = SimpleUploadedFile("eval.json", b'{"accuracy": 0.9}', "application/json")
        response = client.post(
            evidence_url(world),
            {"kind": "eval_package", "file": upload, "sha256": wrong},
            format="multipart",
        )
    else:
        response = client.post(
            evidence_url(world),
            {"kind": "eval_package", "content": {"accuracy": 0.9}, "sha256": wrong},
            format="json",
        )

    # Then it is a 400 naming the digest, and nothing is stored
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["sha256"]
    assert problem["errors"]["sha256"][0].startswith(f"declared {wrong}, received ")
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


def test_more_files_than_allowed_in_one_upload_is_a_400_and_nothing_is_stored(
    world, settings, media_root
):
    # Given one file more than DATA_UPLOAD_MAX_NUMBER_FILES
    count = settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1
    files = {f"file{i}": SimpleUploadedFile(f"f{i}.json", b"{}") for i in range(count)}
    before = governance_snapshot()

    # When the team's CI uploads them
    response = world.client("ci_a").post(
        evidence_url(world), {"kind": "eval_package", **files}, format="multipart"
    )

    # Then it is a 400 problem, and nothing is stored
    problem = assert_problem(response, 400)
    assert (
        problem["detail"] == "The number of files exceeded settings.DATA_UPLOAD_MAX_NUMBER_FILES."
    )
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


@pytest.mark.parametrize(
    ("client_name", "kept_as"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/etc/shadow", "shadow"),
        ("a\x00b.json", "ab.json"),
        ("%2e%2e%2fpasswd", "%2e%2e%2fpasswd"),
    ],
)
def test_a_multipart_file_name_is_metadata_only_and_the_storage_key_is_the_servers(
    world, media_root, client_name, kept_as
):
    # Given a file whose client name tries to escape the storage directory
    upload = SimpleUploadedFile(client_name, b'{"accuracy": 0.9}', "application/json")

    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world), {"kind": "eval_package", "file": upload}, format="multipart"
    )

    # Then it is stored under a server-made key inside evidence/, with the (sanitised) client
    # name kept only as metadata
    assert response.status_code == 201, response.content
    evidence = Evidence.objects.get()
    assert SERVER_KEY.match(evidence.storage_key)
    assert evidence.client_filename == kept_as
    assert stored_files(media_root) == [evidence.storage_key]
    assert (media_root / evidence.storage_key).read_bytes() == b'{"accuracy": 0.9}'


@pytest.mark.parametrize("client_name", ["../../etc/passwd", "..\\..\\x", "/etc/shadow"])
def test_an_inline_evidence_file_name_is_kept_verbatim_as_metadata_only(
    world, media_root, client_name
):
    # Given inline JSON evidence named with a traversal
    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world),
        {"kind": "eval_package", "content": {"accuracy": 0.9}, "filename": client_name},
        format="json",
    )

    # Then the name is recorded as given, and the bytes live under a server-made key
    assert response.status_code == 201, response.content
    evidence = Evidence.objects.get()
    assert evidence.client_filename == client_name
    assert SERVER_KEY.match(evidence.storage_key)
    assert stored_files(media_root) == [evidence.storage_key]


def test_an_inline_evidence_file_name_with_nul_is_a_400_and_nothing_is_stored(world, media_root):
    # Given inline JSON evidence whose name carries a NUL byte
    before = governance_snapshot()

    # When the team's CI uploads it
    response = world.client("ci_a").post(
        evidence_url(world),
        {"kind": "eval_package", "content": {}, "filename": "a\x00.json"},
        format="json",
    )

    # Then it is a 400 on filename, and nothing is stored
    problem = assert_problem(response, 400)
    assert problem["errors"] == {"filename": ["Null characters are not allowed."]}
    assert stored_files(media_root) == []
    assert governance_snapshot() == before


# --- Names (IN-4) ---------------------------------------------------------------------------

SPOOFED_NAMES = {
    "cyrillic-a": "\u0430dapter",
    "mixed-script": "support-\u043bora",
    "greek-omicron": "supp\u03bfrt",
    "fullwidth": "\uff41dapter",
    "uppercase": "Adapter",
    "case-fold-sharp-s": "stra\u00dfe",
    "dot-dot": "a..b",
    "only-dot-dot": "..",
    "leading-dot": ".hidden",
    "trailing-dot": "adapter.",
    "zero-width": "ad\u200bapter",
    "space": "ad apter",
}


@pytest.mark.parametrize("name", SPOOFED_NAMES.values(), ids=SPOOFED_NAMES.keys())
def test_a_model_name_that_is_confusable_mixed_script_or_case_folded_is_a_400(world, name):
    # Given a model "adapter" of team A, and a name that looks like it or hides a trick
    client = world.client("ci_a")
    owner = world.model_a.owner.username
    body = {
        "kind": "adapter",
        "owner": owner,
        "backup_owner": world.model_a.backup_owner.username,
        "escalation_contact": "pager@example.test",
    }
    assert client.put("/api/v1/teams/alpha/models/adapter/", body, format="json").status_code == 201
    before = governance_snapshot()

    # When the team's CI creates a model under the spoofed name
    response = client.put(f"/api/v1/teams/alpha/models/{name}/", body, format="json")

    # Then it is a 400 on the name, and no second model exists
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["name"]
    assert governance_snapshot() == before
    names = RegisteredModel.objects.filter(team=world.team_a).values_list("name", flat=True)
    assert sorted(names) == ["adapter", "support-lora"]


@pytest.mark.parametrize("field", ["team", "model"])
@pytest.mark.parametrize(
    "name", ["\u0430lpha", "Alpha", "alph\u0430", "..", ".alpha", "al..pha"], ids=str
)
def test_a_registration_naming_a_spoofed_team_or_model_is_a_400(world, field, name):
    # Given a registration whose team or model name is a look-alike of a real one
    before = governance_snapshot()

    # When the team's CI posts it
    response = world.client("ci_a").post(
        "/api/v1/versions/", registration_payload(**{field: name}), format="json"
    )

    # Then it is a 400 on exactly that field, and nothing changed
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == [field]
    assert governance_snapshot() == before


def model_payload(world: World) -> dict:
    return {
        "kind": "adapter",
        "owner": world.model_a.owner.username,
        "backup_owner": world.model_a.backup_owner.username,
        "escalation_contact": "pager@example.test",
    }


@pytest.mark.parametrize("slug", ["\u0430lpha", "Alpha", "ALPHA", "alpha\n"])
def test_a_look_alike_team_in_the_url_is_a_400_and_such_a_team_cannot_exist(world, slug):
    # Given team "alpha" / When the team's CI writes to a look-alike team's model
    before = governance_snapshot()
    response = world.client("ci_a").put(
        f"/api/v1/teams/{quote(slug)}/models/support-lora/",
        model_payload(world),
        format="json",
    )

    # Then the path is validated like the same name in a body: a 400 naming the team,
    # nothing changed, and the model layer refuses such a slug outright
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["team"]
    assert governance_snapshot() == before
    with pytest.raises(Exception, match="lowercase letters"):
        Team(slug=slug, name="Spoof").full_clean()


@pytest.mark.parametrize("method", ["get", "put"])
@pytest.mark.parametrize(
    "name",
    ["support-lora\n", "support-lora\r\n", "support\x00lora", "Support-lora", "support-lor\u0430"],
)
def test_a_model_name_in_the_path_is_validated_like_a_body_field(world, method, name):
    # Given a model name in the URL that the same field in a JSON body would refuse
    # (a trailing newline: Python's "$" matches before one; NUL; capitals; a Cyrillic a)
    before = governance_snapshot()

    # When the team's CI reads or writes it
    response = getattr(world.client("ci_a"), method)(
        f"/api/v1/teams/alpha/models/{quote(name)}/",
        model_payload(world),
        format="json",
    )

    # Then it is a 400 naming the field, no look-alike model exists, and nothing changed
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["name"]
    assert governance_snapshot() == before
    # (compared in Python: PostgreSQL text cannot even hold the NUL to filter by)
    assert name not in set(RegisteredModel.objects.values_list("name", flat=True))


BAD_DATETIMES = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-30T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-01-01T25:00:00Z",
    "not-a-date",
]


@pytest.mark.parametrize("when", BAD_DATETIMES)
def test_an_out_of_range_or_impossible_deployment_time_is_a_400_never_a_server_error(world, when):
    # Given a time past the calendar's edge once converted to UTC, or impossible
    before = governance_snapshot()
    client = world.client("ci_a")

    # When the team's CI records or ends a deployment with it, or filters the list by it
    started = client.post(
        "/api/v1/deployments/",
        {"version": world.approved_a.pk, "environment": "production", "started_at": when},
        format="json",
    )
    ended = client.post(
        f"/api/v1/deployments/{world.deployment_a.pk}/end/", {"ended_at": when}, format="json"
    )
    listed = [client.get("/api/v1/deployments/", {name: when}) for name in ("from", "until")]

    # Then every answer is a 400 problem, and nothing changed
    for response in (started, ended, *listed):
        assert_problem(response, 400)
    assert governance_snapshot() == before


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/versions/", {"team": "al\x00pha"}),
        ("/api/v1/versions/", {"model": "\x00"}),
        ("/api/v1/versions/", {"state": "draft\x00"}),
        ("/api/v1/promotion-requests/", {"team": "\x00"}),
        ("/api/v1/promotion-requests/", {"state": "in_review\x00"}),
        ("/api/v1/deployments/", {"environment": "prod\x00"}),
        ("/api/v1/deployments/", {"customer_scope": "\x00acme"}),
    ],
)
def test_a_nul_character_in_a_list_filter_is_a_400_not_a_database_error(world, url, params):
    # Given a filter value with a NUL character (PostgreSQL text cannot hold one)
    # When a reader lists with it
    response = world.client("ci_a_read").get(url, params)

    # Then it is a 400 problem naming the parameter
    problem = assert_problem(response, 400)
    assert problem["detail"] == f"Query parameter {next(iter(params))!r} contains a NUL character."


def test_a_non_ascii_digit_promotion_request_filter_is_a_400_not_a_server_error(world):
    # Given a version filter of a superscript digit ("²".isdigit() is True, int("²") fails)
    # When a reader lists promotion requests with it
    response = world.client("ci_a_read").get("/api/v1/promotion-requests/", {"version": "\u00b2"})

    # Then it is refused as a bad id, like every id filter, never a 5xx
    problem = assert_problem(response, 400)
    assert problem["errors"] == {"version": ["invalid"]}
