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


class ApproverRole(models.TextChoices):
    """Board roles that sign off. Each is a guardian object permission on a team."""

    PLATFORM = "platform", "Platform approver"
    PRODUCT = "product", "Product approver"
    SECURITY = "security", "Security approver"


class TokenScope(models.TextChoices):
    """What a service-account token may do (CI's actions)."""

    READ = "read", "Read versions and requests"
    REGISTER = "register", "Register models and versions"
    EVIDENCE = "evidence", "Upload evidence"
    PROMOTE = "promote", "Request promotion"
    DEPLOY = "deploy", "Record deployments"
