"""Every state change in the registry, one function per governance verb.

Each takes the acting user first (``None`` is the scheduler), checks permission, does the
work and records the audit event in one transaction. Admin, API, commands and tasks call
these; nothing else changes registry state.
"""

from registry.services.access import team_role_grant, team_role_revoke
from registry.services.accounts import (
    TOKEN_PREFIX,
    api_token_issue,
    api_token_revoke,
    hash_token,
    service_account_create,
    service_account_update,
)
from registry.services.approval_extension import version_approval_extend
from registry.services.datasets import version_dataset_link
from registry.services.deployments import deployment_end, deployment_record
from registry.services.evidence import (
    EvidenceTooLarge,
    evidence_attach,
    evidence_open,
    max_evidence_bytes,
)
from registry.services.findings import effective_triages, finding_triage
from registry.services.versions import (
    lock_version,
    registered_model_upsert,
    version_approve,
    version_deprecate,
    version_mark_candidate,
    version_register,
    version_retire,
    version_return_to_draft,
)

__all__ = [
    "TOKEN_PREFIX",
    "EvidenceTooLarge",
    "api_token_issue",
    "api_token_revoke",
    "deployment_end",
    "deployment_record",
    "effective_triages",
    "evidence_attach",
    "evidence_open",
    "finding_triage",
    "hash_token",
    "lock_version",
    "max_evidence_bytes",
    "registered_model_upsert",
    "service_account_create",
    "service_account_update",
    "team_role_grant",
    "team_role_revoke",
    "version_approval_extend",
    "version_approve",
    "version_dataset_link",
    "version_deprecate",
    "version_mark_candidate",
    "version_register",
    "version_retire",
    "version_return_to_draft",
]
