"""Field validators for registry metadata. Each raises ``ValidationError`` with a clear message."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from registry import semver

SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")
GIT_COMMIT = re.compile(r"\A[0-9a-f]{40}([0-9a-f]{24})?\Z")
# Names are what people read in a queue: lowercase ASCII slugs, so no confusable or
# mixed-script spellings, and no case-fold collisions ("Bot" vs "bot").
SLUG_NAME = re.compile(r"\A[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?\Z")
# Version labels people choose (a dataset snapshot's "2024-06", "v1.2"): ASCII letters,
# digits and . _ + -, starting and ending with a letter or digit, so never a path.
LABEL = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,98}[A-Za-z0-9])?\Z")


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


def validate_label(value: str) -> None:
    if not isinstance(value, str) or not LABEL.match(value) or ".." in value:
        raise ValidationError(
            "Use 1-100 ASCII letters, digits, '.', '_', '+' or '-', starting and ending with a "
            "letter or digit, with no '..'.",
            code="label",
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


MAX_FILE_URI_LENGTH = 4096
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _has_control(value: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf") for char in value)


def file_uri_path(value: str) -> Path:
    """The absolute local path a ``file://`` URI names, or ``ValueError`` saying why not.

    Refused: another scheme, a host other than localhost, a query or fragment, ``.``/``..``
    or empty segments in any percent-decoding layer, double encoding, backslashes, NUL and
    control characters. The one parser for registration and for the artifact scan.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("The storage URI must be a non-empty string.")
    if len(value) > MAX_FILE_URI_LENGTH:
        raise ValueError(f"The storage URI is longer than {MAX_FILE_URI_LENGTH} characters.")
    if "\\" in value or _has_control(value):
        raise ValueError("The storage URI must not contain backslashes or control characters.")
    parts = urlsplit(value)
    if parts.scheme != "file":
        raise ValueError(
            "Only file:// artifacts are opened by the server; it never fetches other URLs."
        )
    if parts.netloc not in ("", "localhost"):
        raise ValueError("A file:// URI must name a local path, not a host.")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("A file:// URI must not have a query or fragment.")
    raw = parts.path
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError("The storage URI's percent-escapes are not valid UTF-8.") from exc
    if _PERCENT_ESCAPE.search(decoded):
        raise ValueError("The storage URI is percent-encoded twice; send it encoded once.")
    for layer in (raw, decoded):
        if "\\" in layer or _has_control(layer):
            raise ValueError("The artifact path must not contain backslashes or NUL.")
        if not layer.startswith("/"):
            raise ValueError("The artifact path must be absolute.")
        # One trailing slash is how directory URIs are usually written.
        segments = (layer[:-1] if layer.endswith("/") else layer).split("/")[1:]
        if any(segment in ("", ".", "..") for segment in segments):
            raise ValueError("The artifact path must not contain '.', '..' or empty segments.")
    return Path(decoded)


def path_inside_artifact_roots(path: Path, roots: Iterable[str | Path]) -> bool:
    """Whether ``path`` lies strictly below one of the configured artifact roots.

    Lexically, and, where the path exists already, also after resolving symlinks: a link
    inside a root that points outside it does not make the target an artifact.
    """
    for root in roots:
        root = Path(root)
        if not root.is_absolute() or path == root or not path.is_relative_to(root):
            continue
        if not path.exists() and not path.is_symlink():
            return True
        try:
            real_root, real_path = root.resolve(strict=True), path.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        return real_path != real_root and real_path.is_relative_to(real_root)
    return False


def _host_is_single_script(host: str) -> bool:
    """ASCII host names only (IDNs in their xn-- form), and no label whose decoded form
    mixes scripts: "example" with a Cyrillic "a" (U+0430) reads as example.com and is not."""
    if not host.isascii():
        return False
    for label in host.split("."):
        if not label.lower().startswith("xn--"):
            continue
        try:
            decoded = label.encode("ascii").decode("idna")
        except UnicodeError:
            return False
        scripts = {
            unicodedata.name(char, "UNKNOWN").split(" ")[0] for char in decoded if char.isalpha()
        }
        if len(scripts) > 1:
            return False
    return True


def validate_storage_uri(value: str) -> None:
    """An artifact location: an allowed scheme, a location, and no path tricks.

    The server stores this string; it never fetches it (no SSRF): only file:// paths under
    the configured artifact roots are ever opened, by the artifact scan, so a file:// URI
    anywhere else is refused here, at the door.
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
        try:
            path = file_uri_path(value)
        except ValueError as exc:
            raise ValidationError(str(exc), code="uri") from exc
        if not path_inside_artifact_roots(path, settings.GOVBOARD_ARTIFACT_ROOTS):
            raise ValidationError(
                "A file:// artifact must lie inside one of the server's artifact roots "
                "(GOVBOARD_ARTIFACT_ROOTS); this path does not.",
                code="outside-artifact-roots",
            )
        return
    if not parts.netloc:
        raise ValidationError("The storage URI must name a bucket or host.", code="uri")
    if parts.username or parts.password:
        raise ValidationError("The storage URI must not carry credentials.", code="uri")
    if parts.fragment:
        raise ValidationError("The storage URI must not have a fragment.", code="uri")
    if not _host_is_single_script(parts.hostname or ""):
        raise ValidationError(
            "The storage host must be ASCII (an internationalised name in its xn-- form) and "
            "must not mix scripts.",
            code="host-script",
        )
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
