"""Hash an artifact (a file or a directory) and scan every file in it for unsafe pickles,
deserialising nothing: pickles are disassembled by picklescan, zip containers are checked
for bombs first, safetensors files are checked to be well formed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import stat
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from picklescan import scanner as picklescan

from approvals.evidence import EvidenceError
from approvals.evidence.artifact_scan.report import ArtifactScanReport
from approvals.evidence.provenance import load_json_document

MAX_FILES = 100_000
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
_SAFETENSORS_DTYPES = frozenset(
    {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32"}
    | {"F32", "F64", "I64", "U64", "F4", "F6_E2M3", "F6_E3M2", "E8M0", "F8_E8M0"}
)


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
