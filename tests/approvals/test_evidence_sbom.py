"""CycloneDX SBOM validation on real cyclonedx-py output, broken and hostile documents (IN-2)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from approvals.evidence import EvidenceError
from approvals.evidence.sbom import (
    MAX_REPORTED_ERRORS,
    SbomReport,
    supported_spec_versions,
    validate_cyclonedx_json,
)
from approvals.evidence.strictjson import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, load_json

SAMPLES = Path(__file__).parent / "samples"
HOSTILE_SECONDS = 2.0


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def minimal_bom(**fields: object) -> dict[str, object]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, **fields}


def nested_components(levels: int) -> dict[str, object]:
    component: dict[str, object] = {"type": "library", "name": "leaf", "version": "1.0"}
    for level in range(levels):
        component = {
            "type": "library",
            "name": f"level-{level}",
            "version": "1.0",
            "components": [component],
        }
    return component


HOSTILE_INPUTS = {
    "nesting depth 100000": b"[" * 100_000 + b"]" * 100_000,
    "unclosed nesting depth 100000": b'{"a":' * 100_000,
    "1e400": b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1e400}',
    "a 5000-digit integer": b'{"version": ' + b"9" * 5000 + b"}",
    "NaN": b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": NaN}',
    "-Infinity": b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": -Infinity}',
    "duplicate keys": b'{"bomFormat": "CycloneDX", "specVersion": "1.2", "specVersion": "1.6"}',
    "invalid UTF-8": b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "x": "\xff\xfe"}',
    "UTF-16": json.dumps(minimal_bom()).encode("utf-16"),
    "gzip bytes": gzip.compress(json.dumps(minimal_bom()).encode()),
    "gzip bomb": gzip.compress(b"[" * 10_000_000),
    "empty bytes": b"",
    "whitespace only": b" \n\t ",
    "truncated JSON": json.dumps(minimal_bom())[:-5].encode(),
    "a bare string": b'"CycloneDX"',
}


class TestRealSboms:
    def test_a_cyclonedx_py_1_6_sbom_is_valid_with_its_serial_number_and_components(self):
        report = validate_cyclonedx_json(sample("sbom-cyclonedx-1.6.json"))

        assert report == SbomReport(
            valid=True,
            spec_version="1.6",
            component_count=5,
            errors=[],
            serial_number="urn:uuid:2fa6ecad-b8b5-48f9-adfa-ac8dbd9188d8",
        )

    def test_a_cyclonedx_py_1_4_sbom_is_valid_against_the_1_4_schema(self):
        report = validate_cyclonedx_json(sample("sbom-cyclonedx-1.4.json"))

        assert report.valid is True
        assert report.spec_version == "1.4"
        assert report.component_count == 5
        assert report.serial_number == "urn:uuid:22b25b1a-27c4-4fce-8061-50555ae8f70b"

    def test_the_cyclonedx_vulnerability_samples_are_themselves_valid_cyclonedx_1_6(self):
        vulnerable = validate_cyclonedx_json(sample("cyclonedx-vdr-vulnerable.json"))
        clean = validate_cyclonedx_json(sample("cyclonedx-vdr-clean.json"))

        assert (vulnerable.valid, vulnerable.component_count) == (True, 3)
        assert (clean.valid, clean.component_count) == (True, 1)


class TestSchemaFailures:
    def test_a_schema_invalid_sbom_is_reported_invalid_with_each_field_named(self):
        report = validate_cyclonedx_json(sample("sbom-broken-schema.json"))

        assert report.valid is False
        assert report.spec_version == "1.4"
        assert report.errors == [
            "$.components[0]: 'name' is a required property",
            "$.components[0].type: 'gizmo' is not one of ['application', 'framework', "
            "'library', 'container', 'operating-system', 'device', 'firmware', 'file']",
            "$.components[1].purl: 42 is not of type 'string'",
        ]

    def test_a_1_2_sbom_carrying_1_5_and_1_6_fields_fails_strict_1_2_validation(self):
        report = validate_cyclonedx_json(sample("sbom-cross-version-1.2-with-1.6-fields.json"))

        assert report.valid is False
        assert report.spec_version == "1.2"
        assert report.errors == [
            "$.metadata.tools: an object is not of type 'array'",
            "$.components[0]: Additional properties are not allowed ('omniborId' was unexpected)",
        ]

    def test_the_same_document_declared_as_1_6_is_valid(self):
        relabelled = json.loads(sample("sbom-cross-version-1.2-with-1.6-fields.json"))
        relabelled["specVersion"] = "1.6"

        report = validate_cyclonedx_json(json.dumps(relabelled).encode())

        assert report.valid is True

    def test_an_unknown_top_level_property_fails_because_validation_is_strict(self):
        report = validate_cyclonedx_json(json.dumps(minimal_bom(extra="x")).encode())

        assert report.valid is False
        assert report.errors == [
            "$: Additional properties are not allowed ('extra' was unexpected)"
        ]

    def test_at_most_twenty_errors_are_listed_and_the_rest_are_summarised(self):
        components = [{"type": "gizmo", "name": f"c{index}"} for index in range(50)]

        report = validate_cyclonedx_json(json.dumps(minimal_bom(components=components)).encode())

        assert report.valid is False
        assert len(report.errors) == MAX_REPORTED_ERRORS + 1
        assert report.errors[-1] == "... more errors not listed (first 20 shown)"

    def test_an_error_message_never_quotes_a_huge_value_in_full(self):
        document = minimal_bom(metadata={"tools": {"components": [{"name": "x" * 100_000}]}})
        document["specVersion"] = "1.2"

        report = validate_cyclonedx_json(json.dumps(document).encode())

        assert report.errors == ["$.metadata.tools: an object is not of type 'array'"]
        assert max(len(error) for error in report.errors) <= 300


class TestNotCycloneDx:
    @pytest.mark.parametrize(
        ("document", "message"),
        [
            ([], "The SBOM is not a JSON object, so it is not a CycloneDX document."),
            (
                {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"},
                'The SBOM has no "bomFormat": "CycloneDX", so it is not a CycloneDX JSON document.',
            ),
            (
                {"bomFormat": "cyclonedx", "specVersion": "1.6"},
                'The SBOM has no "bomFormat": "CycloneDX", so it is not a CycloneDX JSON document.',
            ),
            (
                {"bomFormat": "CycloneDX"},
                "The SBOM has no valid \"specVersion\" (found 'None'); supported: "
                "1.2, 1.3, 1.4, 1.5, 1.6, 1.7.",
            ),
            (
                {"bomFormat": "CycloneDX", "specVersion": 1.6},
                "The SBOM has no valid \"specVersion\" (found '1.6'); supported: "
                "1.2, 1.3, 1.4, 1.5, 1.6, 1.7.",
            ),
            (
                {"bomFormat": "CycloneDX", "specVersion": "1.1"},
                "CycloneDX 1.1 is not supported as JSON; supported: 1.2, 1.3, 1.4, 1.5, 1.6, 1.7.",
            ),
            (
                {"bomFormat": "CycloneDX", "specVersion": "1.99"},
                "CycloneDX 1.99 is not supported as JSON; supported: 1.2, 1.3, 1.4, 1.5, 1.6, 1.7.",
            ),
            (
                {"bomFormat": "CycloneDX", "specVersion": "2.0"},
                "The SBOM has no valid \"specVersion\" (found '2.0'); supported: "
                "1.2, 1.3, 1.4, 1.5, 1.6, 1.7.",
            ),
        ],
        ids=[
            "an array",
            "SPDX",
            "lowercase bomFormat",
            "no specVersion",
            "numeric specVersion",
            "XML-only 1.1",
            "unknown 1.99",
            "major version 2",
        ],
    )
    def test_a_document_that_is_not_supported_cyclonedx_json_is_refused(self, document, message):
        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(json.dumps(document).encode())

        assert str(caught.value) == message

    def test_supported_spec_versions_are_the_json_versions_of_the_library(self):
        assert supported_spec_versions() == ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"]


class TestComponentCounting:
    def test_nested_components_are_counted_but_the_metadata_subject_is_not(self):
        document = minimal_bom(
            metadata={"component": {"type": "application", "name": "bot", "version": "1"}},
            components=[nested_components(3), nested_components(0)],
        )

        report = validate_cyclonedx_json(json.dumps(document).encode())

        assert (report.valid, report.component_count) == (True, 5)

    def test_a_component_tree_just_inside_the_depth_limit_is_validated_normally(self):
        # Each component level adds two JSON levels (an array and an object).
        document = minimal_bom(components=[nested_components(30)])

        report = validate_cyclonedx_json(json.dumps(document).encode())

        assert (report.valid, report.component_count) == (True, 31)

    def test_a_component_tree_one_level_too_deep_is_refused_before_validation(self):
        document = minimal_bom(components=[nested_components(31)])

        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(json.dumps(document).encode())

        assert str(caught.value) == f"The SBOM is nested deeper than {DEFAULT_MAX_DEPTH} levels."


class TestHostileInput:
    @pytest.mark.parametrize("data", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS.keys())
    def test_hostile_input_raises_evidence_error_in_bounded_time(self, data):
        started = time.thread_time()

        with pytest.raises(EvidenceError):
            validate_cyclonedx_json(data)

        assert time.thread_time() - started < HOSTILE_SECONDS

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"[" * 100_000 + b"]" * 100_000, "The SBOM is nested deeper than 64 levels."),
            (
                b'{"version": 1e400}',
                "The SBOM contains the number 1e400, which is out of range.",
            ),
            (b'{"version": NaN}', "The SBOM contains NaN, which is not a JSON number."),
            (b'{"a": 1, "a": 2}', "The SBOM has a duplicate key 'a'."),
            (b'{"a": "\xff"}', "The SBOM is not valid UTF-8 (byte 7: invalid start byte)."),
            (
                gzip.compress(b"{}"),
                "The SBOM is gzip-compressed; upload the uncompressed JSON document.",
            ),
            (b"", "The SBOM is empty."),
        ],
        ids=["depth", "1e400", "NaN", "duplicate", "UTF-8", "gzip", "empty"],
    )
    def test_each_hostile_input_gets_a_message_saying_what_is_wrong(self, data, message):
        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(data)

        assert str(caught.value) == message

    def test_a_document_over_the_default_limit_is_refused_before_parsing(self):
        oversized = b" " * DEFAULT_MAX_BYTES + b"{}"
        started = time.thread_time()

        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(oversized)

        assert str(caught.value) == (
            f"The SBOM is {DEFAULT_MAX_BYTES + 2} bytes; the limit is {DEFAULT_MAX_BYTES} bytes."
        )
        assert time.thread_time() - started < HOSTILE_SECONDS

    def test_a_caller_can_lower_the_size_limit(self):
        data = sample("sbom-cyclonedx-1.6.json")

        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(data, max_bytes=1024)

        assert str(caught.value) == f"The SBOM is {len(data)} bytes; the limit is 1024 bytes."

    def test_text_instead_of_bytes_is_refused(self):
        with pytest.raises(EvidenceError) as caught:
            validate_cyclonedx_json(sample("sbom-cyclonedx-1.6.json").decode())  # type: ignore[arg-type]

        assert str(caught.value) == "The SBOM must be bytes, not str."

    def test_a_utf8_byte_order_mark_is_tolerated(self):
        report = validate_cyclonedx_json(b"\xef\xbb\xbf" + sample("sbom-cyclonedx-1.6.json"))

        assert report.valid is True


class TestStrictJsonDepthScan:
    """The depth guard reads raw bytes; strings must not fool it either way."""

    def test_brackets_inside_strings_do_not_count_as_nesting(self):
        document = {"description": "[" * 1000 + "{" * 1000, "nested": [[["ok"]]]}

        assert load_json(json.dumps(document).encode()) == document

    def test_escaped_quotes_and_backslashes_do_not_hide_real_nesting(self):
        text = '{"a": "\\\\", "b": "\\"[[[", "c": ' + "[" * 70 + "]" * 70 + "}"

        with pytest.raises(EvidenceError) as caught:
            load_json(text.encode())

        assert str(caught.value) == "The document is nested deeper than 64 levels."

    def test_nesting_exactly_at_the_limit_parses(self):
        text = "[" * DEFAULT_MAX_DEPTH + "]" * DEFAULT_MAX_DEPTH

        assert load_json(text.encode(), max_depth=DEFAULT_MAX_DEPTH) is not None

    def test_non_ascii_text_next_to_brackets_is_measured_correctly(self):
        text = '{"name": "Grüße [«", "list": [["ä"]]}'

        assert load_json(text.encode()) == {"name": "Grüße [«", "list": [["ä"]]}

    @pytest.mark.parametrize(
        "compressed",
        [b"PK\x03\x04rest", b"BZh91AY", b"\xfd7zXZ\x00\x00", b"\x28\xb5\x2f\xfd\x00"],
        ids=["zip", "bzip2", "xz", "zstd"],
    )
    def test_other_compressed_formats_are_refused_without_decompressing(self, compressed):
        with pytest.raises(EvidenceError, match="-compressed; upload the uncompressed JSON"):
            load_json(compressed)


class TestBoundedValidationTime:
    """The library's default IRI and uniqueItems checks are super-linear; ours are not.

    Bounded in this thread's CPU time (time.thread_time), neither the wall clock nor the
    process's CPU: a loaded CI machine, or a server or worker thread an earlier test left
    running in this process, must not fail a test about our algorithm's cost."""

    @staticmethod
    def component(index: int, url: str) -> dict[str, object]:
        return {
            "type": "library",
            "name": f"pkg{index}",
            "version": "1.0.0",
            "purl": f"pkg:pypi/pkg{index}@1.0.0",
            "externalReferences": [{"type": "distribution", "url": url}],
        }

    def test_two_thousand_components_with_long_urls_validate_in_seconds(self):
        url = "https://example.com/" + "a" * 300
        components = [self.component(index, f"{url}/{index}") for index in range(2000)]
        data = json.dumps(minimal_bom(components=components)).encode()
        started = time.thread_time()

        report = validate_cyclonedx_json(data)

        assert (report.valid, report.component_count) == (True, 2000)
        assert time.thread_time() - started < 5.0

    def test_one_hundred_kilobyte_url_is_checked_in_well_under_a_second(self):
        components = [self.component(0, "https://example.com/" + "a" * 100_000)]
        started = time.thread_time()

        report = validate_cyclonedx_json(json.dumps(minimal_bom(components=components)).encode())

        assert report.valid is True
        assert time.thread_time() - started < 1.0

    def test_duplicate_components_are_still_reported_as_non_unique(self):
        components = [self.component(1, "https://a.example"), self.component(2, "https://b")]
        components.append(json.loads(json.dumps(components[0])))

        report = validate_cyclonedx_json(json.dumps(minimal_bom(components=components)).encode())

        assert report.errors == ["$.components: an array has non-unique elements (item 2 repeats)"]

    def test_uniqueness_ignores_key_order_as_json_equality_does(self):
        components = [
            {"type": "library", "name": "x", "version": "1"},
            {"version": "1", "name": "x", "type": "library"},
        ]

        report = validate_cyclonedx_json(json.dumps(minimal_bom(components=components)).encode())

        assert report.errors == ["$.components: an array has non-unique elements (item 1 repeats)"]

    def test_uniqueness_keys_follow_json_equality_for_numbers_and_booleans(self):
        from approvals.evidence.sbom import _canonical

        assert _canonical([1, {"a": 2.0}]) == _canonical([1.0, {"a": 2}])
        assert _canonical(True) != _canonical(1)
        assert _canonical([False]) != _canonical([0])
        assert _canonical({"a": None}) != _canonical({"a": "None"})

    @pytest.mark.parametrize(
        ("url", "valid"),
        [
            ("https://example.com/path?q=1#frag", True),
            ("https://bücher.example/straße", True),
            ("../relative/reference", True),
            ("not a url", False),
            ("https://example.com/\ud800", False),
            ("http://[::1", False),
        ],
        ids=["URL", "IRI", "relative", "spaces", "lone surrogate", "broken IPv6"],
    )
    def test_external_reference_urls_are_checked_as_iri_references(self, url, valid):
        document = minimal_bom(externalReferences=[{"type": "website", "url": url}])

        report = validate_cyclonedx_json(json.dumps(document).encode())

        assert report.valid is valid
