"""Locate a registered artifact on local storage, check its checksum, scan it for pickles.

A version's ``storage_uri`` is client-supplied text. The server stores it and never
fetches it: only ``file://`` URIs that resolve, without any symlink, inside a configured
artifact root are ever opened (RELIABILITY SEC-4: traversal and SSRF corpus, 0 succeed).

Scanning never deserialises anything. Pickle-based files (and pickles inside zip
containers such as PyTorch checkpoints) are disassembled by picklescan, which lists the
imports a pickle would perform without performing them; ``.safetensors`` files hold only
a JSON header and raw tensor bytes, so they are safe by format once the header is valid.
CI may also upload its own modelscan JSON report, read by ``parse_artifact_scan_report``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import stat
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from picklescan import scanner as picklescan

from approvals.evidence import EvidenceError
from approvals.evidence.provenance import load_json_document
from registry.validators import file_uri_path

MAX_URI_LENGTH = 4096
MAX_FILES = 100_000
MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
_CHUNK = 1024 * 1024
MAX_ZIP_RATIO = 200
MAX_ZIP_UNCOMPRESSED = 64 * 1024**3

# Extensions whose loaders unpickle (torch.load, joblib.load, numpy allow_pickle...).
PICKLE_EXTENSIONS = frozenset(
    {".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt", ".dat", ".data", ".npy"}
)
ZIP_EXTENSIONS = frozenset({".zip", ".npz", ".mar", ".pt2"})
SAFE_FORMAT_EXTENSIONS = frozenset({".safetensors"})
_PICKLE_MAGIC = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NUMPY_MAGIC = b"\x93NUMPY"
_SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SAFETENSORS_DTYPES = frozenset(
    {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32"}
    | {"F32", "F64", "I64", "U64", "F4", "F6_E2M3", "F6_E3M2", "E8M0", "F8_E8M0"}
)


@dataclass(frozen=True)
class ArtifactScanReport:
    """The outcome of scanning an artifact (ours) or of a CI modelscan report (theirs).

    ``checksum_matches`` and ``actual_sha256`` are ``None`` for a CI report: modelscan
    reports carry no digest, so they say nothing about *which* bytes were scanned, and
    the checksum check must come from our own scan. ``passed`` means "checksum not
    contradicted and nothing unsafe found".
    """

    checksum_matches: bool | None
    actual_sha256: str | None
    files_scanned: int
    unsafe_findings: list[str] = field(default_factory=list)
    scanner: str = ""
    passed: bool = False


# --- locating the artifact ---------------------------------------------------------------


def resolve_artifact_path(storage_uri: str, *, allowed_roots: list[Path]) -> Path:
    """The local path a ``file://`` storage URI names, proven to lie inside an allowed root.

    Refused with ``EvidenceError``: any other scheme (the server never fetches URLs, so
    no SSRF), a remote host, ``.``/``..`` segments in any percent-decoding layer,
    double-encoded escapes, backslashes, NUL and control characters, any symlink below
    the root, and a path that does not exist. The root prefix itself may contain
    symlinks: it is operator configuration, not client input.
    """
    path = _path_from_uri(storage_uri)
    roots = _resolved_roots(allowed_roots)
    for given_root, real_root in roots:
        for root in dict.fromkeys((given_root, real_root)):
            if path != root and path.is_relative_to(root):
                return _resolve_below(path, root=root, real_root=real_root)
    raise EvidenceError("The artifact path is not inside an allowed artifact root.")


def _path_from_uri(storage_uri: str) -> Path:
    try:
        return file_uri_path(storage_uri)
    except ValueError as exc:
        raise EvidenceError(str(exc)) from exc


def _resolved_roots(allowed_roots: list[Path]) -> list[tuple[Path, Path]]:
    if not allowed_roots:
        raise EvidenceError("No artifact roots are configured; nothing may be scanned.")
    roots = []
    for root in allowed_roots:
        root = Path(root)
        if not root.is_absolute():
            raise EvidenceError(f"Artifact root {root} must be an absolute path.")
        try:
            roots.append((root, root.resolve(strict=True)))
        except OSError as exc:
            raise EvidenceError(f"Artifact root {root} does not exist.") from exc
    return roots


def _resolve_below(path: Path, *, root: Path, real_root: Path) -> Path:
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            info = current.lstat()
        except OSError as exc:
            raise EvidenceError("The artifact path does not exist.") from exc
        if stat.S_ISLNK(info.st_mode):
            raise EvidenceError("The artifact path goes through a symlink; symlinks are refused.")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise EvidenceError("The artifact path does not exist.") from exc
    # Belt and braces: even a path we walked must still land inside the real root.
    if resolved == real_root or not resolved.is_relative_to(real_root):
        raise EvidenceError("The artifact path is not inside an allowed artifact root.")
    return resolved


# --- scanning ----------------------------------------------------------------------------


def scanner_name() -> str:
    return f"picklescan {importlib.metadata.version('picklescan')}"


def scan_artifact(path: Path, *, expected_sha256: str) -> ArtifactScanReport:
    """Hash ``path`` and scan every file in it for unsafe pickles, loading nothing.

    The digest of a single file is its sha256. The digest of a directory is defined so
    anyone can recompute it with coreutils::

        cd DIR && find . -type f -printf '%P\\n' | LC_ALL=C sort \\
            | xargs -d '\\n' sha256sum | sha256sum

    i.e. sha256 over the lines ``"<file sha256>  <relative POSIX path>\\n"`` of every
    regular file, sorted by the path's UTF-8 bytes. Empty directories do not count.
    Symlinks and special files inside a directory are findings and are never followed
    or opened (a FIFO would block the worker); file names with a newline are findings
    because they would make the digest ambiguous.

    Pickle imports picklescan calls dangerous *and* those it does not know are findings:
    an unreviewed callable in a pickle runs on load, so unknown fails closed (a manager
    can still override a non-critical scan failure with a justification).
    """
    try:
        info = path.lstat()
    except OSError as exc:
        raise EvidenceError("The artifact does not exist.") from exc
    if stat.S_ISLNK(info.st_mode):
        raise EvidenceError("The artifact is a symlink; symlinks are refused.")
    findings: list[str] = []
    if stat.S_ISREG(info.st_mode):
        actual, file_findings = _hash_and_scan(path, label=path.name)
        findings.extend(file_findings)
        files = 1
    elif stat.S_ISDIR(info.st_mode):
        lines = []
        files = 0
        for relative, entry_findings in _walk(path):
            findings.extend(entry_findings)
            if relative is None:
                continue
            files += 1
            digest, file_findings = _hash_and_scan(path / relative, label=relative)
            findings.extend(file_findings)
            lines.append((relative.encode("utf-8", "surrogateescape"), digest))
        lines.sort()
        whole = hashlib.sha256()
        for name, digest in lines:
            whole.update(digest.encode() + b"  " + name + b"\n")
        actual = whole.hexdigest()
    else:
        raise EvidenceError("The artifact is neither a regular file nor a directory.")
    matches = actual == expected_sha256
    if not matches:
        findings.insert(0, "The artifact's sha256 does not equal the registered checksum.")
    return ArtifactScanReport(
        checksum_matches=matches,
        actual_sha256=actual,
        files_scanned=files,
        unsafe_findings=findings,
        scanner=scanner_name(),
        passed=matches and not findings,
    )


def _walk(root: Path) -> Iterator[tuple[str | None, list[str]]]:
    """Relative paths of regular files (None with findings for anything else)."""
    count = 0
    for base, dirs, files in os.walk(root, followlinks=False, onerror=_raise_walk_error):
        for name in sorted(dirs):
            if (Path(base) / name).is_symlink():
                relative = (Path(base) / name).relative_to(root).as_posix()
                yield None, [f"{relative}: symlink to a directory, not followed."]
        for name in sorted(files):
            count += 1
            if count > MAX_FILES:
                raise EvidenceError(f"The artifact has more than {MAX_FILES} files.")
            full = Path(base) / name
            relative = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                yield None, [f"{relative}: symlink, not followed."]
            elif not stat.S_ISREG(mode):
                yield None, [f"{relative}: special file, not opened."]
            elif "\n" in relative or "\r" in relative:
                yield None, [f"{relative!r}: a newline in a file name is not allowed."]
            else:
                yield relative, []


def _raise_walk_error(error: OSError) -> None:
    raise EvidenceError(f"Part of the artifact cannot be read: {error.strerror}.")


def _hash_and_scan(path: Path, *, label: str) -> tuple[str, list[str]]:
    """Hash and scan through one descriptor opened without following symlinks."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise EvidenceError(f"{label}: cannot be opened ({exc.strerror}).") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise EvidenceError(f"{label}: is not a regular file.")
        digest = hashlib.sha256()
        head = handle.read(8)
        digest.update(head)
        size = len(head)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        handle.seek(0)
        return digest.hexdigest(), _scan_file(handle, label=label, head=head, size=size)


