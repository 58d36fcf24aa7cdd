from django.db import models


class ModelKind(models.TextChoices):
    MODEL = "model", "Model artifact"
    ADAPTER = "adapter", "Adapter (LoRA, prefix...)"
    PROMPT = "prompt", "Prompt template"
    CONFIG = "config", "Threshold / policy config"


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
