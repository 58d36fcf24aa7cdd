"""SIG-1..3, TOTP re-authentication, and the signed decision record (DSSE, verified with
securesystemslib and ``manage.py verify_decision``)."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import call_command
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from approvals import services, totp
from approvals.models import DecisionRecord, SignOff, TotpDevice
from core.errors import Conflict, NotPermitted
from tests.approvals.factories import attach, governance_row_counts, request_in_review
from tests.registry.factories import PASSWORD, TeamFactory, UserFactory, approver

pytestmark = pytest.mark.django_db
BOARD = ("platform", "product", "security")


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


def sign(user, request, role, **kwargs):
    kwargs.setdefault("password", PASSWORD)
    return services.signoff_record(actor=user, request=request, role=role, **kwargs)


def approved(team):
    request = request_in_review(registered_model__team=team)
    for role in BOARD:
        sign(approver(team, role), request, role)
    request.refresh_from_db()
    assert request.state == "approved"
    return request


# --- SIG-1 --------------------------------------------------------------------------------


def test_sig1_changing_evidence_after_a_sign_off_invalidates_it(team):
    request = request_in_review(registered_model__team=team)
    signoff = sign(approver(team, "platform"), request, "platform")
    assert services.signoff_is_valid(signoff)

    attach(request.version, "sbom", b'{"bomFormat": "CycloneDX", "specVersion": "1.6"}')

    assert not services.signoff_is_valid(signoff)
    before = governance_row_counts()
    with pytest.raises(Conflict, match="changed since the checks ran"):
        sign(approver(team, "product"), request, "product")
    assert governance_row_counts() == before


def test_sig1_a_sign_off_copied_onto_another_request_fails_verification(team):
    first = request_in_review(registered_model__team=team)
    second = request_in_review(registered_model__team=team)
    original = sign(approver(team, "platform"), first, "platform")
    copy = SignOff.objects.create(
        request=second,
        role=original.role,
        signer=original.signer,
        signed_checksum=original.signed_checksum,
        evidence_digests=original.evidence_digests,
        binding=original.binding,
        binding_sha256=original.binding_sha256,
        signature=original.signature,
        keyid=original.keyid,
    )
    assert services.signoff_is_valid(original)
    assert not services.signoff_is_valid(copy)
    second.refresh_from_db()
    assert services.assess(second).missing_roles["platform"] == 1


def test_sig1_a_forged_binding_fails_the_server_signature(team):
    request = request_in_review(registered_model__team=team)
    real = sign(approver(team, "platform"), request, "platform")
    real.binding = dict(real.binding, meaning="something else")
    problems = services.signoff_problems(
        real, request=request, digests=services.current_digests(request.version)
    )
    assert problems == ["the binding digest does not match"]


# --- SIG-2 --------------------------------------------------------------------------------


def test_sig2_signing_without_fresh_re_authentication_is_refused(team):
    request = request_in_review(registered_model__team=team)
    before = governance_row_counts()
    for password in ("", "wrong"):
        with pytest.raises(NotPermitted, match="Re-authentication failed"):
            sign(approver(team, "platform"), request, "platform", password=password)
    assert governance_row_counts()["signoffs"] == before["signoffs"]


def test_sig2_the_service_takes_no_timestamp_and_records_server_time(team):
    request = request_in_review(registered_model__team=team)
    with pytest.raises(TypeError):
        sign(approver(team, "platform"), request, "platform", signed_at="2001-01-01T00:00:00Z")
    signoff = sign(approver(team, "platform"), request, "platform")
    assert signoff.binding["signed_at"] == signoff.signed_at.isoformat()
    assert signoff.signed_at.year >= 2025


def test_sig2_a_one_time_code_re_authenticates_once(team):
    request = request_in_review(registered_model__team=team)
    user = approver(team, "platform")
    device, uri = services.totp_device_enrol(actor=user)
    assert uri.startswith("otpauth://totp/")
    # Enrolment is confirmed with the previous step's code, so the current one is unused.
    step = totp.time_step()
    services.totp_device_confirm(actor=user, code=totp.hotp(device.secret, step - 1))
    with pytest.raises(NotPermitted, match="one-time code"):
        sign(user, request, "platform", password="", one_time_code="000000")
    signoff = sign(user, request, "platform", password="", one_time_code=totp.totp(device.secret))
    assert signoff.reauth_method == "totp"
    assert TotpDevice.objects.get(pk=device.pk).last_used_step >= step


def test_totp_matches_the_rfc_6238_test_vector():
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.hotp(secret, 59 // 30, digits=8) == "94287082"
    assert totp.hotp(secret, 1111111109 // 30, digits=8) == "07081804"


# --- SIG-3 --------------------------------------------------------------------------------


def test_sig3_self_approval_two_roles_and_acting_as_someone_else_are_refused(team):
    request = request_in_review(registered_model__team=team)
    both = approver(team, "platform", "product")
    sign(both, request, "platform")
    with pytest.raises(NotPermitted, match="already signed"):
        sign(both, request, "product")
    admin = UserFactory(is_superuser=True)
    with pytest.raises(NotPermitted):
        sign(admin, request, "security")  # knows a password, holds no role: not a signer
    requester = request.requested_by
    with pytest.raises(NotPermitted):
        sign(requester, request, "security")
    assert SignOff.objects.filter(request=request).count() == 1


# --- decision record ----------------------------------------------------------------------


def test_the_decision_record_verifies_with_securesystemslib_and_names_the_artifact(team):
    request = approved(team)
    envelope = services.decision_record_for(request)
    key = SSlibKey.from_crypto(load_pem_public_key(services.signing_public_key_pem().encode()))
    parsed = Envelope.from_dict(copy.deepcopy(envelope))
    assert key.keyid in parsed.verify([key], 1)
    statement = json.loads(parsed.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"]["sha256"] == request.version.checksum
    predicate = statement["predicate"]
    assert predicate["request"]["id"] == request.pk
    assert sorted(s["role"] for s in predicate["signoffs"]) == sorted(BOARD)
    assert predicate["evidence"]["artifact"] == request.version.checksum
    assert predicate["approval_expires_at"]


def test_a_tampered_decision_record_fails_both_verifiers(team, tmp_path, capsys):
    request = approved(team)
    envelope = services.decision_record_for(request)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    tampered = dict(envelope, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    key = SSlibKey.from_crypto(load_pem_public_key(services.signing_public_key_pem().encode()))
    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(tampered)).verify([key], 1)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(envelope))
    bad.write_text(json.dumps(tampered))

    call_command("verify_decision", str(good))
    call_command("verify_decision", str(request.pk))
    assert capsys.readouterr().out.count("VERIFIED") == 2
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_decision", str(bad))
    assert exit_info.value.code == 1
    assert DecisionRecord.objects.count() == 1
