"""Promotion endpoints for CI: request promotion, read a request's or a version's status."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors, services, signing
from approvals.assessment import latest_run_results
from approvals.choices import RequestPurpose
from approvals.models import CheckException, CheckResult, PromotionRequest, SignOff
from approvals.models.request_team import REQUEST_TEAM
from approvals.version_status import version_for_status
from core.api.params import text_query_params
from core.api.serializers import StrictSerializer
from core.errors import DomainError, InvalidInput
from core.ids import IdField, parse_id
from core.permissions import Verb, allowed
from registry import selectors as registry_selectors
from registry.models import ModelVersion
from registry.representations import VersionSerializer, version_representation


class SignOffSerializer(serializers.ModelSerializer):
    signer = serializers.CharField(source="signer.username")

    class Meta:
        model = SignOff
        fields = ["role", "signer", "signed_at", "signed_checksum", "meaning"]
        read_only_fields = fields


class CheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResult
        fields = ["check_name", "passed", "critical", "detail", "observed", "run_at"]
        read_only_fields = fields


class PromotionRequestSerializer(serializers.ModelSerializer):
    signoffs = SignOffSerializer(many=True, read_only=True)
    checks = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by.username")
    policy = serializers.JSONField(source="policy_snapshot")

    @extend_schema_field(CheckResultSerializer(many=True))
    def get_checks(self, request: PromotionRequest) -> list[dict]:
        """The latest check run only (earlier runs are history, not the current state);
        filtered from the prefetched rows, so no query per request."""
        latest = latest_run_results(list(request.check_results.all()))
        return CheckResultSerializer(latest, many=True).data

    class Meta:
        model = PromotionRequest
        fields = [
            "id",
            "version",
            "state",
            "purpose",
            "policy",
            "requested_by",
            "rollback_target",
            "rollback_plan",
            "reasons",
            "checks",
            "signoffs",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class ReviewStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    type = serializers.CharField()
    owner_role = serializers.CharField()
    sla_business_days = serializers.IntegerField()
    due_at = serializers.DateTimeField(allow_null=True)
    done = serializers.BooleanField()
    overdue = serializers.BooleanField()


class CheckExceptionSerializer(serializers.ModelSerializer):
    granted_by = serializers.CharField(source="granted_by.username")

    class Meta:
        model = CheckException
        fields = ["check_name", "justification", "granted_by", "granted_at", "expires_at"]
        read_only_fields = fields


class SignOffStatusSerializer(serializers.Serializer):
    role = serializers.CharField(source="signoff.role")
    signer = serializers.CharField(source="signoff.signer.username")
    signed_at = serializers.DateTimeField(source="signoff.signed_at")
    signed_checksum = serializers.CharField(source="signoff.signed_checksum")
    meaning = serializers.CharField(source="signoff.meaning")
    valid = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())


class PromotionRequestDetailSerializer(serializers.Serializer):
    """A request as CI and reviewers need it: state, what blocks it, checks, sign-offs."""

    id = serializers.IntegerField(source="request.id")
    version = serializers.IntegerField(source="request.version_id")
    state = serializers.CharField(source="request.state")
    policy = serializers.JSONField(source="request.policy_snapshot")
    requested_by = serializers.CharField(source="request.requested_by.username")
    priority = serializers.IntegerField(source="request.priority")
    due_at = serializers.DateTimeField(source="request.due_at", allow_null=True)
    is_overdue = serializers.BooleanField()
    rollback_target = serializers.IntegerField(source="request.rollback_target_id", allow_null=True)
    rollback_plan = serializers.CharField(source="request.rollback_plan")
    reasons = serializers.JSONField(source="request.reasons")
    blocked_reasons = serializers.ListField(child=serializers.CharField())
    missing_roles = serializers.DictField(child=serializers.IntegerField())
    waiting_for = serializers.ListField(
        child=serializers.CharField(),
        help_text="What approval still waits for, in words: roles, exceptions, checks.",
    )
    checks = CheckResultSerializer(many=True)
    exceptions = CheckExceptionSerializer(many=True)
    signoffs = SignOffStatusSerializer(many=True)
    steps = ReviewStepSerializer(many=True)
    evidence_digests = serializers.DictField(child=serializers.CharField())
    decision_available = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="request.created_at")
    decided_at = serializers.DateTimeField(source="request.decided_at", allow_null=True)

    def get_decision_available(self, detail: selectors.RequestDetail) -> bool:
        return detail.decision_record is not None


class PromotionSubmitSerializer(StrictSerializer):
    version = IdField()
    # "recertification": the model's owner renews an approved version's approval (fresh
    # evals and scans, the same quorum); CI's promotions leave it out.
    purpose = serializers.ChoiceField(choices=RequestPurpose.choices, required=False)
    rollback_target = IdField(required=False)
    rollback_plan = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class VersionStatusSerializer(VersionSerializer):
    promotion_requests = PromotionRequestSerializer(many=True, read_only=True)

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "promotion_requests"]
        read_only_fields = fields

    def to_representation(self, instance: ModelVersion) -> dict:
        return version_status_representation(instance, list(instance.promotion_requests.all()))


def version_status_representation(version: ModelVersion, requests: list) -> dict:
    """A version as the API shows it, with its promotion requests: the version by hand
    (registry.representations); the requests, when there are any, through their
    serializer. CI's read-back right after registering has none."""
    return version_representation(version) | {
        "promotion_requests": PromotionRequestSerializer(requests, many=True).data
        if requests
        else []
    }


