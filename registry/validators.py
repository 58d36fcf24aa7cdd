"""Field validators for registry metadata. Each raises ``ValidationError`` with a clear message."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from registry import semver

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
GIT_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# Names are what people read in a queue: lowercase ASCII slugs, so no confusable or
# mixed-script spellings, and no case-fold collisions ("Bot" vs "bot").
SLUG_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")


def validate_semver(value: str) -> None:
    try:
        semver.parse(value)
    except semver.InvalidVersion as exc:
        raise ValidationError(str(exc), code="semver") from exc


def validate_sha256(value: str) -> None:
    if not isinstance(value, str) or not SHA256_HEX.match(value):
        raise ValidationError(
            "A sha256 checksum is exactly 64 lowercase hexadecimal characters.", code="sha256"
        )


def validate_git_commit(value: str) -> None:
    if not GIT_COMMIT.match(value or ""):
        raise ValidationError(
            "A source commit is a full 40 (SHA-1) or 64 (SHA-256) character hex id.",
            code="commit",
        )


def validate_slug_name(value: str) -> None:
    if not isinstance(value, str) or not SLUG_NAME.match(value) or ".." in value:
        raise ValidationError(
            "Use 1-100 lowercase letters, digits, '.', '_' or '-', starting and ending with a "
            "letter or digit, with no '..'.",
            code="name",
        )


def _has_traversal(path: str) -> bool:
    decoded = path
    # Decode repeatedly: double encoding (%252e) must not hide a '..'.
    for _ in range(3):
        decoded = unquote(decoded)
    if "\x00" in decoded or "\\" in decoded:
        return True
    return any(segment in {"..", "."} for segment in decoded.split("/"))


_HOST_SCHEMES = {"https", "http"}
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def _is_internal_host(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host in {"", "localhost", "localhost.localdomain"} or host.endswith(_INTERNAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # Hosts like "2130706433" or "0x7f.1" are numeric spellings of IP addresses that
        # resolvers accept; a real bucket or registry host name has a letter in its labels.
        return all(label.isdigit() or label.startswith("0x") for label in host.split("."))
    return not address.is_global or address.is_multicast


def validate_storage_uri(value: str) -> None:
    """An artifact location: an allowed scheme, a location, and no path tricks.

    The server stores this string; it never fetches it (no SSRF): only file:// paths under
    the configured artifact roots are ever opened, by the artifact scan.
    """
    if not isinstance(value, str) or len(value) > 1024:
        raise ValidationError("A storage URI is a string of at most 1024 characters.")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zs"} for char in value):
        raise ValidationError("A storage URI may not contain spaces or control characters.")
    parts = urlsplit(value)
    allowed = settings.GOVBOARD_ALLOWED_STORAGE_SCHEMES
    if parts.scheme not in allowed:
        raise ValidationError(
            f"The storage URI scheme must be one of {', '.join(allowed)}.", code="scheme"
        )
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/"):
            raise ValidationError("A file:// URI must be an absolute local path.", code="uri")
    elif not parts.netloc:
        raise ValidationError("The storage URI must name a bucket or host.", code="uri")
    if parts.username or parts.password:
        raise ValidationError("The storage URI must not carry credentials.", code="uri")
    if parts.fragment:
        raise ValidationError("The storage URI must not have a fragment.", code="uri")
    if _has_traversal(parts.path) or _has_traversal(parts.netloc):
        raise ValidationError(
            "The storage URI must not contain '.', '..', backslashes or NUL.", code="traversal"
        )
    if parts.scheme in _HOST_SCHEMES and _is_internal_host(parts.hostname or ""):
        # Nothing here fetches storage URIs, but a URI naming an internal address is a trap
        # for whatever deploys from it (SSRF); refuse it at the door.
        raise ValidationError(
            "The storage URI must not name localhost, a private, link-local or reserved address.",
            code="internal-host",
        )