def _scan_file(handle: IO[bytes], *, label: str, head: bytes, size: int) -> list[str]:
    suffix = PurePosixPath(label).suffix.lower()
    if suffix in SAFE_FORMAT_EXTENSIONS:
        problem = _safetensors_problem(handle, size)
        return [f"{label}: not a valid safetensors file ({problem})."] if problem else []
    if head.startswith(_SEVEN_ZIP_MAGIC) or suffix == ".7z":
        # picklescan would extract a 7z archive to disk: a decompression bomb risk.
        return [f"{label}: 7z archives are not scanned; repackage as zip or safetensors."]
    looks_pickled = head.startswith(_PICKLE_MAGIC + _ZIP_MAGIC + (_NUMPY_MAGIC,))
    if suffix not in PICKLE_EXTENSIONS | ZIP_EXTENSIONS and not looks_pickled:
        return []
    if head.startswith(_ZIP_MAGIC) and (problem := _zip_problem(handle)):
        return [f"{label}: {problem}; not scanned, treated as unsafe."]
    try:
        # picklescan disassembles opcodes (pickletools.genops); it never unpickles.
        result = picklescan.scan_bytes(handle, label, suffix or None)
    except Exception as exc:  # a file picklescan cannot parse is not known to be safe
        return [f"{label}: could not be scanned ({type(exc).__name__}); treated as unsafe."]
    findings = []
    for imported in result.globals:
        name = f"{imported.module}.{imported.name}"
        if imported.safety == picklescan.SafetyLevel.Dangerous:
            findings.append(f"{label}: dangerous pickle import {name}")
        elif imported.safety == picklescan.SafetyLevel.Suspicious:
            findings.append(f"{label}: unreviewed pickle import {name}")
    if result.scan_err:
        findings.append(f"{label}: pickle could not be fully parsed; treated as unsafe.")
    return findings


