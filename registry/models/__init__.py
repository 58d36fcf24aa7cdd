from registry.models.accounts import ApiToken, ServiceAccount
from registry.models.catalog import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    VersionDataset,
)
from registry.models.evidence import Deployment, Evidence, VulnerabilityFinding
from registry.models.teams import Team

__all__ = [
    "ApiToken",
    "Dataset",
    "DatasetVersion",
    "Deployment",
    "Evidence",
    "ModelVersion",
    "RegisteredModel",
    "ServiceAccount",
    "Team",
    "VersionDataset",
    "VulnerabilityFinding",
]