class PromotionRequestListCreateView(generics.GenericAPIView):
    """List visible promotion requests (filter by state, team, version) or request one."""

    serializer_class = PromotionRequestSerializer

    def get_queryset(self):
        params = text_query_params(self.request)
        awaiting = params.get("awaiting")
        if awaiting is not None and awaiting != "me":
            raise InvalidInput("awaiting takes only 'me'.", errors={"awaiting": ["expected 'me'"]})
        if awaiting == "me":
            # The queue's one selector, in its order (expedited, due, oldest). It holds only
            # requests of teams the caller signs for (so sees): no join to the visible set,
            # which made PostgreSQL hash every request first.
            queryset = selectors.review_queue_for(self.request.user)
        else:
            queryset = selectors.requests_visible_to(self.request.user).order_by("-id")
        queryset = selectors.request_list_rows(queryset)
        if params.get("state"):
            queryset = queryset.filter(state=params["state"])
        if params.get("team"):
            queryset = queryset.filter(**{f"{REQUEST_TEAM}__slug": params["team"]})
        version_id = parse_id(params.get("version"), name="version")
        if version_id is not None:
            queryset = queryset.filter(version_id=version_id)
        return queryset

    @extend_schema(
        operation_id="promotion_requests_list",
        responses=PromotionRequestSerializer(many=True),
        parameters=[
            OpenApiParameter("state", str),
            OpenApiParameter("team", str),
            OpenApiParameter("version", int),
            OpenApiParameter(
                "awaiting",
                str,
                enum=["me"],
                description="'me': only the requests awaiting your sign-off (your queue).",
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PromotionRequestSerializer(page, many=True).data)

    @extend_schema(request=PromotionSubmitSerializer, responses={201: PromotionRequestSerializer})
    def post(self, request: Request) -> Response:
        serializer = PromotionSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visible = registry_selectors.versions_visible_to(request.user)
        version = visible.filter(pk=serializer.validated_data["version"]).first()
        if version is None:
            raise Http404
        rollback_target = None
        if "rollback_target" in serializer.validated_data:
            rollback_target = visible.filter(
                pk=serializer.validated_data["rollback_target"]
            ).first()
            if rollback_target is None:
                raise InvalidInput(
                    "The rollback target does not exist.", errors={"rollback_target": ["not found"]}
                )
        submit = (
            services.recertification_request_submit
            if serializer.validated_data.get("purpose") == RequestPurpose.RECERTIFICATION
            else services.promotion_request_submit
        )
        promotion = submit(
            actor=request.user,
            version=version,
            rollback_target=rollback_target,
            rollback_plan=serializer.validated_data.get("rollback_plan", ""),
        )
        fresh = selectors.request_with_evidence(
            PromotionRequest.objects.select_related("requested_by")
        ).get(pk=promotion.pk)
        return Response(PromotionRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)


def _visible_request(request: Request, pk: int) -> PromotionRequest:
    found = selectors.requests_visible_to(request.user).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _detail_response(request: Request, pk: int, *, status_code: int = 200) -> Response:
    try:
        detail = selectors.request_detail(request.user, pk)
    except PromotionRequest.DoesNotExist as exc:
        raise Http404 from exc
    return Response(PromotionRequestDetailSerializer(detail).data, status=status_code)


class PromotionRequestDetailView(APIView):
    """A request with what blocks it: checks, exceptions, sign-offs, due dates."""

    @extend_schema(responses=PromotionRequestDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _detail_response(request, pk)


class PromotionRequestWithdrawView(APIView):
    """CI (or the requester, or a manager) withdraws an open request."""

    @extend_schema(request=None, responses=PromotionRequestDetailSerializer)
    def post(self, request: Request, pk: int) -> Response:
        services.promotion_request_withdraw(
            actor=request.user, request=_visible_request(request, pk)
        )
        return _detail_response(request, pk)


class PromotionRequestRecheckView(APIView):
    """Re-run the automated checks of an open request (e.g. after new evidence)."""

    @extend_schema(request=None, responses={202: PromotionRequestDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        services.promotion_request_recheck(
            actor=request.user, request=_visible_request(request, pk)
        )
        return _detail_response(request, pk, status_code=status.HTTP_202_ACCEPTED)


class DecisionRecordView(APIView):
    """The signed decision record (a DSSE envelope around an in-toto Statement)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        envelope = services.decision_record_for(_visible_request(request, pk))
        if envelope is None:
            raise NoDecisionYet("This request has no decision record yet: it is not approved.")
        return Response(envelope)


class SigningKeyView(APIView):
    """The public key that verifies decision records. Public by design: anyone may verify."""

    authentication_classes: list = []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "keyid": signing.signing_public_key().keyid,
                "scheme": "ed25519",
                "public_key_pem": services.signing_public_key_pem(),
                "payload_type": "application/vnd.in-toto+json",
            }
        )


class NoDecisionYet(DomainError):
    status_code = 404
    code = "no-decision"
    title = "No decision record"


class VersionStatusView(APIView):
    """A version with its promotion requests, their checks and sign-offs."""

    @extend_schema(responses=VersionStatusSerializer)
    def get(self, request: Request, pk: int) -> Response:
        # One statement written once (approvals.version_status): CI reads every version
        # back right after registering it. A hidden version is a missing one.
        found = version_for_status(pk)
        if found is None or not allowed(request.user, Verb.READ, found[0].registered_model.team):
            raise Http404
        version, has_requests = found
        requests = (
            list(
                selectors.request_with_evidence(
                    PromotionRequest.objects.select_related("requested_by")
                    .filter(version_id=version.pk)
                    .order_by("id")
                )
            )
            if has_requests
            else []
        )
        return Response(version_status_representation(version, requests))
