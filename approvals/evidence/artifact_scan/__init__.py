"""Locate a registered artifact on local storage, check its checksum, scan it for pickles.

A version's ``storage_uri`` is client-supplied text. The server stores it and never
fetches it: only ``file://`` URIs that resolve, without any symlink, inside a configured
artifact root are ever opened (RELIABILITY SEC-4: traversal and SSRF corpus, 0 succeed).

Scanning never deserialises anything. Pickle-based files (and pickles inside zip
containers such as PyTorch checkpoints) are disassembled by picklescan, which lists the
imports a pickle would perform without performing them; ``.safetensors`` files hold only
a JSON header and raw tensor bytes, so they are safe by format once the header is valid.
CI may also upload its own modelscan JSON report, read by ``parse_artifact_scan_report``.

The package is the entry point. Inside it: ``location`` (``resolve_artifact_path``),
``scanning`` (``scan_artifact``), ``modelscan`` (``parse_artifact_scan_report``) and
``report`` (``ArtifactScanReport``, what each returns).
"""

from __future__ import annotations

from approvals.evidence.artifact_scan.location import resolve_artifact_path
from approvals.evidence.artifact_scan.modelscan import parse_artifact_scan_report
from approvals.evidence.artifact_scan.report import ArtifactScanReport
from approvals.evidence.artifact_scan.scanning import scan_artifact

__all__ = [
    "ArtifactScanReport",
    "parse_artifact_scan_report",
    "resolve_artifact_path",
    "scan_artifact",
]