def _zip_problem(handle: IO[bytes]) -> str | None:
    """Refuse zip bombs before picklescan streams members through the pickle disassembler.

    PyTorch checkpoints store members uncompressed; a huge expansion ratio is an attack.
    """
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"not a readable zip ({exc})"
    finally:
        handle.seek(0)
    if len(members) > MAX_FILES:
        return f"more than {MAX_FILES} zip members"
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.compress_type != zipfile.ZIP_STORED and ratio > MAX_ZIP_RATIO:
            return f"zip member {member.filename[:80]!r} expands {ratio:.0f}x (a zip bomb?)"
    if total > MAX_ZIP_UNCOMPRESSED:
        return "the zip expands beyond the size limit"
    return None


def _safetensors_problem(handle: IO[bytes], size: int) -> str | None:
    """Why this is not a well-formed safetensors file, or None.

    Format: 8-byte little-endian header length, a JSON object header mapping tensor names
    to ``{dtype, shape, data_offsets}`` (offsets into the byte buffer that follows), and
    an optional ``__metadata__`` of strings. A pickle renamed ``.safetensors`` fails here.
    """
    if size < 8:
        return "shorter than its header length"
    (header_length,) = struct.unpack("<Q", handle.read(8))
    if header_length > min(MAX_SAFETENSORS_HEADER, size - 8):
        return "header length exceeds the file"
    try:
        header = load_json_document(
            handle.read(header_length), max_bytes=MAX_SAFETENSORS_HEADER, what="header"
        )
    except EvidenceError as exc:
        return str(exc)
    if not isinstance(header, dict):
        return "header is not a JSON object"
    buffer_size = size - 8 - header_length
    for name, tensor in header.items():
        if name == "__metadata__":
            if not isinstance(tensor, dict) or not all(isinstance(v, str) for v in tensor.values()):
                return "__metadata__ must map strings to strings"
            continue
        if not isinstance(tensor, dict) or tensor.get("dtype") not in _SAFETENSORS_DTYPES:
            return f"tensor {name[:80]!r} has no known dtype"
        shape, offsets = tensor.get("shape"), tensor.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            return f"tensor {name[:80]!r} has an invalid shape"
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(n, int) for n in offsets)
            and 0 <= offsets[0] <= offsets[1] <= buffer_size
        ):
            return f"tensor {name[:80]!r} has data offsets outside the file"
    return None


