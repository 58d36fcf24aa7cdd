"""Change categories detected from the diff with the previous release, with known answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.choices import ModelKind
from registry.release_diff import release_diff
from registry.services.releases import release_create
from tests.registry.factories import RegisteredModelFactory
from tests.releases.stack import NOW, build_stack, dataset_version, eval_evidence, notes, version_of

pytestmark = pytest.mark.django_db


def submit(stack, version, components=None, **note_overrides):
    return release_create(
        stack.registrant,
        team=stack.team,
        name="checkout-scoring",
        version=version,
        components=stack.components() if components is None else components,
        notes=notes(stack.owner, **note_overrides),
        now=NOW,
    )


def categories(release):
    return [item["category"] for item in release.change_categories]


def test_a_second_release_changing_only_the_threshold_values_is_exactly_threshold():
    stack = build_stack()
    submit(stack, "1.0.0")
    raised = version_of(
        stack.config, "1.1.0", parameters={"decline_above": 0.85, "review_above": 0.6}
    )
    second = submit(stack, "1.1.0", stack.components(config=raised))
    assert categories(second) == ["threshold"]
    assert second.change_categories[0]["why"] == (
        "Config decline-threshold 1.0.0 → 1.1.0: decline_above 0.82 → 0.85."
    )
    diff = release_diff(second)
    config = next(c for c in diff.components if c.kind == "config")
    assert config.status == "changed"
    assert [(p.item, p.before, p.after) for p in config.parameters] == [
        ("decline_above", 0.82, 0.85),
        ("review_above", 0.6, 0.6),
    ]
    assert diff.summary()["changed"] == 1
    assert diff.summary()["unchanged"] == 4


def test_a_config_with_new_parameter_keys_is_config_logic():
    stack = build_stack()
    submit(stack, "1.0.0")
    fused = version_of(stack.config, "2.0.0", parameters={"decline_above": 0.82, "fusion": "max"})
    second = submit(stack, "1.1.0", stack.components(config=fused))
    assert categories(second) == ["config_logic"]
    assert "added: fusion; removed: review_above" in second.change_categories[0]["why"]


def test_a_new_config_version_with_identical_parameters_is_a_policy_update():
    stack = build_stack()
    submit(stack, "1.0.0")
    same = version_of(stack.config, "1.0.1", parameters=dict(stack.threshold.parameters))
    second = submit(stack, "1.0.1", stack.components(config=same))
    assert categories(second) == ["threshold"]
    assert "identical parameters" in second.change_categories[0]["why"]


def test_an_sdk_going_from_1_x_to_2_0_is_sdk_major_and_a_minor_bump_is_nothing():
    stack = build_stack()
    submit(stack, "1.0.0")
    minor = version_of(stack.sdk, "1.5.0")
    assert categories(submit(stack, "1.1.0", stack.components(sdk=minor))) == []
    major = version_of(stack.sdk, "2.0.0")
    third = submit(stack, "1.2.0", stack.components(sdk=major))
    assert categories(third) == ["sdk_major"]
    assert third.change_categories[0]["why"] == "SDK scoring-sdk 1.5.0 → 2.0.0 (major 1 → 2)."


def test_a_channel_not_tested_before_is_new_channel():
    stack = build_stack()
    submit(stack, "1.0.0")
    second = submit(stack, "1.1.0", channels_tested=["web", "mobile"])
    assert categories(second) == ["new_channel"]
    assert "mobile" in second.change_categories[0]["why"]


def test_a_dataset_refresh_is_detected_from_thirty_days_on():
    stack = build_stack()
    submit(stack, "1.0.0")
    end = stack.dataset.window_end
    topped_up = dataset_version(
        stack.team, "transactions", "2026-q3b", window_end=end + timedelta(days=29)
    )
    assert categories(submit(stack, "1.1.0", stack.components(dataset=topped_up))) == []
    refreshed = dataset_version(
        stack.team, "transactions", "2026-q4", window_end=end + timedelta(days=29 + 30)
    )
    third = submit(stack, "1.2.0", stack.components(dataset=refreshed))
    assert categories(third) == ["dataset_refresh"]
    assert "moved 30 days" in third.change_categories[0]["why"]


def test_another_dataset_in_place_of_the_previous_one_is_a_refresh():
    stack = build_stack()
    submit(stack, "1.0.0")
    other = dataset_version(stack.team, "chargebacks", "v1", window_end=stack.dataset.window_end)
    second = submit(stack, "1.1.0", stack.components(dataset=other))
    assert categories(second) == ["dataset_refresh"]


def test_a_new_model_version_with_another_base_model_is_base_model_and_shows_metrics():
    stack = build_stack()
    submit(stack, "1.0.0")
    rebased = version_of(stack.model, "4.0.0", complete=True, base_model_reference="xgb-2.1")
    evaluation = eval_evidence(rebased, {"quality": 0.93, "latency_p95_ms": 110})
    second = submit(stack, "2.0.0", stack.components(model=rebased, evaluation_report=evaluation))
    assert categories(second) == ["base_model"]
    diff = release_diff(second)
    model = next(c for c in diff.components if c.kind == "model")
    assert (model.version_before, model.version_after) == ("3.0.0", "4.0.0")
    assert any(change.item == "base_model_reference" for change in model.metadata)
    report = next(c for c in diff.components if c.kind == "evaluation_report")
    metrics = {m.item: (m.before, m.after) for m in report.metrics}
    assert metrics["quality"] == (0.91, 0.93)
    assert metrics["quality[channel:mobile]"] == (pytest.approx(0.89), pytest.approx(0.91))


def test_a_release_identical_to_the_previous_one_touches_no_category():
    stack = build_stack()
    submit(stack, "1.0.0")
    assert categories(submit(stack, "1.0.1")) == []


def test_the_diff_costs_the_same_queries_for_a_small_and_a_large_release():
    counts = []
    for size in (2, 12):
        stack = build_stack()
        prompts = [
            version_of(RegisteredModelFactory(team=stack.team, kind=ModelKind.PROMPT), "1.0.0")
            for _ in range(size)
        ]
        components = stack.components() + [
            {"kind": "prompt", "model_version": prompt.pk} for prompt in prompts
        ]
        submit(stack, "1.0.0", components)
        second = submit(stack, "1.1.0", components)
        second = type(second).objects.select_related("previous_release").get(pk=second.pk)
        with CaptureQueriesContext(connection) as queries:
            release_diff(second)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4
