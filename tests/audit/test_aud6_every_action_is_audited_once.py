"""AUD-6, the API: every URL and method of the policy table called once.

Each write writes exactly its audit events (one per object it changes), naming the CI
service account that called, stamped by the database, with before/after; each read writes
none. The calls are the authorization matrix's own (``call``), made as team A's CI token.
The admin actions, transitions and tasks are in the sibling ``test_aud6_*`` modules.
"""

from __future__ import annotations

import pytest

from audit.verbs import AuditVerb
from govboard.api_policy import API_POLICY
from registry.models import ApiToken
from tests.audit.aud6 import Acting, assert_audited_once, assert_moved, events_since, log_mark
from tests.govboard.api.test_authorization_matrix import EXPECTED, call

pytestmark = pytest.mark.django_db

CALLER = "ci_a"
# The events each write must leave, in order. Withdrawing team A's request (in review, its
# version a candidate) changes two objects: the request, and the version back to draft.
WRITES: dict[tuple[str, str], tuple[AuditVerb, ...]] = {
    ("v1:version-list", "POST"): (AuditVerb.VERSION_REGISTERED,),
    ("v1:version-evidence", "POST"): (AuditVerb.EVIDENCE_ATTACHED,),
    ("v1:version-datasets", "POST"): (AuditVerb.VERSION_DATASET_LINKED,),
    ("v1:registered-model", "PUT"): (AuditVerb.MODEL_UPDATED,),
    ("v1:promotion-request-list", "POST"): (AuditVerb.PROMOTION_SUBMITTED,),
    ("v1:deployment-list", "POST"): (AuditVerb.DEPLOYMENT_RECORDED,),
    ("v1:deployment-end", "POST"): (AuditVerb.DEPLOYMENT_ENDED,),
    ("v1:promotion-request-withdraw", "POST"): (
        AuditVerb.PROMOTION_WITHDRAWN,
        AuditVerb.VERSION_RETURNED_TO_DRAFT,
    ),
    ("v1:promotion-request-recheck", "POST"): (AuditVerb.PROMOTION_RECHECK_REQUESTED,),
    # A ring request of a release (issue 13): a promotion request of its anchor.
    ("v1:release-rings", "POST"): (AuditVerb.PROMOTION_SUBMITTED,),
    # Submitting a release (issue 13).
    ("v1:release-list", "POST"): (AuditVerb.RELEASE_SUBMITTED,),
    # A monitoring report within every trigger (issue 13): stored, no incident.
    ("v1:release-monitoring-reports", "POST"): (AuditVerb.MONITORING_REPORT_UPLOADED,),
    # Incidents (issue 13): opening one, and a note on its timeline.
    ("v1:incident-list", "POST"): (AuditVerb.INCIDENT_OPENED,),
    ("v1:incident-timeline", "POST"): (AuditVerb.INCIDENT_NOTE_ADDED,),
}
# Exempt from writing an event because they change nothing: every GET (and HEAD/OPTIONS,
# which follow the GET rule). AUD-6 asserts they write exactly zero events.
READ_METHODS = {"GET"}


def _policy_entries() -> set[tuple[str, str]]:
    return {(name, method) for name, rules in API_POLICY.items() for method in rules}


def _reads() -> list[tuple[str, str]]:
    return sorted(entry for entry in _policy_entries() if entry[1] in READ_METHODS)


def _ci_user(world):
    prefix = world.tokens[CALLER].split("_", 2)[1]
    return ApiToken.objects.select_related("service_account__user").get(prefix=prefix)


def test_every_policy_table_entry_is_a_case_or_a_read():
    # Given the API policy table / When its entries are sorted into writes and reads
    entries = _policy_entries()
    writes = {entry for entry in entries if entry[1] not in READ_METHODS}

    # Then every write has a case here, and no case names an entry the table lacks
    assert writes == set(WRITES)
    assert entries == set(WRITES) | set(_reads())


@pytest.mark.parametrize("endpoint", sorted(WRITES), ids=lambda e: f"{e[1]} {e[0]}")
def test_each_api_write_writes_exactly_its_audit_events(world, endpoint):
    # Given team A's objects and its CI's token
    actor = _ci_user(world).service_account.user
    mark = log_mark()

    # When the CI makes the write once
    response = call(world, CALLER, endpoint)

    # Then it succeeds as the authorization matrix says, and writes exactly its events
    assert response.status_code == EXPECTED[endpoint][CALLER], response.content[:300]
    events = assert_audited_once(mark, WRITES[endpoint], Acting(user=actor))
    if endpoint == ("v1:promotion-request-withdraw", "POST"):
        assert_moved(events[0], "in_review", "withdrawn")
        assert_moved(events[1], "candidate", "draft")
    if endpoint == ("v1:promotion-request-recheck", "POST"):
        assert_moved(events[0], "in_review", "checking")


@pytest.mark.parametrize("endpoint", _reads(), ids=lambda e: f"{e[1]} {e[0]}")
def test_each_api_read_writes_no_audit_event(world, endpoint):
    # Given team A's objects and its CI's token
    mark = log_mark()

    # When the CI reads once
    response = call(world, CALLER, endpoint)

    # Then it answers as the authorization matrix says (a request still in review has no
    # decision record: 404), and the log is as it was
    assert response.status_code == EXPECTED[endpoint][CALLER], response.content[:300]
    assert events_since(mark) == []
