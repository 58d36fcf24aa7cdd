"""The approvals admin pages, one module per concept; importing the package registers them."""

# Imported for their pages: admin:awaiting, admin:dashboard, admin:lifecycle_preview,
# admin:scorecard.
from approvals.admin import awaiting, dashboard, lifecycle, scorecard
from approvals.admin.incidents import IncidentAdmin, MonitoringReportAdmin
from approvals.admin.policies import GovernancePolicyAdmin, TrustedSigningKeyAdmin
from approvals.admin.requests import PromotionRequestAdmin
from approvals.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "GovernancePolicyAdmin",
    "IncidentAdmin",
    "MonitoringReportAdmin",
    "PromotionRequestAdmin",
    "TrustedSigningKeyAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
    "awaiting",
    "dashboard",
    "lifecycle",
    "scorecard",
]
