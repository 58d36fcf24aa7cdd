"""``link-dataset``, and ``request-promotion`` / ``recheck`` / ``withdraw`` waiting for the
automated checks: exit 0 in review, 4 blocked, 3 still checking at the timeout.

Against the live server the Celery worker is "down" where a test needs the request to stay
``submitted`` (``enqueue_checks`` does nothing), and the test plays the worker from the
client's pause between polls, so no test depends on timing.
"""

from __future__ import annotations

import hashlib
import json

import pytest

import govboard_cli as cli
from approvals.models import PromotionRequest
from approvals.services import checking as checking_services
from audit.models import AuditEvent
from govboard_cli import waiting
from registry.models import DatasetVersion, ModelVersion, VersionDataset
from tests.approvals.factories import SAMPLES
from tests.govboard_cli.support import (
    complete_metadata_file,
    make_reviewable,
    register_args,
    run_pending_checks,
)

TRAIN = (
    "--dataset", "support-tickets", "--dataset-version", "2026-10", "--use", "train",
    "--window-start", "2026-06-01T00:00:00Z", "--window-end", "2026-09-30T23:59:59Z",
)  # fmt: skip
EVAL = (
    "--dataset", "support-eval", "--dataset-version", "2026-10", "--use", "eval",
    "--window-start", "2026-10-01T00:00:00Z", "--window-end", "2026-10-14T23:59:59Z",
)  # fmt: skip


@pytest.fixture
def worker_down(monkeypatch):
    """Checks are not enqueued after submit: the request stays ``submitted``."""
    monkeypatch.setattr(checking_services, "enqueue_checks", lambda request_id: None)


@pytest.fixture
def worker_in_pause(monkeypatch, worker_down):
    """The worker runs the pending checks while the client pauses between polls."""
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        for request_id in PromotionRequest.objects.filter(
            state__in=["submitted", "checking"]
        ).values_list("id", flat=True):
            run_pending_checks(request_id)

    monkeypatch.setattr(waiting, "pause", pause)
    return pauses


def _registered(ci, run, tmp_path, *, complete: bool = True) -> dict:
    extra = ("--metadata", str(complete_metadata_file(tmp_path))) if complete else ()
    code, version, err = run(*register_args(ci, "1.0.0", *extra))
    assert code == cli.EXIT_OK, err
    return version


def _in_review(ci, run, tmp_path) -> dict:
    version = _registered(ci, run, tmp_path)
    make_reviewable(version["id"])
    code, request, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))
    assert (code, request["state"]) == (cli.EXIT_OK, "in_review"), err
    return request


# ------------------------------------------------------------------ link-dataset


def test_link_dataset_records_the_window_and_licence_and_answers_a_rerun_idempotently(
    ci, run, tmp_path
):
    version = _registered(ci, run, tmp_path)
    flags = ("link-dataset", "--url", ci.url, "--version", str(version["id"]), *TRAIN)

    code, link, err = run(*flags, "--license", "cc-by-4.0", "--uri", "s3://data/tickets/2026-10/")

    assert code == cli.EXIT_OK, err
    assert (link["dataset"], link["version"], link["use"]) == (
        "support-tickets",
        "2026-10",
        "train",
    )
    assert link["window_start"].startswith("2026-06-01T00:00:00")
    assert link["license"] == "cc-by-4.0"
    assert "train dataset support-tickets@2026-10 linked to version" in err

    again_code, again, again_err = run(
        *flags, "--license", "cc-by-4.0", "--uri", "s3://data/tickets/2026-10/"
    )

    assert again_code == cli.EXIT_OK, again_err
    assert again["id"] == link["id"]
    assert "already linked" in again_err
    assert VersionDataset.objects.count() == 1
    assert AuditEvent.objects.filter(verb="version.dataset_linked").count() == 1


