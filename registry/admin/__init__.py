"""The registry's admin pages, one module per concept; importing the package registers them."""

from registry.admin.accounts import ApiTokenAdmin, ServiceAccountAdmin
from registry.admin.catalog import (
    DatasetAdmin,
    DatasetVersionAdmin,
    ModelVersionAdmin,
    RegisteredModelAdmin,
    RetireForm,
)
from registry.admin.findings import VulnerabilityFindingAdmin
from registry.admin.teams import TeamAdmin

__all__ = [
    "ApiTokenAdmin",
    "DatasetAdmin",
    "DatasetVersionAdmin",
    "ModelVersionAdmin",
    "RegisteredModelAdmin",
    "RetireForm",
    "ServiceAccountAdmin",
    "TeamAdmin",
    "VulnerabilityFindingAdmin",
]