# --- a CI-produced modelscan report ------------------------------------------------------


def parse_artifact_scan_report(data: bytes) -> ArtifactScanReport:
    """Read ``modelscan -r json`` output uploaded by CI.

    Shape (modelscan 0.8): ``{"summary": {"total_issues", "total_issues_by_severity",
    "modelscan_version", "scanned": {"total_scanned", "scanned_files"}, ...},
    "issues": [{"description", "operator", "module", "source", "scanner", "severity"}],
    "errors": [{"category", "description", "source"?}]}``. Every issue and every scan
    error is a finding (fail closed), and so is a report that scanned nothing.
    """
    report = load_json_document(data, max_bytes=MAX_REPORT_BYTES, what="modelscan report")
    if not isinstance(report, dict):
        raise EvidenceError("The modelscan report must be a JSON object.")
    summary, issues, errors = report.get("summary"), report.get("issues"), report.get("errors", [])
    if not isinstance(summary, dict) or not isinstance(issues, list):
        raise EvidenceError("The modelscan report needs a 'summary' object and an 'issues' list.")
    if not isinstance(errors, list):
        raise EvidenceError("The modelscan report's 'errors' must be a list.")
    scanned = summary.get("scanned", {})
    total_scanned = scanned.get("total_scanned", 0) if isinstance(scanned, dict) else None
    if not _is_count(total_scanned):
        raise EvidenceError("The modelscan report's summary.scanned.total_scanned is invalid.")
    total_issues = summary.get("total_issues")
    if not _is_count(total_issues):
        raise EvidenceError("The modelscan report's summary.total_issues is invalid.")

    findings = [_issue_text(issue) for issue in issues]
    findings.extend(
        f"scan error: {_text(error, 'category')}: {_text(error, 'description')}{_source(error)}"
        for error in errors
    )
    if total_issues != len(issues):
        findings.append(
            f"The report counts {total_issues} issues but lists {len(issues)}; treated as unsafe."
        )
    if total_scanned == 0:
        findings.append("modelscan scanned no files, so nothing was checked.")
    version = summary.get("modelscan_version")
    return ArtifactScanReport(
        checksum_matches=None,
        actual_sha256=None,
        files_scanned=total_scanned,
        unsafe_findings=findings,
        scanner=f"modelscan {version}" if isinstance(version, str) else "modelscan",
        passed=not findings,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    return value[:300] if isinstance(value, str) else "?"


def _source(item: Any) -> str:
    source = _text(item, "source")
    return f" ({source})" if source != "?" else ""


def _issue_text(issue: Any) -> str:
    if not isinstance(issue, dict):
        raise EvidenceError("Each modelscan issue must be an object.")
    return f"{_text(issue, 'severity')}: {_text(issue, 'description')}{_source(issue)}"
