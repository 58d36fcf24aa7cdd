"""The registry's admin pages, one module per concept; importing the package registers them."""

from registry.admin.accounts import ApiTokenAdmin, ServiceAccountAdmin
from registry.admin.catalog import (
    DatasetAdmin,
    DatasetVersionAdmin,
    ModelVersionAdmin,
    RegisteredModelAdmin,
    RetireForm,
)
from registry.admin.deployments import DeploymentAdmin
from registry.admin.findings import VulnerabilityFindingAdmin
from registry.admin.model_card_page import model_card_view
from registry.admin.owner import my_models_view
from registry.admin.releases import ReleaseAdmin
from registry.admin.teams import TeamAdmin

__all__ = [
    "ApiTokenAdmin",
    "DatasetAdmin",
    "DatasetVersionAdmin",
    "DeploymentAdmin",
    "ModelVersionAdmin",
    "RegisteredModelAdmin",
    "ReleaseAdmin",
    "RetireForm",
    "ServiceAccountAdmin",
    "TeamAdmin",
    "VulnerabilityFindingAdmin",
    "model_card_view",
    "my_models_view",
]
