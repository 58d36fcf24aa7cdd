"""Rollback triggers: the shape a policy must hold, and what a report breaches."""

from __future__ import annotations

import pytest

from approvals.rollback_triggers import evaluate_triggers, most_severe, rollback_triggers_problems

LATENCY = {
    "name": "p95 latency",
    "metric": "latency_p95_ms",
    "max": 250,
    "severity": "sev2",
    "blocks_promotion": True,
}
SPIKE = {
    "name": "retry spike",
    "metric": "retry_rate",
    "max_increase": 0.5,
    "severity": "sev3",
    "blocks_promotion": False,
}
SEGMENT = {
    "name": "protected segment",
    "metric": "segment_quality",
    "max_drop": 0.05,
    "severity": "sev1",
    "blocks_promotion": True,
}


def report(**overrides):
    body = {
        "request_volume": 1000,
        "latency_p95_ms": 200.0,
        "retry_rate": 0.02,
        "disagreement_rate": None,
        "segments": {},
        "drift_scores": {},
    }
    body.update(overrides)
    return body


def test_a_well_formed_trigger_list_has_no_problems():
    assert rollback_triggers_problems([LATENCY, SPIKE, SEGMENT]) == []
    assert rollback_triggers_problems([]) == []


@pytest.mark.parametrize(
    ("triggers", "expected"),
    [
        ("p95", "must be a list"),
        ([{**LATENCY, "name": " "}], "name is required"),
        ([LATENCY, LATENCY], "used twice"),
        ([{**LATENCY, "metric": "cpu"}], "metric must be one of"),
        ([{**LATENCY, "severity": "sev5"}], "severity must be one of"),
        ([{**LATENCY, "blocks_promotion": "yes"}], "blocks_promotion"),
        ([{k: v for k, v in LATENCY.items() if k != "max"}], "needs at least one"),
        ([{**LATENCY, "max": "250"}], "max must be a number"),
        ([{**LATENCY, "max_drop": 0.1}], "max_drop does not apply"),
        ([{**SPIKE, "max_increase": -1}], "must not be negative"),
        ([{**SPIKE, "max": 2}], "between 0 and 1"),
        ([{**LATENCY, "min": 300}], "min is above max"),
        ([{**LATENCY, "colour": "red"}], "unknown key 'colour'"),
    ],
)
def test_a_malformed_trigger_list_is_refused_with_a_reason(triggers, expected):
    problems = rollback_triggers_problems(triggers)
    assert any(expected in problem for problem in problems), problems


def test_a_latency_over_its_max_is_one_breach_naming_what_was_observed():
    breaches = evaluate_triggers([LATENCY], report(latency_p95_ms=312.5), None)
    assert breaches == [
        {
            "trigger": "p95 latency",
            "metric": "latency_p95_ms",
            "bound": "max",
            "limit": 250,
            "observed": 312.5,
            "segment": None,
            "feature": None,
            "severity": "sev2",
            "blocks_promotion": True,
        }
    ]


def test_a_clean_report_breaches_nothing():
    assert evaluate_triggers([LATENCY, SPIKE, SEGMENT], report(), report()) == []


def test_a_retry_rate_spike_is_judged_against_the_previous_report():
    previous = report(retry_rate=0.02)
    [breach] = evaluate_triggers([SPIKE], report(retry_rate=0.04), previous)
    assert (breach["bound"], breach["previous"], breach["increase"]) == ("max_increase", 0.02, 1.0)
    # +40 % is within +50 %; no previous report (or a previous 0) has no relative rise
    assert evaluate_triggers([SPIKE], report(retry_rate=0.028), previous) == []
    assert evaluate_triggers([SPIKE], report(retry_rate=0.04), None) == []
    assert evaluate_triggers([SPIKE], report(retry_rate=0.04), report(retry_rate=0)) == []


def test_only_a_protected_segment_falling_more_than_the_drop_below_its_baseline_breaches():
    segments = {
        "eu": {"quality": 0.80, "protected": True, "baseline": 0.90},
        "us": {"quality": 0.70, "protected": False, "baseline": 0.90},
        "apac": {"quality": 0.88, "protected": True, "baseline": 0.90},
    }
    [breach] = evaluate_triggers([SEGMENT], report(segments=segments), None)
    assert (breach["segment"], breach["observed"], breach["reference"]) == ("eu", 0.80, 0.90)
    assert breach["against"] == "baseline"


def test_a_protected_segment_without_a_baseline_is_judged_against_the_previous_report():
    previous = report(segments={"eu": {"quality": 0.9, "protected": True}})
    current = report(segments={"eu": {"quality": 0.8, "protected": True}})
    [breach] = evaluate_triggers([SEGMENT], current, previous)
    assert breach["against"] == "previous"
    assert evaluate_triggers([SEGMENT], current, None) == []


def test_drift_is_judged_per_feature_and_the_most_severe_breach_is_named():
    drift = {
        "name": "drift",
        "metric": "drift",
        "max": 0.3,
        "severity": "sev4",
        "blocks_promotion": False,
    }
    scores = {"amount": 0.5, "country": 0.1, "device": 0.31}
    breaches = evaluate_triggers(
        [drift, LATENCY], report(drift_scores=scores, latency_p95_ms=300), None
    )
    assert [(b["trigger"], b["feature"]) for b in breaches] == [
        ("drift", "amount"),
        ("drift", "device"),
        ("p95 latency", None),
    ]
    assert most_severe(breaches) == "sev2"
