from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView

from approvals import api as approvals_api
from approvals import incidents_api, monitoring_api, rings_api, scorecard_api
from core.ids import IdConverter
from govboard import admin as _cross_app_admin  # noqa: F401  (registers the lifecycle buttons)
from govboard import api_docs, health, landing
from registry.api import releases as release_api
from registry.api import serving as serving_api
from registry.api import views as registry_api

register_converter(IdConverter, "id")

api_v1 = [
    path("versions/", registry_api.VersionListCreateView.as_view(), name="version-list"),
    path("versions/<id:pk>/", approvals_api.VersionStatusView.as_view(), name="version-detail"),
    path(
        "versions/<id:pk>/evidence/",
        registry_api.VersionEvidenceView.as_view(),
        name="version-evidence",
    ),
    path(
        "versions/<id:pk>/datasets/",
        registry_api.VersionDatasetsView.as_view(),
        name="version-datasets",
    ),
    path("deployments/", registry_api.DeploymentListCreateView.as_view(), name="deployment-list"),
    path(
        "deployments/<id:pk>/end/", registry_api.DeploymentEndView.as_view(), name="deployment-end"
    ),
    path(
        "teams/<str:team>/models/<str:name>/",
        registry_api.RegisteredModelView.as_view(),
        name="registered-model",
    ),
    path(
        "promotion-requests/",
        approvals_api.PromotionRequestListCreateView.as_view(),
        name="promotion-request-list",
    ),
    path(
        "promotion-requests/<id:pk>/",
        approvals_api.PromotionRequestDetailView.as_view(),
        name="promotion-request-detail",
    ),
    path(
        "promotion-requests/<id:pk>/withdraw/",
        approvals_api.PromotionRequestWithdrawView.as_view(),
        name="promotion-request-withdraw",
    ),
    path(
        "promotion-requests/<id:pk>/recheck/",
        approvals_api.PromotionRequestRecheckView.as_view(),
        name="promotion-request-recheck",
    ),
    path(
        "promotion-requests/<id:pk>/decision/",
        approvals_api.DecisionRecordView.as_view(),
        name="promotion-request-decision",
    ),
    path("signing-key/", approvals_api.SigningKeyView.as_view(), name="signing-key"),
    path("releases/<id:pk>/rings/", rings_api.ReleaseRingsView.as_view(), name="release-rings"),
    path("scorecard/", scorecard_api.ScorecardView.as_view(), name="scorecard"),
    path("releases/", release_api.ReleaseListCreateView.as_view(), name="release-list"),
    path("releases/<id:pk>/", release_api.ReleaseDetailView.as_view(), name="release-detail"),
    path("served/", serving_api.ServedAtView.as_view(), name="served-at"),
    path(
        "releases/<id:pk>/monitoring-reports/",
        monitoring_api.ReleaseMonitoringReportsView.as_view(),
        name="release-monitoring-reports",
    ),
    path("incidents/", incidents_api.IncidentListCreateView.as_view(), name="incident-list"),
    path("incidents/<id:pk>/", incidents_api.IncidentDetailView.as_view(), name="incident-detail"),
    path(
        "incidents/<id:pk>/timeline/",
        incidents_api.IncidentTimelineView.as_view(),
        name="incident-timeline",
    ),
]

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("favicon.ico", landing.favicon, name="favicon"),
    path("admin/reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("sso/", include("sso.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs.swagger_ui, name="api-docs"),
    path("api/redoc/", api_docs.redoc, name="api-redoc"),
    path("health/", health.health, name="health"),
]

handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
