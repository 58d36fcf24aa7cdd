from registry.models.accounts import ApiToken, IdempotencyKey, ServiceAccount
from registry.models.catalog import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    VersionDataset,
)
from registry.models.evidence import Deployment, Evidence, FindingTriage, VulnerabilityFinding
from registry.models.releases import Release, ReleaseComponent
from registry.models.teams import Team

__all__ = [
    "ApiToken",
    "Dataset",
    "DatasetVersion",
    "Deployment",
    "Evidence",
    "FindingTriage",
    "IdempotencyKey",
    "ModelVersion",
    "RegisteredModel",
    "Release",
    "ReleaseComponent",
    "ServiceAccount",
    "Team",
    "VersionDataset",
    "VulnerabilityFinding",
]
