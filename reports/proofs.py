"""The proofs a JSON report carries: which audit events and history rows it cites, their
canonical text (what the transparency log hashed) and their inclusion proofs against the
latest signed tree head (``audit.transparency.bundle``: the JSON export streams them as a
``ProofStream``, the PDF holds its bundle whole).

While the report streams, the cited rows are held compactly (one array of 64-bit ids per
table: a million cited rows are eight megabytes, not a million tuples).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from array import array
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

from django.conf import settings

from audit.transparency.bundle import ProofStream, proof_bundle
from audit.transparency.sources import canonical_rows, model_for_table

#: The standalone verifier auditors run offline; the PDF runs the same file in-process.
VERIFIER_PATH = settings.BASE_DIR / "tools" / "verify_audit_export.py"


class Citations:
    def __init__(self) -> None:
        self._ids: dict[str, array] = {}

    def add(self, table: str, pk: str) -> None:
        self._ids.setdefault(table, array("q")).append(int(pk))

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._ids.values())

    def pairs(self) -> Iterator[tuple[str, str]]:
        for table, ids in self._ids.items():
            for pk in ids:
                yield table, str(pk)


def canonical_texts(cited: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The canonical text of each cited row as it is now: one query per table."""
    by_table: dict[str, list[int]] = {}
    for table, pk in cited:
        by_table.setdefault(table, []).append(int(pk))
    texts = {}
    for table, pks in by_table.items():
        model = model_for_table(table)
        for pk, canonical in canonical_rows(model, model._base_manager.filter(pk__in=pks)):
            texts[(table, str(pk))] = canonical.decode("utf-8")
    return texts


def proofs_for(citations: Citations) -> dict[str, Any]:
    return proof_bundle(list(citations.pairs()))


def proof_stream(citations: Citations) -> ProofStream:
    """The same bundle, computed chunk by chunk as it is written."""
    return ProofStream(citations.pairs())


def head_digest(bundle: dict[str, Any]) -> str | None:
    """sha256 of the signed tree head as canonical JSON (sorted keys, no spaces): the one
    figure a reader compares with the head published outside the database."""
    head = bundle.get("tree_head")
    if head is None:
        return None
    text = json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def standalone_verifier() -> ModuleType:
    """tools/verify_audit_export.py, loaded from its file (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("govboard_verify_audit_export", VERIFIER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verification_result(document: dict[str, Any]) -> tuple[bool, str]:
    """What the offline verifier says of ``document`` (a report with its "proofs")."""
    verifier = standalone_verifier()
    try:
        return True, verifier.verify(document)
    except verifier.VerificationFailed as exc:
        return False, f"FAILED: {exc}"
    except ValueError as exc:
        return False, f"not verifiable: {exc}"
