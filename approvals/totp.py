"""RFC 6238 time-based one-time codes (HMAC-SHA1, 30 s steps, 6 digits), from RFC 4226."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time

STEP_SECONDS = 30
DIGITS = 6


def new_secret() -> str:
    """A fresh 160-bit secret, base32 as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def _key(secret_b32: str) -> bytes:
    padded = secret_b32.strip().replace(" ", "").upper()
    padded += "=" * (-len(padded) % 8)
    return base64.b32decode(padded)


def time_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // STEP_SECONDS)


def hotp(secret_b32: str, counter: int, *, digits: int = DIGITS) -> str:
    """RFC 4226: HMAC the big-endian counter, dynamic truncation, modulo 10^digits."""
    digest = hmac.new(_key(secret_b32), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def totp(secret_b32: str, *, at: float | None = None) -> str:
    return hotp(secret_b32, time_step(at))


def match_step(
    secret_b32: str, code: str, *, at: float | None = None, window: int = 1
) -> int | None:
    """The time step ``code`` belongs to (±window steps of clock drift), or None."""
    if not isinstance(code, str) or len(code) != DIGITS or not code.isdigit():
        return None
    now = time_step(at)
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(secret_b32, step), code):
            return step
    return None


def provisioning_uri(secret_b32: str, *, account: str, issuer: str = "govboard") -> str:
    from urllib.parse import quote

    return (
        f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret_b32}"
        f"&issuer={quote(issuer)}&period={STEP_SECONDS}&digits={DIGITS}"
    )