def test_a_dataset_version_recorded_with_another_window_is_a_conflict_exit_5(ci, run, tmp_path):
    version = _registered(ci, run, tmp_path)
    base = ("link-dataset", "--url", ci.url, "--version", str(version["id"]))
    assert run(*base, *TRAIN)[0] == cli.EXIT_OK
    before = (DatasetVersion.objects.get().window_end, VersionDataset.objects.count())
    moved = [*TRAIN]
    moved[moved.index("--window-end") + 1] = "2026-10-31T00:00:00Z"

    code, problem, err = run(*base, *moved)

    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409
    assert "never changes" in err
    assert (DatasetVersion.objects.get().window_end, VersionDataset.objects.count()) == before


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--window-start", "2026-06-01T00:00:00", "needs a timezone"),
        ("--window-end", "now", "must be an ISO 8601 timestamp"),
        ("--window-end", "end of september", "must be an ISO 8601 timestamp"),
    ],
)
def test_a_window_edge_without_a_zone_or_now_is_a_usage_error_and_links_nothing(
    ci, run, tmp_path, flag, value, message
):
    version = _registered(ci, run, tmp_path)
    flags = [*TRAIN]
    flags[flags.index(flag) + 1] = value

    code, _, err = run("link-dataset", "--url", ci.url, "--version", str(version["id"]), *flags)

    assert code == cli.EXIT_USAGE
    assert message in err
    assert VersionDataset.objects.count() == 0


def test_datasets_linked_through_the_cli_satisfy_metadata_complete(ci, run, tmp_path):
    version = _registered(ci, run, tmp_path)
    base = ("link-dataset", "--url", ci.url, "--version", str(version["id"]))
    assert run(*base, *TRAIN)[0] == cli.EXIT_OK
    assert run(*base, *EVAL)[0] == cli.EXIT_OK
    make_reviewable(version["id"], datasets=False)

    code, request, err = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))

    assert code == cli.EXIT_OK, err
    assert request["state"] == "in_review"
    metadata = next(c for c in request["checks"] if c["check_name"] == "metadata_complete")
    assert metadata["passed"] is True, metadata["detail"]


# ------------------------------------------------------------------ request-promotion waits


def test_request_promotion_waits_for_the_checks_and_exits_0_once_in_review(
    ci, run, tmp_path, worker_in_pause
):
    version = _registered(ci, run, tmp_path)
    make_reviewable(version["id"])

    code, request, err = run(
        "request-promotion", "--url", ci.url, "--version", str(version["id"]), "--interval", "0"
    )

    assert code == cli.EXIT_OK, err
    assert request["state"] == "in_review"
    assert worker_in_pause, "the client never paused: it did not wait for the checks"
    assert "is submitted: the automated checks have not finished — waiting" in err
    assert "the automated checks passed; waiting for the board" in err
    assert ModelVersion.objects.get(pk=version["id"]).state == "candidate"


def test_request_promotion_waits_and_exits_4_with_the_reasons_when_the_checks_block(
    ci, run, tmp_path, worker_in_pause
):
    version = _registered(ci, run, tmp_path, complete=False)

    code, request, err = run(
        "request-promotion", "--url", ci.url, "--version", str(version["id"]), "--interval", "0"
    )

    assert code == cli.EXIT_BLOCKED
    assert request["state"] == "changes_requested"
    assert worker_in_pause
    assert "training dataset" in err and "license" in err
    assert ModelVersion.objects.get(pk=version["id"]).state == "draft"


def test_request_promotion_still_checking_at_the_timeout_exits_3(ci, run, tmp_path, worker_down):
    version = _registered(ci, run, tmp_path)
    make_reviewable(version["id"])

    code, request, err = run(
        "request-promotion", "--url", ci.url, "--version", str(version["id"]),
        "--timeout", "0.3", "--interval", "0.1",
    )  # fmt: skip

    assert code == cli.EXIT_PENDING
    assert request["state"] == "submitted"
    assert "the checks had not finished after 0.3s" in err
    assert f"govboard status --request {request['id']} --wait" in err
    assert PromotionRequest.objects.get().state == "submitted"


def test_request_promotion_with_no_wait_exits_0_as_soon_as_the_request_is_accepted(
    ci, run, tmp_path, worker_down, monkeypatch
):
    version = _registered(ci, run, tmp_path)
    make_reviewable(version["id"])
    monkeypatch.setattr(waiting, "pause", lambda seconds: pytest.fail("--no-wait must not poll"))

    code, request, err = run(
        "request-promotion", "--url", ci.url, "--version", str(version["id"]), "--no-wait"
    )

    assert code == cli.EXIT_OK, err
    assert request["state"] == "submitted"
    assert "the checks run in the background" in err


