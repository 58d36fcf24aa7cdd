"""What scanning an artifact, or reading a CI scan report about it, found."""

from __future__ import annotations

from dataclasses import dataclass, field


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
