"""The ``govboard`` CLI against a live server: the exit codes a CI step branches on.

Most cases call ``govboard_cli.main([...])`` in-process (fast, and capsys sees the output);
one runs the installed console script in a subprocess to prove the entry point works.
A small stub HTTP server covers the status codes the real server is hard to provoke
(413, 415, 422, 429, 5xx, a non-JSON answer, a retry after 503).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import govboard_cli as cli
from approvals import services as approval_services
from registry.models import ModelVersion
from tests.govboard_cli.support import (
    complete_metadata_file,
    make_reviewable,
    register_args,
    run_pending_checks,
)
from tests.registry.factories import (
    PASSWORD,
    approver,
    service_account_with_token,
    sha256_of,
)

GOVBOARD_SCRIPT = Path(sys.executable).with_name("govboard")


# ------------------------------------------------------------------ register


def test_register_creates_the_model_and_version_then_answers_idempotently(ci, run):
    code, body, err = run(*register_args(ci))

    assert code == cli.EXIT_OK, err
    assert body["state"] == "draft"
    assert body["checksum"] == hashlib.sha256(b"weights v1").hexdigest()
    assert "model assistants/support-lora created" in err
    assert "registered: id" in err
    assert ci.token not in err

    again_code, again, again_err = run(*register_args(ci))

    assert again_code == cli.EXIT_OK, again_err
    assert again["id"] == body["id"]
    assert "already registered" in again_err
    assert ModelVersion.objects.count() == 1


def test_register_with_json_only_prints_nothing_on_stderr(ci, run):
    code, body, err = run("--json", *register_args(ci))

    assert code == cli.EXIT_OK
    assert body["version"] == "1.0.0"
    assert err == ""


def test_same_version_with_another_checksum_is_a_conflict_exit_5(ci, run):
    assert run(*register_args(ci))[0] == cli.EXIT_OK

    code, problem, err = run(
        "register",
        "--url",
        ci.url,
        "--team",
        "assistants",
        "--model",
        "support-lora",
        "--version",
        "1.0.0",
        "--checksum",
        sha256_of("other weights"),
        "--storage-uri",
        "s3://models/support-lora/1.0.0/",
    )

    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409
    assert "HTTP 409" in err
    assert ModelVersion.objects.get().checksum == hashlib.sha256(b"weights v1").hexdigest()


def test_reusing_an_idempotency_key_with_another_payload_is_exit_5(ci, run):
    code, _, err = run(*register_args(ci, "1.0.0", "--idempotency-key", "build-42"))
    assert code == cli.EXIT_OK, err

    code, problem, err = run(*register_args(ci, "1.1.0", "--idempotency-key", "build-42"))

    assert code == cli.EXIT_CONFLICT, err
    assert problem["status"] == 422


def test_a_bad_token_is_exit_6_and_no_token_is_ever_printed(ci, run, monkeypatch):
    monkeypatch.setenv("GOVBOARD_TOKEN", "gbt_nothere_notasecret")

    code, problem, err = run(*register_args(ci))

    assert code == cli.EXIT_AUTH
    assert problem["status"] == 401
    assert "notasecret" not in err and "notasecret" not in json.dumps(problem)


def test_a_token_without_the_register_scope_is_exit_6(ci, run, monkeypatch):
    _, read_only = service_account_with_token(teams=[ci.team], scopes=["read"])
    monkeypatch.setenv("GOVBOARD_TOKEN", read_only)

    code, problem, _ = run(*register_args(ci))

    assert code == cli.EXIT_AUTH
    assert problem["status"] == 403


def test_invalid_input_is_exit_8_with_the_field_errors(ci, run):
    code, problem, err = run(*register_args(ci, "not-a-version"))

    assert code == cli.EXIT_INVALID
    assert problem["status"] == 400
    assert "version" in problem["errors"]
    assert "version:" in err


def test_an_unknown_version_is_exit_7(ci, run):
    code, problem, _ = run("status", "--url", ci.url, "--version", "999999")

    assert code == cli.EXIT_NOT_FOUND
    assert problem["status"] == 404


# ------------------------------------------------------------------ promotion


def test_incomplete_metadata_blocks_the_request_and_status_exits_4_with_reasons(ci, run):
    _, version, _ = run(*register_args(ci))

    code, request, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))

    assert code == cli.EXIT_BLOCKED
    assert request["state"] == "changes_requested"
    assert "training dataset" in err

    code, body, err = run("status", "--url", ci.url, "--request", str(request["id"]))
    assert code == cli.EXIT_BLOCKED
    assert body["state"] == "changes_requested"
    assert "is changes_requested" in err
    assert "training dataset" in err
    assert "license" in err

    code, body, err = run("status", "--url", ci.url, "--version", str(version["id"]), "--wait")
    assert code == cli.EXIT_BLOCKED  # blocked is terminal: --wait returns at once
    assert body["state"] == "draft"
    assert "training dataset" in err


def test_a_complete_version_goes_to_review_pending_is_3_and_approval_is_0(ci, run, tmp_path):
    metadata = complete_metadata_file(tmp_path)
    _, version, _ = run(*register_args(ci, "1.0.0", "--metadata", str(metadata)))
    make_reviewable(version["id"])

    code, request, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))
    assert code == cli.EXIT_OK, err
    assert request["state"] in ("in_review", "submitted", "checking")
    run_pending_checks(request["id"])

    code, body, err = run("status", "--url", ci.url, "--request", str(request["id"]))
    assert code == cli.EXIT_PENDING
    assert body["state"] == "in_review"

    started = time.monotonic()
    code, body, err = run(
        "status",
        "--url",
        ci.url,
        "--version",
        str(version["id"]),
        "--wait",
        "--timeout",
        "1",
        "--interval",
        "0.2",
    )
    elapsed = time.monotonic() - started
    assert code == cli.EXIT_PENDING
    assert 1 <= elapsed < 10
    assert body["state"] == "candidate"
    assert "still pending after 1s" in err

    for role in ("platform", "product", "security"):
        signer = approver(ci.team, role, username=f"{role}-lead")
        approval_services.signoff_record(
            actor=signer, request=request["id"], role=role, password=PASSWORD
        )

    code, body, err = run(
        "status", "--url", ci.url, "--request", str(request["id"]), "--wait", "--timeout", "5"
    )
    assert code == cli.EXIT_OK, err
    assert body["state"] == "approved"
    assert len(body["signoffs"]) == 3
    code, body, _ = run("status", "--url", ci.url, "--version", str(version["id"]))
    assert (code, body["state"]) == (cli.EXIT_OK, "approved")


def test_a_second_open_request_is_a_conflict_exit_5(ci, run, tmp_path):
    metadata = complete_metadata_file(tmp_path)
    _, version, _ = run(*register_args(ci, "1.0.0", "--metadata", str(metadata)))
    make_reviewable(version["id"])
    code, _, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))
    assert code == cli.EXIT_OK, err

    code, problem, _ = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))

    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409


def _approved(ci, run, tmp_path) -> tuple[dict, dict]:
    """Register a complete version through the CLI, promote it, and have the board sign."""
    metadata = complete_metadata_file(tmp_path)
    _, version, _ = run(*register_args(ci, "1.0.0", "--metadata", str(metadata)))
    make_reviewable(version["id"])
    code, request, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))
    assert code == cli.EXIT_OK, err
    run_pending_checks(request["id"])
    for role in ("platform", "product", "security"):
        signer = approver(ci.team, role, username=f"{role}-lead")
        approval_services.signoff_record(
            actor=signer, request=request["id"], role=role, password=PASSWORD
        )
    return version, request


def test_the_signed_decision_record_is_written_to_a_file(ci, run, tmp_path):
    _, request = _approved(ci, run, tmp_path)
    output = tmp_path / "decision.dsse.json"

    code, summary, err = run(
        "decision", "--url", ci.url, "--request", str(request["id"]), "--output", str(output)
    )

    assert code == cli.EXIT_OK, err
    envelope = json.loads(output.read_bytes())
    assert "payload" in envelope and envelope.get("signatures")
    assert summary["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()

    code, printed, _ = run("decision", "--url", ci.url, "--request", str(request["id"]))
    assert code == cli.EXIT_OK
    assert printed == envelope


# ------------------------------------------------------------------ evidence and deployments


def test_evidence_upload_returns_its_digest(ci, run, tmp_path):
    _, version, _ = run(*register_args(ci))
    sbom = tmp_path / "sbom.cdx.json"
    sbom.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.5",
                "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
                "version": 1,
                "components": [],
            }
        )
    )

    code, evidence, err = run(
        "upload-evidence", "--url", ci.url, "--version", str(version["id"]), "--kind", "sbom",
        str(sbom),
    )  # fmt: skip

    assert code == cli.EXIT_OK, err
    assert evidence["sha256"] == hashlib.sha256(sbom.read_bytes()).hexdigest()
    assert evidence["kind"] == "sbom"


def test_a_deployment_of_an_approved_version_is_recorded_and_a_draft_is_refused(ci, run, tmp_path):
    version, _ = _approved(ci, run, tmp_path)
    _, draft, _ = run(*register_args(ci, "2.0.0"))

    code, deployment, err = run(
        "record-deployment", "--url", ci.url, "--version", str(version["id"]),
        "--environment", "production", "--customer-scope", "eu",
        "--started-at", "2025-01-31T12:00:00Z",
    )  # fmt: skip

    assert code == cli.EXIT_OK, err
    assert deployment["environment"] == "production"
    assert "recorded" in err

    code, problem, _ = run(
        "record-deployment", "--url", ci.url, "--version", str(draft["id"]),
        "--environment", "production",
    )  # fmt: skip
    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409


# ------------------------------------------------------------------ transport and usage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_is_exit_9(monkeypatch, run):
    monkeypatch.setenv("GOVBOARD_TOKEN", "gbt_abc_def")
    url = f"http://127.0.0.1:{_free_port()}"

    started = time.monotonic()
    code, problem, err = run("status", "--url", url, "--version", "1")

    assert code == cli.EXIT_SERVER
    assert problem["status"] is None
    assert "Cannot reach" in err
    assert time.monotonic() - started < 10  # two quick retries, no hang


def test_usage_errors_are_exit_2(monkeypatch, run, tmp_path):
    monkeypatch.delenv("GOVBOARD_TOKEN", raising=False)
    assert run("status", "--version", "1")[0] == cli.EXIT_USAGE  # no token
    monkeypatch.setenv("GOVBOARD_TOKEN", "gbt_abc_def")
    assert run("status")[0] == cli.EXIT_USAGE  # neither --version nor --request
    assert run("status", "--version", "x")[0] == cli.EXIT_USAGE
    assert run("frobnicate")[0] == cli.EXIT_USAGE
    code, _, err = run("register", "--team", "t", "--model", "m", "--version", "1.0.0")
    assert code == cli.EXIT_USAGE
    assert "checksum" in err and "storage_uri" in err
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"x")
    code, _, err = run(
        "register", "--team", "t", "--model", "m", "--version", "1.0.0", "--storage-uri",
        "s3://b/", "--artifact", str(artifact), "--checksum", sha256_of("y"),
    )  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert "does not match" in err
    code, _, err = run(
        "register", "--team", "t", "--model", "m", "--version", "1.0.0", "--storage-uri",
        "s3://b/", "--checksum", sha256_of("y"), "--kind", "adapter",
    )  # fmt: skip
    assert code == cli.EXIT_USAGE
    assert "--owner" in err
    assert run("status", "--url", "ftp://example", "--version", "1")[0] == cli.EXIT_USAGE


def test_help_documents_every_exit_code(run):
    code, out, _ = run("--help")

    assert code == 0
    for number in cli.EXIT_CODES:
        assert f"  {number}  " in out


def test_the_installed_console_script_works(ci):
    assert GOVBOARD_SCRIPT.exists(), f"{GOVBOARD_SCRIPT} missing: run `uv sync`"
    env = {**os.environ, "GOVBOARD_URL": ci.url, "GOVBOARD_TOKEN": ci.token}
    args = register_args(ci)
    url_index = args.index("--url")
    del args[url_index : url_index + 2]  # the URL comes from GOVBOARD_URL

    result = subprocess.run(
        [str(GOVBOARD_SCRIPT), "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "draft"
    assert result.stderr == ""

    pending = subprocess.run(
        [str(GOVBOARD_SCRIPT), "status", "--version", str(json.loads(result.stdout)["id"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pending.returncode == cli.EXIT_PENDING, pending.stderr
    assert "no promotion request yet" in pending.stderr


# ------------------------------------------------------------------ stub server: status codes


def _problem(status: int) -> tuple[int, str, bytes]:
    body = {"type": "https://govboard.invalid/problems/x", "title": "T", "status": status}
    return status, "application/problem+json", json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, cli.EXIT_INVALID),
        (401, cli.EXIT_AUTH),
        (403, cli.EXIT_AUTH),
        (404, cli.EXIT_NOT_FOUND),
        (409, cli.EXIT_CONFLICT),
        (413, cli.EXIT_INVALID),
        (415, cli.EXIT_INVALID),
        (422, cli.EXIT_CONFLICT),
        (429, cli.EXIT_SERVER),
        (500, cli.EXIT_SERVER),
        (503, cli.EXIT_SERVER),
    ],
)
def test_http_statuses_map_to_exit_codes(stub, run, status, expected):
    stub.responses.append(_problem(status))

    code, problem, _ = run("--retries", "0", "status", "--url", stub.url, "--request", "7")

    assert code == expected
    assert problem["status"] == status


def test_a_non_json_answer_is_a_server_error(stub, run):
    stub.responses.append((200, "text/html", b"<html>proxy login</html>"))

    assert run("status", "--url", stub.url, "--request", "7")[0] == cli.EXIT_SERVER


def test_idempotent_calls_are_retried_after_503_with_the_same_key(stub, run, tmp_path):
    version = {"id": 5, "version": "1.0.0", "state": "draft", "a_future_field": {"x": 1}}
    stub.responses.extend([_problem(503), (201, "application/json", json.dumps(version).encode())])

    code, body, _ = run(
        "register", "--url", stub.url, "--team", "t", "--model", "m", "--version", "1.0.0",
        "--checksum", sha256_of("w"), "--storage-uri", "s3://b/m/1.0.0/",
    )  # fmt: skip

    assert code == cli.EXIT_OK
    assert body == version  # unknown fields pass through untouched
    keys = {seen["headers"]["Idempotency-Key"] for seen in stub.seen}
    assert len(stub.seen) == 2 and len(keys) == 1
    assert stub.seen[0]["headers"]["Authorization"] == "Bearer gbt_stub_secret"


def test_unknown_request_states_and_fields_are_tolerated_as_pending(stub, run):
    body = {"id": 7, "state": "awaiting_quantum_review", "new": [1, 2]}
    stub.responses.append((200, "application/json", json.dumps(body).encode()))

    code, out, _ = run("status", "--url", stub.url, "--request", "7")

    assert code == cli.EXIT_PENDING
    assert out == body


def test_upload_sends_multipart_with_the_kind_and_checks_the_digest(stub, run, tmp_path):
    sbom = tmp_path / "sbom.json"
    sbom.write_bytes(b'{"bomFormat": "CycloneDX"}')
    digest = hashlib.sha256(sbom.read_bytes()).hexdigest()
    good = {"id": 1, "kind": "sbom", "sha256": digest, "size": sbom.stat().st_size}
    stub.responses.append((201, "application/json", json.dumps(good).encode()))

    code, body, _ = run(
        "upload-evidence", "--url", stub.url, "--version", "5", "--kind", "sbom", str(sbom)
    )

    assert code == cli.EXIT_OK
    assert body == good
    sent = stub.seen[0]
    assert sent["path"] == "/api/v1/versions/5/evidence/"
    assert sent["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="kind"\r\n\r\nsbom\r\n' in sent["body"]
    assert b'filename="sbom.json"' in sent["body"]
    assert sbom.read_bytes() in sent["body"]

    stub.responses.append(
        (201, "application/json", json.dumps({**good, "sha256": "0" * 64}).encode())
    )
    code, _, err = run(
        "upload-evidence", "--url", stub.url, "--version", "5", "--kind", "sbom", str(sbom)
    )
    assert code == cli.EXIT_SERVER
    assert "corrupted" in err