# ------------------------------------------------------------------ withdraw and recheck


def test_withdraw_ends_an_open_request_and_a_second_withdraw_is_a_conflict_exit_5(
    ci, run, tmp_path
):
    request = _in_review(ci, run, tmp_path)

    code, body, err = run("withdraw", "--url", ci.url, "--request", str(request["id"]))

    assert code == cli.EXIT_OK, err
    assert body["state"] == "withdrawn"
    assert f"promotion request {request['id']} is withdrawn" in err
    assert ModelVersion.objects.get().state == "draft"
    events = AuditEvent.objects.filter(verb="promotion.withdrawn").count()

    code, problem, _ = run("withdraw", "--url", ci.url, "--request", str(request["id"]))

    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409
    assert PromotionRequest.objects.get().state == "withdrawn"
    assert AuditEvent.objects.filter(verb="promotion.withdrawn").count() == events
    assert run("status", "--url", ci.url, "--request", str(request["id"]))[0] == cli.EXIT_BLOCKED


def test_withdrawing_an_unknown_request_is_exit_7(ci, run):
    code, problem, _ = run("withdraw", "--url", ci.url, "--request", "999999")

    assert code == cli.EXIT_NOT_FOUND
    assert problem["status"] == 404


def test_recheck_reruns_the_checks_and_waits_exit_0_while_they_pass(
    ci, run, tmp_path, worker_in_pause
):
    version = _registered(ci, run, tmp_path)
    make_reviewable(version["id"])
    code, request, _ = run(
        "request-promotion", "--url", ci.url, "--version", str(version["id"]), "--interval", "0"
    )
    assert code == cli.EXIT_OK
    runs_before = AuditEvent.objects.filter(verb="promotion.recheck_requested").count()
    worker_in_pause.clear()

    code, body, err = run(
        "recheck", "--url", ci.url, "--request", str(request["id"]), "--interval", "0"
    )

    assert code == cli.EXIT_OK, err
    assert body["state"] == "in_review"
    assert worker_in_pause, "recheck did not wait for the checks"
    assert f"checks of promotion request {request['id']} restarted" in err
    assert AuditEvent.objects.filter(verb="promotion.recheck_requested").count() == runs_before + 1


def test_recheck_after_a_vulnerable_dependency_scan_exits_4_with_the_reasons(ci, run, tmp_path):
    request = _in_review(ci, run, tmp_path)
    scan = tmp_path / "dependency-scan.json"
    scan.write_bytes((SAMPLES / "trivy-vulnerable.json").read_bytes())
    code, _, err = run(
        "upload-evidence", "--url", ci.url, "--version", str(request["version"]),
        "--kind", "dependency_scan", str(scan),
    )  # fmt: skip
    assert code == cli.EXIT_OK, err

    code, body, err = run("recheck", "--url", ci.url, "--request", str(request["id"]))

    assert code == cli.EXIT_BLOCKED
    assert body["state"] == "changes_requested"
    assert "dependency_scan" in err


def test_rechecking_a_blocked_request_is_a_conflict_exit_5_and_changes_nothing(ci, run, tmp_path):
    version = _registered(ci, run, tmp_path, complete=False)
    code, request, _ = run("request-promotion", "--url", ci.url, "--version", str(version["id"]))
    assert code == cli.EXIT_BLOCKED
    events = AuditEvent.objects.count()

    code, problem, _ = run("recheck", "--url", ci.url, "--request", str(request["id"]))

    assert code == cli.EXIT_CONFLICT
    assert problem["status"] == 409
    assert PromotionRequest.objects.get().state == "changes_requested"
    assert AuditEvent.objects.count() == events


# ------------------------------------------------------------------ the wire, on a stub


def _json(status: int, body: dict) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


