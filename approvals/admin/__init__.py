"""The approvals admin pages, one module per concept; importing the package registers them."""

from approvals.admin import awaiting, dashboard  # register admin:awaiting, admin:dashboard
from approvals.admin import lifecycle  # registers admin:lifecycle_preview
from approvals.admin.policies import GovernancePolicyAdmin, TrustedSigningKeyAdmin
from approvals.admin.requests import PromotionRequestAdmin
from approvals.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "GovernancePolicyAdmin",
    "PromotionRequestAdmin",
    "TrustedSigningKeyAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
    "awaiting",
    "dashboard",
    "lifecycle",
]
