"""The metadata a version registration may carry: one list, read by the registration
service (which refuses anything else) and by the API's registration serializer (whose
metadata fields are exactly these, each built from the model field unless the serializer
declares a stricter one).

Everything not listed (state, ids, timestamps, who registered) is the server's to set.
"""

from __future__ import annotations

VERSION_METADATA_FIELDS = (
    "storage_uri",
    "base_model_version",
    "base_model_reference",
    "fine_tune_method",
    "license",
    "allowed_use_cases",
    "prohibited_use_cases",
    "risk_rating",
    "mitigation_controls",
    "source_commit",
    "dependency_lock_hash",
    "prompt_checksum",
)
