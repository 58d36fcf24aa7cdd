"""Signing: re-authentication (password or TOTP), separation of duties, the bound and
server-signed sign-off, and approval when the quorum is met and nothing blocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import signing, totp
from approvals.assessment import current_digests, signoff_problems
from approvals.choices import ReauthMethod, RequestState
from approvals.models import PromotionRequest, SignOff, TotpDevice
from approvals.services.common import locked_request, signoff_binding
from approvals.services.decisions import approve_if_ready
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from core.permissions import Verb, require
from identity import services as lockout
from registry import services as registry_services

# An IdP sign-in a moment "in the future" is clock drift between the IdP and us.
_IDP_CLOCK_SKEW = timedelta(seconds=30)


def _reauthenticate(
    actor: Any,
    *,
    password: str,
    one_time_code: str | None,
    idp_authenticated_at: datetime | None = None,
) -> str:
    """Fresh proof of presence at the moment of signing; returns the method used.

    A one-time code is checked against the user's confirmed TOTP device and may be used
    once (its time step must be newer than the last one used). Runs before the sign-off's
    transaction, behind the sign-in lockout (identity, docs/adr/0008): a locked account is
    refused before anything is checked, and each failure is recorded (audited, counted
    against the account like a failed login) even though the sign-off is then refused.
    """
    username = actor.get_username()
    lockout.refuse_if_locked(username=username)
    if idp_authenticated_at is not None:
        # A fresh sign-in at the identity provider (prompt=login, max_age=0), verified by
        # the sso app from the ID token's auth_time and kept in the server-side session.
        age = timezone.now() - idp_authenticated_at
        max_age = timedelta(seconds=settings.GOVBOARD_SSO_REAUTH_MAX_AGE_SECONDS)
        if not -_IDP_CLOCK_SKEW <= age <= max_age:
            raise NotPermitted(
                "Re-authentication failed: your sign-in at the identity provider is not "
                "fresh; re-authenticate and sign again."
            )
        return ReauthMethod.IDP
    method = ReauthMethod.TOTP if one_time_code else ReauthMethod.PASSWORD
    problem = None
    if one_time_code:
        with transaction.atomic():
            device = (
                TotpDevice.objects.select_for_update().filter(user=actor, confirmed=True).first()
            )
            step = totp.match_step(device.secret, one_time_code) if device else None
            if device is None:
                problem = "Re-authentication failed: you have no one-time-code device."
            elif step is None or step <= device.last_used_step:
                problem = "Re-authentication failed: the one-time code is wrong or used."
            else:
                device.last_used_step = step
                device.save(update_fields=["last_used_step"])
    elif not password:
        raise NotPermitted("Re-authentication failed: enter your password to sign.")
    elif not actor.check_password(password):
        problem = "Re-authentication failed: enter your password to sign."
    if problem:
        failure = lockout.record_failure(
            username=username, address=None, via=lockout.VIA_SIGN_OFF, method=method, actor=actor
        )
        raise lockout.LockedOut if failure.locked else NotPermitted(problem)
    lockout.record_success(username=username, address=None)
    return method


def signoff_record(
    *,
    actor: Any,
    request: PromotionRequest | int,
    role: str,
    password: str = "",
    meaning: str = "Approved for production promotion",
    one_time_code: str | None = None,
    idp_authenticated_at: datetime | None = None,
) -> SignOff:
    """A board member signs for one role, re-authenticating as they do.

    Refused when: re-authentication fails; the request is not in review; the role is not
    required by the request's policy or its quorum is already met by valid sign-offs; the
    signer lacks the object permission for the role on the model's team (no superuser or
    global-permission short-cut); the signer requested the promotion; the signer already
    signed this request for another role, or for this role on the same evidence; the
    evidence changed since the checks ran. The sign-off records the server's time, the
    role, what it means, and is bound (and server-signed) to the artifact checksum and the
    evidence digests. When the last required sign-off lands and nothing blocks, the
    decision record is signed and the request and version become ``approved``.
    """
    meaning = (meaning or "").strip()
    if not meaning:
        raise InvalidInput("Say what your signature means.")
    # Before the transaction: a failed re-authentication stays recorded when this raises.
    reauth_method = _reauthenticate(
        actor,
        password=password,
        one_time_code=one_time_code,
        idp_authenticated_at=idp_authenticated_at,
    )
    return _signoff_record(
        actor=actor, request=request, role=role, meaning=meaning, reauth_method=reauth_method
    )


@transaction.atomic
def _signoff_record(
    *, actor: Any, request: PromotionRequest | int, role: str, meaning: str, reauth_method: str
) -> SignOff:
    locked = locked_request(request)
    # Lock the version too (request, then version: the order every service uses), so no
    # evidence upload can land between reading the digests and approving.
    version = registry_services.lock_version(locked.version_id)
    locked.version = version
    team = version.registered_model.team
    required: dict[str, int] = locked.policy_snapshot["required_roles"]
    require(
        actor,
        Verb.SIGN,
        team,
        role=role,
        refusal=f"You do not hold the {role} approver role for team {team.slug}.",
    )
    if actor.pk == locked.requested_by_id:
        raise NotPermitted("Separation of duties: the requester cannot sign their own request.")
    if locked.state != RequestState.IN_REVIEW:
        raise IllegalTransition(
            f"The request is {locked.state}; only requests in review can be signed."
        )
    if role not in required:
        raise InvalidInput(f"The policy does not require a {role} sign-off.")
    digests = current_digests(version)
    if locked.checked_evidence != digests:
        raise Conflict(
            "The artifact or evidence changed since the checks ran: re-run the checks first."
        )
    existing = list(SignOff.objects.filter(request=locked))
    valid = [s for s in existing if not signoff_problems(s, request=locked, digests=digests)]
    mine = [s for s in existing if s.signer_id == actor.pk]
    if any(s.role != role for s in mine):
        raise NotPermitted(
            f"Separation of duties: you have already signed this request (as {mine[0].role}); "
            "one person signs for one role per request."
        )
    if any(s.signer_id == actor.pk for s in valid):
        raise NotPermitted("Separation of duties: you have already signed this request.")
    if sum(1 for s in valid if s.role == role) >= required[role]:
        raise Conflict(f"The {role} sign-off quorum is already met.")
    signed_at = timezone.now()  # server time only: nothing the client sends is trusted
    binding = signoff_binding(
        request=locked,
        version=version,
        role=role,
        signer=actor,
        meaning=meaning,
        digests=digests,
        signed_at=signed_at,
        reauth_method=reauth_method,
    )
    payload = signing.canonical_json(binding)
    signature, keyid = signing.sign_bytes(payload)
    try:
        with transaction.atomic():
            signoff = SignOff.objects.create(
                request=locked,
                role=role,
                signer=actor,
                signed_checksum=version.checksum,
                evidence_digests=digests,
                meaning=meaning,
                reauth_method=reauth_method,
                binding=binding,
                binding_sha256=signing.sha256_hex(payload),
                signature=signature,
                keyid=keyid,
                signed_at=signed_at,
            )
    except IntegrityError as exc:
        raise Conflict("You have already signed this request.") from exc
    record(
        actor=actor,
        verb=AuditVerb.PROMOTION_SIGNED,
        target=locked,
        team_id=team.pk,
        data={
            "role": role,
            "signoff": signoff.pk,
            "checksum": version.checksum,
            "evidence": digests,
            "meaning": meaning,
            "reauthenticated_with": reauth_method,
            "binding_sha256": signoff.binding_sha256,
            # The roles whose valid sign-offs count towards the quorum, before and after.
            "before": {"signed_roles": sorted(s.role for s in valid)},
            "after": {"signed_roles": sorted([*(s.role for s in valid), role])},
        },
    )
    approve_if_ready(actor=actor, request=locked)
    return signoff


def signoff_is_valid(signoff: SignOff) -> bool:
    """Whether a stored sign-off still counts for its request (SIG-1)."""
    request = PromotionRequest.objects.select_related("version").get(pk=signoff.request_id)
    return not signoff_problems(signoff, request=request, digests=current_digests(request.version))


@transaction.atomic
def totp_device_enrol(*, actor: Any) -> tuple[TotpDevice, str]:
    """Start (or restart) enrolment: a new secret, unconfirmed until a code is shown."""
    device, _ = TotpDevice.objects.select_for_update().get_or_create(
        user=actor, defaults={"secret": totp.new_secret()}
    )
    device.secret = totp.new_secret()
    device.confirmed = False
    device.last_used_step = 0
    device.save()
    record(actor=actor, verb=AuditVerb.TOTP_ENROLMENT_STARTED, target=device)
    return device, totp.provisioning_uri(device.secret, account=actor.get_username())


@transaction.atomic
def totp_device_confirm(*, actor: Any, code: str) -> TotpDevice:
    """Confirm enrolment with a current code from the authenticator."""
    device = TotpDevice.objects.select_for_update().filter(user=actor).first()
    if device is None:
        raise Conflict("Start enrolment first.")
    step = totp.match_step(device.secret, code)
    if step is None:
        raise InvalidInput("The code does not match; check the device clock.")
    device.confirmed = True
    device.last_used_step = step
    device.save()
    record(actor=actor, verb=AuditVerb.TOTP_CONFIRMED, target=device)
    return device