@pytest.fixture
def no_pause(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(waiting, "pause", pauses.append)
    return pauses


def test_request_promotion_polls_the_request_through_submitted_and_checking(stub, run, no_pause):
    stub.responses.extend(
        [
            _json(201, {"id": 7, "state": "submitted", "checks": []}),
            _json(200, {"id": 7, "state": "checking"}),
            _json(200, {"id": 7, "state": "in_review", "future_field": [1]}),
        ]
    )

    code, body, err = run(
        "request-promotion", "--url", stub.url, "--version", "5", "--interval", "2"
    )

    assert code == cli.EXIT_OK, err
    assert body == {"id": 7, "state": "in_review", "future_field": [1]}
    assert [(seen["method"], seen["path"]) for seen in stub.seen] == [
        ("POST", "/api/v1/promotion-requests/"),
        ("GET", "/api/v1/promotion-requests/7/"),
        ("GET", "/api/v1/promotion-requests/7/"),
    ]
    assert json.loads(stub.seen[0]["body"]) == {"version": 5}
    assert no_pause == [2.0, 2.0]
    assert "is submitted" in err and "is checking" in err


def test_a_server_error_while_waiting_is_retried_and_blocked_reasons_are_printed(
    stub, run, no_pause
):
    blocked = {
        "id": 7,
        "state": "changes_requested",
        "reasons": ["dependency_scan: 2 open critical findings"],
        "checks": [{"check_name": "sbom", "passed": False, "critical": True, "detail": "none"}],
    }
    stub.responses.extend(
        [
            _json(201, {"id": 7, "state": "submitted"}),
            _json(503, {"status": 503, "title": "Unavailable"}),
            _json(200, blocked),
        ]
    )

    code, body, err = run(
        "--retries", "0", "request-promotion", "--url", stub.url, "--version", "5"
    )

    assert code == cli.EXIT_BLOCKED
    assert body == blocked
    assert "HTTP 503" in err and "retrying" in err
    assert "  - dependency_scan: 2 open critical findings" in err
    assert "  - check sbom failed (critical): none" in err


def test_an_unknown_state_after_the_checks_is_pending_exit_3(stub, run, no_pause):
    stub.responses.append(_json(201, {"id": 7, "state": "awaiting_quantum_review"}))

    code, _, _ = run("request-promotion", "--url", stub.url, "--version", "5")

    assert code == cli.EXIT_PENDING
    assert len(stub.seen) == 1


def test_withdraw_and_recheck_post_to_their_endpoints(stub, run, no_pause):
    stub.responses.extend(
        [
            _json(200, {"id": 7, "state": "withdrawn"}),
            _json(202, {"id": 8, "state": "checking"}),
            _json(200, {"id": 8, "state": "in_review"}),
        ]
    )

    assert run("withdraw", "--url", stub.url, "--request", "7")[0] == cli.EXIT_OK
    assert run("recheck", "--url", stub.url, "--request", "8")[0] == cli.EXIT_OK

    assert [(seen["method"], seen["path"]) for seen in stub.seen] == [
        ("POST", "/api/v1/promotion-requests/7/withdraw/"),
        ("POST", "/api/v1/promotion-requests/8/recheck/"),
        ("GET", "/api/v1/promotion-requests/8/"),
    ]


def test_link_dataset_sends_the_snapshot_and_the_data_file_digest(stub, run, tmp_path):
    data = tmp_path / "tickets.parquet"
    data.write_bytes(b"rows")
    stub.responses.append(_json(201, {"id": 1}))

    code, _, err = run(
        "link-dataset", "--url", stub.url, "--version", "5", *TRAIN,
        "--uri", "s3://data/tickets/2026-10/", "--license", "cc-by-4.0", "--data-file", str(data),
    )  # fmt: skip

    assert code == cli.EXIT_OK, err
    sent = stub.seen[0]
    assert sent["path"] == "/api/v1/versions/5/datasets/"
    assert json.loads(sent["body"]) == {
        "dataset": "support-tickets",
        "version": "2026-10",
        "use": "train",
        "window_start": "2026-06-01T00:00:00+00:00",
        "window_end": "2026-09-30T23:59:59+00:00",
        "uri": "s3://data/tickets/2026-10/",
        "license": "cc-by-4.0",
        "checksum": hashlib.sha256(b"rows").hexdigest(),
    }


def test_link_dataset_refuses_a_checksum_that_is_not_the_data_files(stub, run, tmp_path):
    data = tmp_path / "tickets.parquet"
    data.write_bytes(b"rows")

    code, _, err = run(
        "link-dataset", "--url", stub.url, "--version", "5", *TRAIN,
        "--data-file", str(data), "--checksum", "0" * 64,
    )  # fmt: skip

    assert code == cli.EXIT_USAGE
    assert "does not match the data file's sha256" in err
    assert stub.seen == []
