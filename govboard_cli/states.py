"""The server's state and kind names, as the client knows them.

The client cannot import the server (it runs without Django), so the names are written
here once; ``tests/govboard_cli/test_states.py`` compares them with the server's choices
(``registry.choices``, ``approvals.choices``) and fails when either side adds, drops or
renames one. A state the server adds before the client learns it still works: an
unknown request state counts as pending (exit 3), never as approved.
"""

from __future__ import annotations

# ------------------------------------------------------------------ promotion requests
# approvals.choices.RequestState
SUBMITTED = "submitted"
CHECKING = "checking"
IN_REVIEW = "in_review"
APPROVED = "approved"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"

REQUEST_STATES = (
    SUBMITTED,
    CHECKING,
    IN_REVIEW,
    APPROVED,
    REJECTED,
    CHANGES_REQUESTED,
    WITHDRAWN,
    EXPIRED,
)
# What each request state means to a pipeline: every state is in exactly one of these.
APPROVED_STATES = frozenset({APPROVED})
PENDING_STATES = frozenset({SUBMITTED, CHECKING, IN_REVIEW})  # the server's open states
BLOCKED_STATES = frozenset({CHANGES_REQUESTED, REJECTED, EXPIRED, WITHDRAWN})
# The automated checks have not judged the request yet (a worker runs them after submit).
CHECKING_STATES = frozenset({SUBMITTED, CHECKING})
REVIEW_STATES = frozenset({IN_REVIEW})

# ------------------------------------------------------------------ model versions
# registry.choices.VersionState
DRAFT = "draft"
CANDIDATE = "candidate"
DEPRECATED = "deprecated"
RETIRED = "retired"

VERSION_STATES = (DRAFT, CANDIDATE, APPROVED, DEPRECATED, RETIRED)
APPROVED_VERSION_STATES = frozenset({APPROVED})
# A version whose latest request decides (draft, candidate: not approved yet).
UNDECIDED_VERSION_STATES = frozenset({DRAFT, CANDIDATE})
BLOCKED_VERSION_STATES = frozenset({DEPRECATED, RETIRED})

# ------------------------------------------------------------------ kinds and uses
MODEL_KINDS = ("model", "adapter", "prompt", "config", "sdk")  # registry.choices.ModelKind
EVIDENCE_KINDS = (  # registry.choices.EvidenceKind
    "sbom",
    "provenance",
    "dependency_scan",
    "artifact_scan",
    "eval_package",
    "model_signature",
)
DATASET_USES = ("train", "eval")  # registry.choices.DatasetUse
# registry.choices.FineTuneMethod and RiskRating: free text to the client (the server
# validates them), named in --help.
FINE_TUNE_METHODS = ("none", "full", "lora", "qlora", "prefix")
RISK_RATINGS = ("low", "medium", "high", "critical")
