"""Artifact location (traversal/symlink/SSRF corpus), checksum and pickle scanning.

Nothing here ever unpickles: the malicious samples are built with ``pickle.dumps`` and
only ever read by picklescan's disassembler. Each exploit would create a marker file if
it ran; the tests assert the marker never appears.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from approvals.evidence import EvidenceError
from approvals.evidence.artifact_scan import (
    parse_artifact_scan_report,
    resolve_artifact_path,
    scan_artifact,
)

SAMPLES = Path(__file__).parent / "samples" / "artifacts"


class Exploit:
    """Unpickling this would run a shell command. We only ever pickle.dumps it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


def malicious_pickle(marker: Path) -> bytes:
    return pickle.dumps(Exploit(f"touch {marker}"), protocol=4)


def safetensors_bytes() -> bytes:
    """The tiny safetensors format by hand: u64 LE header length, JSON header, raw bytes."""
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    header = json.dumps(
        {
            "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, len(data)]},
            "__metadata__": {"format": "pt"},
        },
        separators=(",", ":"),
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "an exploit pickle was executed"


# --- committed samples are what they claim to be ------------------------------------------


def test_committed_samples_match_their_recipes() -> None:
    assert (SAMPLES / "tiny.safetensors").read_bytes() == safetensors_bytes()
    assert (SAMPLES / "malicious.pkl").read_bytes() == pickle.dumps(
        Exploit("echo pwned"), protocol=4
    )
    assert (SAMPLES / "benign.pkl").read_bytes() == pickle.dumps(
        {"weights": [0.1, 0.2, 0.3], "name": "tiny"}, protocol=4
    )


# --- resolve_artifact_path ----------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "roots"
    (root / "team" / "model-1").mkdir(parents=True)
    (root / "team" / "model-1" / "model.safetensors").write_bytes(safetensors_bytes())
    (root / "team" / "weights.bin").write_bytes(b"x")
    return root


def test_resolves_a_file_and_a_directory_inside_the_root(root: Path) -> None:
    assert resolve_artifact_path(f"file://{root}/team/weights.bin", allowed_roots=[root]) == (
        (root / "team" / "weights.bin").resolve()
    )
    assert resolve_artifact_path(f"file://localhost{root}/team/model-1", allowed_roots=[root]) == (
        (root / "team" / "model-1").resolve()
    )
    assert resolve_artifact_path(f"file://{root}/team/model-1/", allowed_roots=[root]) == (
        (root / "team" / "model-1").resolve()
    )


def test_percent_encoded_once_is_decoded(root: Path) -> None:
    (root / "team" / "a b.pkl").write_bytes(b"x")
    path = resolve_artifact_path(f"file://{root}/team/a%20b.pkl", allowed_roots=[root])
    assert path.name == "a b.pkl"


def test_a_symlinked_root_is_operator_configuration(tmp_path: Path, root: Path) -> None:
    link_root = tmp_path / "link-root"
    link_root.symlink_to(root)
    path = resolve_artifact_path(f"file://{link_root}/team/weights.bin", allowed_roots=[link_root])
    assert path == (root / "team" / "weights.bin").resolve()


def traversal_corpus(root: Path, tmp_path: Path) -> list[str]:
    # Real targets outside the root, so a resolver bug would actually succeed.
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret").write_text("server secret")
    (root / "team" / "escape").symlink_to(outside, target_is_directory=True)
    (root / "team" / "secret-link").symlink_to(outside / "secret")
    (root / "team" / "inner-link").symlink_to(root / "team" / "weights.bin")
    rel = os.path.relpath(outside, root)
    return [
        "file:///roots/../etc/passwd",
        f"file://{root}/../outside/secret",
        f"file://{root}/{rel}/secret",
        f"file://{root}/team/./weights.bin",
        f"file://{root}/team//weights.bin",
        f"file://{root}/team/weights.bin//",
        f"file://{root}/%2e%2e/outside/secret",
        f"file://{root}/%2e%2e%2foutside%2fsecret",
        f"file://{root}/%2E%2E%2Foutside%2Fsecret",
        f"file://{root}/%252e%252e%252foutside%252fsecret",
        f"file://{root}/%25252e%25252e%25252f",
        f"file://{root}/team%2f..%2f..%2foutside%2fsecret",
        f"file://{root}/..%2foutside/secret",
        f"file://{root}/team\\..\\..\\outside\\secret",
        f"file://{root}/team%5c..%5c..%5coutside%5csecret",
        f"file://{root}/team/weights.bin%00.safetensors",
        f"file://{root}/team/weights.bin\x00.safetensors",
        f"file://{root}/team/weights.bin\n",
        f"file://{root}/team/%ff%fe",
        f"file://{root}/team/escape/secret",
        f"file://{root}/team/secret-link",
        f"file://{root}/team/inner-link",
        f"file://{root}",
        f"file://{root}/",
        f"file://{root}/team/missing.bin",
        f"file://{outside}/secret",
        "file:///etc/passwd",
        "file://remotehost/x",
        f"file://remotehost{root}/team/weights.bin",
        f"file://user@localhost{root}/team/weights.bin",
        f"file://{root}/team/weights.bin?x=1",
        f"file://{root}/team/weights.bin#frag",
        f"file:{root}/team/../../outside/secret",
        f"{root}/team/weights.bin",
        "team/weights.bin",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8000/admin/",
        "http://10.0.0.1/model.bin",
        "https://[::1]/model.bin",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://example.com/model.bin",
        "s3://bucket/model.bin",
        "dict://127.0.0.1:11211/stats",
        "FILE://remotehost/x",
        "",
        "file://" + "/a" * 3000,
    ]


def test_traversal_symlink_and_ssrf_corpus_never_succeeds(root: Path, tmp_path: Path) -> None:
    corpus = traversal_corpus(root, tmp_path)
    succeeded = []
    for uri in corpus:
        try:
            resolve_artifact_path(uri, allowed_roots=[root])
        except EvidenceError:
            continue
        succeeded.append(uri)
    assert succeeded == []
    assert len(corpus) >= 40


def test_uri_must_be_inside_one_of_several_roots(tmp_path: Path, root: Path) -> None:
    other = tmp_path / "other-root"
    other.mkdir()
    (other / "m.pkl").write_bytes(b"x")
    assert resolve_artifact_path(f"file://{other}/m.pkl", allowed_roots=[root, other])
    with pytest.raises(EvidenceError):
        resolve_artifact_path(f"file://{other}/m.pkl", allowed_roots=[root])
    with pytest.raises(EvidenceError, match="No artifact roots"):
        resolve_artifact_path(f"file://{other}/m.pkl", allowed_roots=[])


def test_a_root_prefix_is_not_a_string_prefix(tmp_path: Path, root: Path) -> None:
    sibling = tmp_path / "roots-evil"
    sibling.mkdir()
    (sibling / "m.pkl").write_bytes(b"x")
    with pytest.raises(EvidenceError):
        resolve_artifact_path(f"file://{sibling}/m.pkl", allowed_roots=[root])


# --- scan_artifact --------------------------------------------------------------------


def test_benign_pickle_passes() -> None:
    path = SAMPLES / "benign.pkl"
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.checksum_matches is True
    assert report.actual_sha256 == sha256(path.read_bytes())
    assert report.files_scanned == 1
    assert report.unsafe_findings == []
    assert report.scanner.startswith("picklescan ")
    assert report.passed is True


def test_malicious_pickle_is_flagged_and_never_runs(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(malicious_pickle(marker))
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.checksum_matches is True
    assert report.passed is False
    assert any("dangerous pickle import" in f and "system" in f for f in report.unsafe_findings)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "model.bin", "m.joblib", "x.data"])
