"""Semantic Versioning 2.0.0: parsing, canonical form and a sortable precedence key.

Precedence ignores build metadata, so ``1.0.0+a`` and ``1.0.0+b`` are the same version for
uniqueness (see ``ModelVersion.version_core``) — two builds cannot both claim ``1.0.0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The regular expression recommended by semver.org: no leading zeros in numeric parts.
_SEMVER = re.compile(  # ASCII: \d would otherwise accept other scripts' digits
    r"\A(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z",
    re.ASCII,
)
_MAX_NUMBER = 10**12 - 1
_PAD = 12


class InvalidVersion(ValueError):
    pass


@dataclass(frozen=True)
class SemanticVersion:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]
    build: tuple[str, ...]

    @property
    def core(self) -> str:
        """The version without build metadata: what precedence and uniqueness use."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text

    def __str__(self) -> str:
        return self.core + ("+" + ".".join(self.build) if self.build else "")

    def sort_key(self) -> str:
        """A string whose byte order is semver precedence (ASCII, fits a CharField)."""
        parts = [f"{self.major:0{_PAD}d}", f"{self.minor:0{_PAD}d}", f"{self.patch:0{_PAD}d}"]
        if not self.prerelease:
            # A release sorts after every pre-release of the same core.
            return ".".join(parts) + "~"
        encoded = []
        for identifier in self.prerelease:
            if identifier.isdigit():
                # Numeric identifiers sort before alphanumeric ones, numerically.
                encoded.append("0" + f"{int(identifier):0{_PAD}d}")
            else:
                encoded.append("1" + identifier)
        # "!" sorts before every identifier character, so a shorter list sorts first.
        return ".".join(parts) + "-" + "!".join(encoded) + "!"


def parse(text: str) -> SemanticVersion:
    if not isinstance(text, str) or len(text) > 128:
        raise InvalidVersion("A semantic version is a string of at most 128 characters.")
    match = _SEMVER.fullmatch(text)  # not match(): "$" would accept a trailing newline
    if match is None:
        raise InvalidVersion(
            f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build], "
            "no leading zeros)."
        )
    numbers = [int(match.group(name)) for name in ("major", "minor", "patch")]
    if any(number > _MAX_NUMBER for number in numbers):
        raise InvalidVersion(f"{text!r} has a version number larger than {_MAX_NUMBER}.")
    prerelease = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    if any(part.isdigit() and int(part) > _MAX_NUMBER for part in prerelease):
        raise InvalidVersion(f"{text!r} has a pre-release number larger than {_MAX_NUMBER}.")
    build = tuple(match.group("build").split(".")) if match.group("build") else ()
    return SemanticVersion(*numbers, prerelease=prerelease, build=build)
