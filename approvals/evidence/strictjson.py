"""Parse untrusted JSON evidence strictly, in bounded time and memory (RELIABILITY IN-2).

CI uploads are hostile input. ``json.loads`` on its own accepts NaN and Infinity (not JSON),
keeps the last of two duplicate keys (so two readers can see two different documents),
turns ``1e400`` into infinity, sniffs UTF-16/32 from bytes, and recurses once per nesting
level until it hits the interpreter's recursion limit. ``load_json`` closes each of those:

* the size is checked before anything else is done with the bytes;
* compressed uploads (gzip, zip, bzip2, xz, zstd) are refused by their magic bytes, never
  decompressed, so a compression bomb costs nothing;
* the bytes must be strict UTF-8 (a leading byte-order mark is tolerated, since some
  Windows tools write one);
* nesting depth is measured on the raw bytes *before* parsing, by a linear scan done in C
  (``bytes.replace``/``split``/``translate`` and ``itertools.accumulate``), so depth 10^5 is
  refused without ever recursing and independently of ``sys.getrecursionlimit``;
* duplicate keys, NaN/Infinity, non-finite or absurdly long numbers are refused.

Every failure is an ``EvidenceError`` whose message says what was wrong, never a traceback.
"""

from __future__ import annotations

import json
import math
import operator
from itertools import accumulate, count
from typing import Any

from approvals.evidence import EvidenceError

#: Default upper bound for one evidence document. Real SBOMs and scan reports of an ML
#: service image are a few MiB; anything larger is refused rather than parsed.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

#: Default nesting bound. CycloneDX component trees and scanner reports stay far below it;
#: it also keeps later recursive consumers (jsonschema validation) well inside the stack.
DEFAULT_MAX_DEPTH = 64

#: Longest number literal accepted. Real reports carry CVSS scores, versions and counters;
#: a 4,300-digit integer is an attack on ``int()``, not data.
MAX_NUMBER_LITERAL = 64

_COMPRESSED_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_OPENERS = b"[{"
_CLOSERS = b"]}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _OPENERS + _CLOSERS)
# Openers become 2 and closers 0, so the running sum minus the position is the depth.
_DEPTH_STEPS = bytes.maketrans(_OPENERS + _CLOSERS, b"\x02\x02\x00\x00")
_DEPTH_CHUNK = 1 << 20


def load_json(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "document",
) -> Any:
    """Return the JSON value in ``data`` or raise ``EvidenceError`` saying why it is refused.

    ``what`` names the document in messages ("SBOM", "dependency report"...), so the person
    reading a failed check knows which upload to fix.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EvidenceError(f"The {what} must be bytes, not {type(data).__name__}.")
    if len(data) > max_bytes:
        raise EvidenceError(f"The {what} is {len(data)} bytes; the limit is {max_bytes} bytes.")
    data = bytes(data)
    for magic, name in _COMPRESSED_MAGIC.items():
        if data.startswith(magic):
            raise EvidenceError(
                f"The {what} is {name}-compressed; upload the uncompressed JSON document."
            )
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise EvidenceError(
            f"The {what} is not valid UTF-8 (byte {exc.start}: {exc.reason})."
        ) from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise EvidenceError(f"The {what} is empty.")
    if _deeper_than(data, max_depth):
        raise EvidenceError(f"The {what} is nested deeper than {max_depth} levels.")

    def reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise EvidenceError(f"The {what} has a duplicate key {key[:80]!r}.")
            result[key] = value
        return result

    def reject_constant(name: str) -> Any:
        raise EvidenceError(f"The {what} contains {name}, which is not a JSON number.")

    def parse_int(literal: str) -> int:
        if len(literal) > MAX_NUMBER_LITERAL:
            raise EvidenceError(f"The {what} contains a number with {len(literal)} digits.")
        return int(literal)

    def parse_float(literal: str) -> float:
        if len(literal) > MAX_NUMBER_LITERAL:
            raise EvidenceError(f"The {what} contains a number {len(literal)} characters long.")
        value = float(literal)
        if not math.isfinite(value):
            raise EvidenceError(
                f"The {what} contains the number {literal[:40]}, which is out of range."
            )
        return value

    try:
        return json.loads(
            text,
            object_pairs_hook=reject_duplicates,
            parse_constant=reject_constant,
            parse_int=parse_int,
            parse_float=parse_float,
        )
    except EvidenceError:
        raise
    except RecursionError as exc:  # pragma: no cover - the pre-scan makes this unreachable
        raise EvidenceError(f"The {what} is nested too deeply.") from exc
    except ValueError as exc:
        raise EvidenceError(f"The {what} is not valid JSON: {str(exc)[:200]}") from exc


def _deeper_than(data: bytes, limit: int) -> bool:
    """Whether the bracket nesting of the JSON text ``data`` exceeds ``limit``, without parsing.

    Why on bytes: UTF-8 multi-byte sequences never contain ASCII bytes, so quotes,
    backslashes and brackets can be found bytewise. Escaped backslashes go first, then
    escaped quotes, so every remaining quote delimits a string; brackets inside strings
    are dropped by keeping only the even-numbered pieces between quotes. For malformed
    text the figure bounds how deep a parser gets before it fails, which is all the guard
    needs. Scanning stops at the first chunk that goes too deep.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[0::2])
    steps = outside_strings.translate(_DEPTH_STEPS, _NOT_BRACKETS)
    depth = 0
    for start in range(0, len(steps), _DEPTH_CHUNK):
        chunk = steps[start : start + _DEPTH_CHUNK]
        if depth + max(map(operator.sub, accumulate(chunk), count(1))) > limit:
            return True
        depth += chunk.count(2) - chunk.count(0)
    return False