def test_pickle_extensions_are_scanned(tmp_path: Path, marker: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(malicious_pickle(marker))
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False
    assert report.unsafe_findings


def test_pickle_disguised_by_extension_is_sniffed(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(malicious_pickle(marker))
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False


def test_pickle_inside_a_zip_checkpoint_is_flagged(tmp_path: Path, marker: Path) -> None:
    """PyTorch's zip format: archive/data.pkl plus tensor storages."""
    path = tmp_path / "checkpoint.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", malicious_pickle(marker))
        archive.writestr("archive/data/0", b"\x00" * 16)
        archive.writestr("archive/version", b"3\n")
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False
    assert any(
        f.startswith("checkpoint.pt: dangerous") and "system" in f for f in report.unsafe_findings
    )


def test_benign_zip_checkpoint_passes(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": [1, 2, 3]}, protocol=2))
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is True, report.unsafe_findings


def test_zip_bomb_is_refused_without_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", b"\x80\x04" + b"\x00" * (50 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False
    assert any("zip bomb" in f for f in report.unsafe_findings)


def test_unknown_imports_fail_closed(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Path("x"), protocol=4))  # pathlib.PosixPath: not reviewed
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False
    assert any("unreviewed pickle import" in f for f in report.unsafe_findings)


def test_safetensors_is_safe_by_format() -> None:
    path = SAMPLES / "tiny.safetensors"
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is True
    assert report.unsafe_findings == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x05\x00\x00\x00",
        struct.pack("<Q", 10**12) + b"{}",
        struct.pack("<Q", 2) + b"[]",
        struct.pack("<Q", 5) + b"{bad}",
        struct.pack("<Q", 40) + b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,99]}}'[:40],
    ],
)
def test_invalid_safetensors_is_a_finding(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    report = scan_artifact(path, expected_sha256=sha256(content))
    assert report.passed is False
    assert any("not a valid safetensors" in f for f in report.unsafe_findings)


def test_pickle_renamed_to_safetensors_is_caught(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(malicious_pickle(marker))
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False


def test_checksum_mismatch_fails() -> None:
    path = SAMPLES / "tiny.safetensors"
    report = scan_artifact(path, expected_sha256="0" * 64)
    assert report.checksum_matches is False
    assert report.actual_sha256 == sha256(path.read_bytes())
    assert report.passed is False


def expected_directory_digest(files: dict[str, bytes]) -> str:
    """The documented digest: sha256sum lines of sorted relative paths, hashed."""
    lines = "".join(f"{sha256(files[name])}  {name}\n" for name in sorted(files))
    return sha256(lines.encode())


def test_directory_digest_is_deterministic_and_documented(tmp_path: Path) -> None:
    files = {
        "config.json": b'{"hidden": 4}',
        "model.safetensors": safetensors_bytes(),
        "sub/tokenizer.json": b"{}",
        "sub/z.txt": b"z",
        "B.txt": b"upper sorts first",
    }
    model = tmp_path / "model"
    for name, content in files.items():
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(content)
    (model / "empty-dir").mkdir()
    digest = expected_directory_digest(files)
    report = scan_artifact(model, expected_sha256=digest)
    assert report.actual_sha256 == digest
    assert report.checksum_matches is True
    assert report.files_scanned == len(files)
    assert report.passed is True, report.unsafe_findings
    # Renaming a file changes the digest even though every content digest is the same.
    (model / "sub" / "z.txt").rename(model / "sub" / "y.txt")
    assert scan_artifact(model, expected_sha256=digest).checksum_matches is False


def test_directory_with_malicious_member_fails(tmp_path: Path, marker: Path) -> None:
    model = tmp_path / "model"
    (model / "nested").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(safetensors_bytes())
    (model / "nested" / "optimizer.pt").write_bytes(malicious_pickle(marker))
    report = scan_artifact(model, expected_sha256="0" * 64)
    assert any(f.startswith("nested/optimizer.pt: dangerous") for f in report.unsafe_findings)
    assert report.passed is False


def test_symlinks_and_fifos_in_a_directory_are_findings_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pkl").write_bytes(b"\x80\x04N.")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(safetensors_bytes())
    (model / "link.pkl").symlink_to(outside / "secret.pkl")
    (model / "linkdir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(model / "pipe.bin")  # opening it would block the worker forever
    report = scan_artifact(model, expected_sha256="0" * 64)
    assert report.files_scanned == 1
    assert any("link.pkl: symlink" in f for f in report.unsafe_findings)
    assert any("linkdir: symlink" in f for f in report.unsafe_findings)
    assert any("pipe.bin: special file" in f for f in report.unsafe_findings)


def test_scan_refuses_a_symlink_or_missing_artifact(tmp_path: Path) -> None:
    (tmp_path / "real.pkl").write_bytes(b"\x80\x04N.")
    (tmp_path / "link.pkl").symlink_to(tmp_path / "real.pkl")
    with pytest.raises(EvidenceError, match="symlink"):
        scan_artifact(tmp_path / "link.pkl", expected_sha256="0" * 64)
    with pytest.raises(EvidenceError):
        scan_artifact(tmp_path / "absent.pkl", expected_sha256="0" * 64)


def test_end_to_end_uri_to_report(root: Path, marker: Path) -> None:
    (root / "team" / "bad.pkl").write_bytes(malicious_pickle(marker))
    path = resolve_artifact_path(f"file://{root}/team/bad.pkl", allowed_roots=[root])
    report = scan_artifact(path, expected_sha256=sha256(path.read_bytes()))
    assert report.passed is False


# --- parse_artifact_scan_report -----------------------------------------------------------


def test_real_modelscan_report_of_malicious_pickle() -> None:
    report = parse_artifact_scan_report((SAMPLES / "modelscan-report-malicious.json").read_bytes())
    assert report.passed is False
    assert report.files_scanned == 1
    assert report.scanner == "modelscan 0.8.8"
    assert report.checksum_matches is None
    assert report.actual_sha256 is None
    assert report.unsafe_findings == [
        "CRITICAL: Use of unsafe operator 'system' from module 'posix' (malicious.pkl)"
    ]


def test_real_modelscan_report_of_benign_pickle() -> None:
    report = parse_artifact_scan_report((SAMPLES / "modelscan-report-benign.json").read_bytes())
    assert report.passed is True
    assert report.unsafe_findings == []
    assert report.files_scanned == 1


def clean_report(**summary: object) -> dict:
    report = json.loads((SAMPLES / "modelscan-report-benign.json").read_text())
    report["summary"].update(summary)
    return report


def test_report_errors_and_empty_scans_fail_closed() -> None:
    report = clean_report()
    report["errors"] = [{"category": "DEPENDENCY", "description": "tensorflow missing"}]
    parsed = parse_artifact_scan_report(json.dumps(report).encode())
    assert parsed.passed is False
    assert parsed.unsafe_findings == ["scan error: DEPENDENCY: tensorflow missing"]

    parsed = parse_artifact_scan_report(
        json.dumps(clean_report(scanned={"total_scanned": 0, "scanned_files": []})).encode()
    )
    assert parsed.passed is False

    parsed = parse_artifact_scan_report(json.dumps(clean_report(total_issues=3)).encode())
    assert parsed.passed is False


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",
        b'{"summary": {}, "issues": {}}',
        b'{"summary": {"total_issues": -1, "scanned": {"total_scanned": 1}}, "issues": []}',
        b'{"summary": {"total_issues": true, "scanned": {"total_scanned": 1}}, "issues": []}',
        b'{"summary": {"total_issues": 0, "scanned": {"total_scanned": 1}}, "issues": [1]}',
        b'{"summary": {"total_issues": 0}, "summary": {}, "issues": []}',
        b'{"summary": {"total_issues": NaN}, "issues": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\x1f\x8b\x08\x00",
        b"\xff\xfe\x00\x00",
    ],
)
def test_garbage_reports_raise(data: bytes) -> None:
    with pytest.raises(EvidenceError):
        parse_artifact_scan_report(data)


def test_oversized_report_is_refused() -> None:
    data = b'{"summary": {}, "issues": [], "pad": "' + b"a" * (9 * 1024 * 1024) + b'"}'
    with pytest.raises(EvidenceError, match="the limit is"):
        parse_artifact_scan_report(data)


def test_scanner_never_calls_pickle_load(monkeypatch: pytest.MonkeyPatch, marker: Path) -> None:
    """Belt and braces for SEC-4: make any unpickling during a scan blow up."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("something unpickled during a scan")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    data = malicious_pickle(marker)
    path = marker.parent / "m.pkl"
    path.write_bytes(data)
    report = scan_artifact(path, expected_sha256=sha256(data))
    assert report.passed is False
