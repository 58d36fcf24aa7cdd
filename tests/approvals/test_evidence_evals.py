"""Evaluation packages: parsing, policy thresholds, freshness and hostile input (IN-2)."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from approvals.evidence import EvidenceError
from approvals.evidence.evals import (
    EvalPackage,
    EvalSegment,
    ThresholdResult,
    evals_are_fresh,
    evaluate_thresholds,
    parse_eval_package,
    validate_thresholds,
)

SAMPLES = Path(__file__).parent / "samples"
HOSTILE_SECONDS = 2.0
PROMPT_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
OTHER_SHA = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
POLICY = {
    "quality": {"min": 0.8},
    "toxicity": {"max": 0.01},
    "latency_p95_ms": {"max": 800},
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def package_bytes(**overrides: object) -> bytes:
    document = {
        "checkpoint_id": "ckpt-1",
        "prompt_checksum": PROMPT_SHA,
        "evaluated_at": "2025-06-01T12:30:00Z",
        "metrics": {"quality": 0.9},
        "segments": [],
        **overrides,
    }
    return json.dumps(document).encode()


def package(**overrides: object) -> EvalPackage:
    return parse_eval_package(package_bytes(**overrides))


HOSTILE_INPUTS = {
    "nesting depth 100000": b'{"m":' * 100_000 + b"{}" + b"}" * 100_000,
    "1e400": package_bytes().replace(b"0.9", b"1e400"),
    "NaN": package_bytes().replace(b"0.9", b"NaN"),
    "Infinity": package_bytes().replace(b"0.9", b"Infinity"),
    "duplicate keys": package_bytes().replace(
        b'"metrics": {"quality": 0.9}', b'"metrics": {"quality": 0.9, "quality": 0.1}'
    ),
    "invalid UTF-8": package_bytes(checkpoint_id="ckpt").replace(b"ckpt", b"\xed\xa0\x80"),
    "gzip bytes": gzip.compress(package_bytes()),
    "gzip bomb": gzip.compress(b"{" * 10_000_000),
    "oversized": b" " * (1024 * 1024 + 1),
    "empty": b"",
}


class TestParsing:
    def test_the_passing_sample_is_read_in_full(self):
        parsed = parse_eval_package(sample("eval-passing.json"))

        assert parsed == EvalPackage(
            checkpoint_id="support-bot-ft-2025-06-01",
            prompt_checksum=PROMPT_SHA,
            evaluated_at=datetime(2025, 6, 1, 12, 30, tzinfo=UTC),
            metrics={
                "quality": 0.91,
                "toxicity": 0.004,
                "jailbreak_success_rate": 0.02,
                "bias_gap": 0.03,
                "latency_p95_ms": 640.0,
                "cost_per_1k_tokens": 0.12,
            },
            segments=[
                EvalSegment("locale:en", {"quality": 0.93, "toxicity": 0.003}),
                EvalSegment(
                    "locale:de", {"quality": 0.86, "toxicity": 0.006, "latency_p95_ms": 710.0}
                ),
            ],
        )

    def test_an_offset_timestamp_keeps_its_offset(self):
        parsed = parse_eval_package(sample("eval-failing.json"))

        assert parsed.evaluated_at == datetime(2025, 6, 8, 14, 5, tzinfo=UTC)
        assert parsed.evaluated_at.utcoffset() == timedelta(hours=2)

    def test_segments_are_optional_and_integers_become_floats(self):
        document = json.loads(package_bytes(metrics={"latency_p95_ms": 640}))
        del document["segments"]

        parsed = parse_eval_package(json.dumps(document).encode())

        assert parsed.segments == []
        assert parsed.metrics == {"latency_p95_ms": 640.0}
        assert isinstance(parsed.metrics["latency_p95_ms"], float)

    def test_an_uppercase_checksum_is_stored_lowercase_and_null_means_no_prompt(self):
        assert package(prompt_checksum=PROMPT_SHA.upper()).prompt_checksum == PROMPT_SHA
        assert package(prompt_checksum=None).prompt_checksum is None

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            (
                {"checkpoint_id": ""},
                "The eval package's checkpoint_id must be a non-empty string "
                "of at most 200 characters.",
            ),
            (
                {"checkpoint_id": 7},
                "The eval package's checkpoint_id must be a non-empty string "
                "of at most 200 characters.",
            ),
            (
                {"checkpoint_id": "a\nb"},
                "The eval package's checkpoint_id contains control characters.",
            ),
            (
                {"prompt_checksum": "abc"},
                "The eval package's prompt_checksum must be 64 "
                "hexadecimal characters (sha256) or null.",
            ),
            (
                {"evaluated_at": "2025-06-01T12:30:00"},
                "The eval package's evaluated_at has no UTC offset; add Z or +hh:mm.",
            ),
            (
                {"evaluated_at": "yesterday"},
                "The eval package's evaluated_at 'yesterday' is not an ISO 8601 date-time.",
            ),
            (
                {"evaluated_at": 1717245000},
                "The eval package's evaluated_at must be an ISO 8601 date-time.",
            ),
            ({"metrics": [0.9]}, "The metrics of the eval package must be an object."),
            (
                {"metrics": {"quality": "0.9"}},
                "Metric 'quality' in the eval package must be a finite number.",
            ),
            (
                {"metrics": {"quality": True}},
                "Metric 'quality' in the eval package must be a finite number.",
            ),
            (
                {"metrics": {"quality": None}},
                "Metric 'quality' in the eval package must be a finite number.",
            ),
            ({"metrics": {"9lives": 1}}, "Metric name '9lives' in the eval package is not valid."),
            ({"metric": {"quality": 0.9}}, "Unknown key(s) in the eval package: 'metric'."),
            ({"segments": {"en": {}}}, "The eval package's segments must be an array."),
            (
                {"segments": [{"name": "", "metrics": {}}]},
                "The eval package's segments[0].name "
                "must be a non-empty string of at most 100 characters.",
            ),
            (
                {"segments": [{"name": "en", "metrics": {}, "weight": 2}]},
                "Unknown key(s) in segments[0]: 'weight'.",
            ),
            (
                {"segments": [{"name": "en", "metrics": {}}, {"name": "en", "metrics": {}}]},
                "The eval package names segment 'en' twice.",
            ),
            ({"segments": [{"name": "en"}]}, "The metrics of segments[0] must be an object."),
        ],
        ids=[
            "empty checkpoint",
            "numeric checkpoint",
            "control character in checkpoint",
            "short checksum",
            "naive timestamp",
            "not a timestamp",
            "epoch number",
            "metrics array",
            "metric string",
            "metric boolean",
            "metric null",
            "metric name",
            "misspelt key",
            "segments object",
            "empty segment name",
            "unknown segment key",
            "duplicate segment",
            "segment without metrics",
        ],
    )
    def test_a_malformed_package_is_refused_with_the_field_named(self, overrides, message):
        with pytest.raises(EvidenceError) as caught:
            package(**overrides)

        assert str(caught.value) == message

    def test_a_package_missing_required_fields_names_them(self):
        with pytest.raises(EvidenceError) as caught:
            parse_eval_package(b'{"metrics": {}}')

        assert str(caught.value) == (
            "The eval package is missing checkpoint_id, evaluated_at, prompt_checksum."
        )

    def test_a_json_array_is_not_a_package(self):
        with pytest.raises(EvidenceError) as caught:
            parse_eval_package(b"[]")

        assert str(caught.value) == "The eval package must be a JSON object."


class TestThresholds:
    def test_the_passing_sample_meets_every_bound_overall_and_in_each_segment(self):
        results = evaluate_thresholds(parse_eval_package(sample("eval-passing.json")), POLICY)

        assert results == [
            ThresholdResult("quality", None, 0.91, 0.8, ">=", True, "quality = 0.91 meets >= 0.8"),
            ThresholdResult(
                "quality",
                "locale:en",
                0.93,
                0.8,
                ">=",
                True,
                "quality in segment 'locale:en' = 0.93 meets >= 0.8",
            ),
            ThresholdResult(
                "quality",
                "locale:de",
                0.86,
                0.8,
                ">=",
                True,
                "quality in segment 'locale:de' = 0.86 meets >= 0.8",
            ),
            ThresholdResult(
                "toxicity", None, 0.004, 0.01, "<=", True, "toxicity = 0.004 meets <= 0.01"
            ),
            ThresholdResult(
                "toxicity",
                "locale:en",
                0.003,
                0.01,
                "<=",
                True,
                "toxicity in segment 'locale:en' = 0.003 meets <= 0.01",
            ),
            ThresholdResult(
                "toxicity",
                "locale:de",
                0.006,
                0.01,
                "<=",
                True,
                "toxicity in segment 'locale:de' = 0.006 meets <= 0.01",
            ),
            ThresholdResult(
                "latency_p95_ms",
                None,
                640.0,
                800.0,
                "<=",
                True,
                "latency_p95_ms = 640 meets <= 800",
            ),
            ThresholdResult(
                "latency_p95_ms",
                "locale:de",
                710.0,
                800.0,
                "<=",
                True,
                "latency_p95_ms in segment 'locale:de' = 710 meets <= 800",
            ),
        ]

    def test_the_failing_sample_fails_on_a_missing_metric_a_bad_segment_and_latency(self):
        results = evaluate_thresholds(parse_eval_package(sample("eval-failing.json")), POLICY)

        failed = [(r.metric, r.segment, r.observed, r.detail) for r in results if not r.passed]
        assert failed == [
            ("quality", None, None, "quality not reported"),
            ("quality", "locale:de", 0.74, "quality in segment 'locale:de' = 0.74 fails >= 0.8"),
            (
                "toxicity",
                "locale:de",
                0.031,
                "toxicity in segment 'locale:de' = 0.031 fails <= 0.01",
            ),
            ("latency_p95_ms", None, 930.0, "latency_p95_ms = 930 fails <= 800"),
        ]

    def test_a_metric_exactly_at_its_limit_passes_both_ways(self):
        parsed = package(metrics={"quality": 0.8, "toxicity": 0.01})

        results = evaluate_thresholds(parsed, {"quality": {"min": 0.8}, "toxicity": {"max": 0.01}})

        assert [r.passed for r in results] == [True, True]

    def test_a_min_and_max_on_one_metric_give_two_results_min_first(self):
        results = evaluate_thresholds(
            package(metrics={"bias_gap": 0.2}), {"bias_gap": {"max": 0.1, "min": 0.0}}
        )

        assert [(r.comparison, r.limit, r.passed) for r in results] == [
            (">=", 0.0, True),
            ("<=", 0.1, False),
        ]

    def test_a_metric_reported_only_by_a_segment_still_fails_overall(self):
        parsed = package(metrics={}, segments=[{"name": "en", "metrics": {"quality": 0.95}}])

        results = evaluate_thresholds(parsed, {"quality": {"min": 0.8}})

        assert [(r.segment, r.observed, r.passed) for r in results] == [
            (None, None, False),
            ("en", 0.95, True),
        ]

    def test_a_segment_that_does_not_report_a_metric_is_not_judged_on_it(self):
        parsed = package(segments=[{"name": "en", "metrics": {"toxicity": 0.001}}])

        results = evaluate_thresholds(parsed, {"quality": {"min": 0.8}})

        assert [(r.segment, r.passed) for r in results] == [(None, True)]

    def test_no_thresholds_give_no_results(self):
        assert evaluate_thresholds(package(), {}) == []

    @pytest.mark.parametrize(
        ("thresholds", "message"),
        [
            (
                {"quality": {"minimum": 0.8}},
                "Threshold 'quality' has unknown bound(s) minimum; use min and/or max.",
            ),
            ({"quality": {}}, "Threshold 'quality' must be an object with min and/or max."),
            ({"quality": 0.8}, "Threshold 'quality' must be an object with min and/or max."),
            ({"quality": {"min": "0.8"}}, "Threshold 'quality' min must be a finite number."),
            ({"quality": {"min": True}}, "Threshold 'quality' min must be a finite number."),
            (
                {"quality": {"min": float("nan")}},
                "Threshold 'quality' min must be a finite number.",
            ),
            ({"quality": {"max": 10**400}}, "Threshold 'quality' max must be a finite number."),
            (
                {"quality": {"min": 0.9, "max": 0.1}},
                "Threshold 'quality' has min greater than max.",
            ),
            ({"": {"min": 1}}, "Threshold metric name '' is not valid."),
            ([("quality", {"min": 1})], "Thresholds must be an object of metric name -> bounds."),
        ],
        ids=[
            "misspelt bound",
            "no bound",
            "bare number",
            "string limit",
            "boolean limit",
            "NaN limit",
            "huge limit",
            "min above max",
            "empty name",
            "not a mapping",
        ],
    )
    def test_a_malformed_policy_is_refused_rather_than_silently_passing(self, thresholds, message):
        with pytest.raises(ValueError) as caught:
            validate_thresholds(thresholds)

        assert str(caught.value) == message
        with pytest.raises(ValueError):
            evaluate_thresholds(package(), thresholds)


class TestFreshness:
    def test_evals_are_fresh_for_the_prompt_they_were_run_with(self):
        assert evals_are_fresh(package(), PROMPT_SHA) is True

    def test_checksums_compare_case_insensitively(self):
        assert evals_are_fresh(package(), PROMPT_SHA.upper()) is True

    def test_evals_are_stale_after_a_prompt_change(self):
        assert evals_are_fresh(package(), OTHER_SHA) is False

    def test_evals_without_a_prompt_are_stale_once_the_version_has_one(self):
        assert evals_are_fresh(package(prompt_checksum=None), PROMPT_SHA) is False

    def test_evals_of_a_prompt_are_stale_for_a_version_without_one(self):
        assert evals_are_fresh(package(), None) is False

    def test_evals_without_a_prompt_are_fresh_for_a_version_without_one(self):
        assert evals_are_fresh(package(prompt_checksum=None), None) is True


class TestHostileInput:
    @pytest.mark.parametrize("data", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS.keys())
    def test_hostile_input_raises_evidence_error_in_bounded_time(self, data):
        started = time.thread_time()

        with pytest.raises(EvidenceError):
            parse_eval_package(data)

        assert time.thread_time() - started < HOSTILE_SECONDS

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                HOSTILE_INPUTS["nesting depth 100000"],
                "The eval package is nested deeper than 64 levels.",
            ),
            (
                HOSTILE_INPUTS["1e400"],
                "The eval package contains the number 1e400, which is out of range.",
            ),
            (HOSTILE_INPUTS["NaN"], "The eval package contains NaN, which is not a JSON number."),
            (HOSTILE_INPUTS["duplicate keys"], "The eval package has a duplicate key 'quality'."),
            (
                HOSTILE_INPUTS["gzip bytes"],
                "The eval package is gzip-compressed; upload the uncompressed JSON document.",
            ),
            (
                HOSTILE_INPUTS["oversized"],
                "The eval package is 1048577 bytes; the limit is 1048576 bytes.",
            ),
        ],
        ids=["depth", "1e400", "NaN", "duplicate", "gzip", "oversized"],
    )
    def test_each_hostile_input_gets_a_message_saying_what_is_wrong(self, data, message):
        with pytest.raises(EvidenceError) as caught:
            parse_eval_package(data)

        assert str(caught.value) == message

    def test_invalid_utf8_names_the_byte(self):
        with pytest.raises(EvidenceError) as caught:
            parse_eval_package(HOSTILE_INPUTS["invalid UTF-8"])

        assert str(caught.value) == (
            "The eval package is not valid UTF-8 (byte 19: invalid continuation byte)."
        )

    def test_a_caller_can_raise_the_size_limit_for_a_large_package(self):
        segments = [{"name": f"s{index}", "metrics": {"quality": 0.9}} for index in range(40_000)]
        data = package_bytes(segments=segments)
        assert len(data) > 1024 * 1024

        parsed = parse_eval_package(data, max_bytes=4 * 1024 * 1024)

        assert len(parsed.segments) == 40_000

    def test_a_non_utc_offset_is_accepted(self):
        parsed = package(evaluated_at="2025-06-01T08:30:00-04:00")

        assert parsed.evaluated_at == datetime(
            2025, 6, 1, 8, 30, tzinfo=timezone(timedelta(hours=-4))
        )
