from django.db import models


class ModelKind(models.TextChoices):
    MODEL = "model", "Model artifact"
    ADAPTER = "adapter", "Adapter (LoRA, prefix...)"
    PROMPT = "prompt", "Prompt template"
    CONFIG = "config", "Threshold / policy config"
    SDK = "sdk", "SDK or client library"


class FineTuneMethod(models.TextChoices):
    NONE = "none", "None (base model)"
    FULL = "full", "Full fine-tune"
    LORA = "lora", "LoRA"
    QLORA = "qlora", "QLoRA"
    PREFIX = "prefix", "Prefix tuning"


class RiskRating(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    CANDIDATE = "candidate", "Candidate"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class DatasetUse(models.TextChoices):
    TRAIN = "train", "Training"
    EVAL = "eval", "Evaluation"


class TokenScope(models.TextChoices):
    """What a service-account token may do (CI's actions)."""

    READ = "read", "Read versions and requests"
    REGISTER = "register", "Register models and versions"
    EVIDENCE = "evidence", "Upload evidence"
    PROMOTE = "promote", "Request promotion"
    DEPLOY = "deploy", "Record deployments"
    # Open and annotate a release's incidents (issue 13): CI or monitoring raising the alarm
    # holds this without being able to register, promote or deploy.
    INCIDENTS = "incidents", "Open and work incidents"


class EvidenceKind(models.TextChoices):
    SBOM = "sbom", "SBOM (CycloneDX JSON)"
    PROVENANCE = "provenance", "Provenance (in-toto / SLSA, optionally DSSE-signed)"
    DEPENDENCY_SCAN = (
        "dependency_scan",
        "Dependency scan report (pip-audit, Trivy, Grype, CycloneDX)",
    )
    ARTIFACT_SCAN = "artifact_scan", "Artifact scan report (modelscan / picklescan)"
    EVAL_PACKAGE = "eval_package", "Evaluation package"
    MODEL_SIGNATURE = "model_signature", "Model signature (OpenSSF model-signing bundle)"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    UNKNOWN = "unknown", "Unknown"


class VexJustification(models.TextChoices):
    """Why a finding does not affect the version (CISA VEX / OpenVEX justifications)."""

    COMPONENT_NOT_PRESENT = "component_not_present", "Component not present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present", "Vulnerable code not present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = (
        "vulnerable_code_not_in_execute_path",
        "Vulnerable code not in execute path",
    )
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "Vulnerable code cannot be controlled by an adversary",
    )
    INLINE_MITIGATIONS_ALREADY_EXIST = (
        "inline_mitigations_already_exist",
        "Inline mitigations already exist",
    )


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    FIXED = "fixed", "Fixed"
    NOT_AFFECTED = "not_affected", "Not affected"


class ReleaseComponentKind(models.TextChoices):
    """What a pinned component of a release is. Registered kinds pin a model version; a
    dataset component pins a dataset version; the evaluation report pins the eval package
    the release was judged on."""

    MODEL = "model", "Model artifact"
    ADAPTER = "adapter", "Adapter"
    PROMPT = "prompt", "Prompt template"
    CONFIG = "config", "Threshold / policy config"
    SDK = "sdk", "SDK or client library"
    DATASET = "dataset", "Dataset version"
    EVALUATION_REPORT = "evaluation_report", "Evaluation report"


class ReleaseState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    WITHDRAWN = "withdrawn", "Withdrawn"
    ROLLED_BACK = "rolled_back", "Rolled back"


class Ring(models.TextChoices):
    """The rings a release moves through, in order (offline validation first)."""

    OFFLINE_VALIDATION = "offline_validation", "Offline validation"
    INTERNAL = "internal", "Internal"
    GUARDED = "guarded", "Shadow or guarded rollout"
    SEGMENT_MONITORING = "segment_monitoring", "Segment monitoring"
    GENERAL = "general", "General availability"


RING_ORDER = list(Ring.values)


class ChangeCategory(models.TextChoices):
    """What a release's diff from the previous release touches; each selects reviewers."""

    BASE_MODEL = "base_model", "New model architecture or base model"
    CONFIG_LOGIC = "config_logic", "New fusion / config logic"
    THRESHOLD = "threshold", "Threshold or policy update"
    SDK_MAJOR = "sdk_major", "SDK major version"
    NEW_CHANNEL = "new_channel", "New channel"
    DATASET_REFRESH = "dataset_refresh", "Major dataset refresh"
