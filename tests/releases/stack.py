"""A decision stack to release in tests: a model, a threshold config, an SDK, a dataset
version and an eval package, all approved, on one team, with a registrant and an owner."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from registry.choices import EvidenceKind, ModelKind, VersionState
from registry.models import Dataset, DatasetVersion, Evidence, ModelVersion, Team
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    sha256_of,
    team_member,
)
from tests.releases.factories import RELEASE_NOTES

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def version_of(
    model, version: str, *, state: str = VersionState.APPROVED, **fields
) -> ModelVersion:
    return ModelVersionFactory(registered_model=model, version=version, state=state, **fields)


def dataset_version(team: Team, name: str, version: str, *, window_end: datetime) -> DatasetVersion:
    dataset, _ = Dataset.objects.get_or_create(team=team, name=name)
    return DatasetVersion.objects.create(
        dataset=dataset,
        version=version,
        checksum=sha256_of(f"{name}{version}"),
        window_start=window_end - timedelta(days=90),
        window_end=window_end,
    )


def eval_evidence(version: ModelVersion, metrics: dict[str, float]) -> Evidence:
    content = json.dumps(
        {
            "checkpoint_id": version.checksum,
            "prompt_checksum": None,
            "evaluated_at": "2026-10-30T12:00:00Z",
            "metrics": metrics,
            "segments": [
                {"name": "channel:mobile", "metrics": {"quality": metrics["quality"] - 0.02}}
            ],
        }
    ).encode()
    key = default_storage.save(f"evidence/test-{version.pk}-{len(content)}", ContentFile(content))
    return Evidence.objects.create(
        version=version,
        kind=EvidenceKind.EVAL_PACKAGE,
        media_type="application/json",
        storage_key=key,
        sha256=sha256_of(content.decode()),
        size=len(content),
        uploaded_by=version.registered_by,
    )


@dataclass
class Stack:
    team: Team
    registrant: Any
    owner: Any
    model: Any
    config: Any
    sdk: Any
    scorer: ModelVersion
    threshold: ModelVersion
    client: ModelVersion
    dataset: DatasetVersion
    evaluation: Evidence

    def components(self, **replace: Any) -> list[dict[str, Any]]:
        targets = {
            "model": self.scorer,
            "config": self.threshold,
            "sdk": self.client,
            "dataset": self.dataset,
            "evaluation_report": self.evaluation,
        }
        targets.update(replace)
        items = []
        for kind, target in targets.items():
            if target is None:
                continue
            field = {"dataset": "dataset_version", "evaluation_report": "evaluation"}.get(
                kind, "model_version"
            )
            items.append({"kind": kind, field: target.pk})
        return items


def build_stack() -> Stack:
    team = TeamFactory()
    registrant = team_member(team, "register_versions")
    owner = team_member(team, "view_team_registry")
    model = RegisteredModelFactory(team=team, name="fraud-scorer", kind=ModelKind.MODEL)
    config = RegisteredModelFactory(team=team, name="decline-threshold", kind=ModelKind.CONFIG)
    sdk = RegisteredModelFactory(team=team, name="scoring-sdk", kind=ModelKind.SDK)
    scorer = version_of(model, "3.0.0", complete=True)
    return Stack(
        team=team,
        registrant=registrant,
        owner=owner,
        model=model,
        config=config,
        sdk=sdk,
        scorer=scorer,
        threshold=version_of(
            config, "1.0.0", parameters={"decline_above": 0.82, "review_above": 0.6}
        ),
        client=version_of(sdk, "1.4.0"),
        dataset=dataset_version(
            team, "transactions", "2026-q3", window_end=NOW - timedelta(days=40)
        ),
        evaluation=eval_evidence(scorer, {"quality": 0.91, "latency_p95_ms": 120}),
    )


def notes(owner: Any, **overrides: Any) -> dict[str, Any]:
    values = {
        **copy.deepcopy(RELEASE_NOTES),
        "rollback_owner": owner,
        "rollback_feature_flag": "scoring-v3",
    }
    values.update(overrides)
    return values
