"""The server's one Ed25519 signing key: loaded from settings, shared by every signer.

Decision records (approvals) and the audit log's signed tree heads (audit) sign with the
same key, so one published public key verifies both. The key lives here, in the kernel,
because audit may not import approvals.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from securesystemslib.signer import SSlibKey

logger = logging.getLogger(__name__)

# Derived, never random: a development install signs reproducibly, and the name says it all.
DEVELOPMENT_KEY_LABEL = b"govboard DEVELOPMENT signing key -- NOT FOR PRODUCTION"


def _development_allowed() -> bool:
    module = getattr(settings, "SETTINGS_MODULE", "") or os.environ.get(
        "DJANGO_SETTINGS_MODULE", ""
    )
    return bool(settings.DEBUG or module.endswith(".test") or settings.GOVBOARD_DEMO)


@functools.cache
def _private_key_for(configured: str) -> tuple[Ed25519PrivateKey, bool]:
    if configured:
        try:
            seed = base64.b64decode(configured, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured("GOVBOARD_SIGNING_KEY must be base64.") from exc
        if len(seed) != 32:
            raise ImproperlyConfigured("GOVBOARD_SIGNING_KEY must be base64 of a 32-byte seed.")
        return Ed25519PrivateKey.from_private_bytes(seed), False
    logger.warning(
        "GOVBOARD_SIGNING_KEY is empty: signing with the DEVELOPMENT key derived from a public "
        "label. Decision records signed with it prove nothing; set the key in production."
    )
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(DEVELOPMENT_KEY_LABEL).digest()
    ), True


def signing_private_key() -> Ed25519PrivateKey:
    """The configured key; the development key only under DEBUG, tests or the demo."""
    configured = settings.GOVBOARD_SIGNING_KEY or ""
    if not configured and not _development_allowed():
        raise ImproperlyConfigured("GOVBOARD_SIGNING_KEY is required outside DEBUG and tests.")
    return _private_key_for(configured)[0]


def is_development_key() -> bool:
    return not settings.GOVBOARD_SIGNING_KEY


def signing_public_key_raw() -> Ed25519PublicKey:
    return signing_private_key().public_key()


def signing_public_key_bytes() -> bytes:
    """The 32 raw bytes of the public key (what offline verifiers are handed)."""
    return signing_public_key_raw().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def signing_key_id() -> str:
    """securesystemslib's standard key id of the public key (DSSE envelopes carry it too)."""
    return SSlibKey.from_crypto(signing_public_key_raw()).keyid
