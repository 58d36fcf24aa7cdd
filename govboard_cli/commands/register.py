"""``govboard register``: create or update the model, then register the version."""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from ..client import Client, idempotency_key_for
from ..errors import UsageError
from ..exit_codes import EXIT_OK
from ..inputs import load_metadata, reconciled_checksum, sha256_file
from ..output import Output

# The model's fields: all four are needed to create or update it.
MODEL_FIELDS = ("kind", "owner", "backup_owner", "escalation_contact")
# What a version needs at the least (flags, --metadata keys, or the --artifact's sha256).
REQUIRED_VERSION_FIELDS = ("team", "model", "version", "checksum", "storage_uri")


def cmd_register(client: Client, args: argparse.Namespace, out: Output) -> int:
    metadata = load_metadata(args.metadata)
    model_fields = {
        key: metadata.pop(key) for key in (*MODEL_FIELDS, "description") if key in metadata
    }
    flag_model = {
        "kind": args.kind,
        "owner": args.owner,
        "backup_owner": args.backup_owner,
        "escalation_contact": args.escalation_contact,
        "description": args.model_description,
    }
    model_fields.update({key: value for key, value in flag_model.items() if value is not None})

    payload: dict[str, Any] = dict(metadata)
    flag_version = {
        "team": args.team,
        "model": args.model,
        "version": args.version,
        "storage_uri": args.storage_uri,
        "license": args.license,
        "risk_rating": args.risk_rating,
        "source_commit": args.source_commit,
        "dependency_lock_hash": args.dependency_lock_hash,
        "fine_tune_method": args.fine_tune_method,
        "base_model_version": args.base_model_version,
        "base_model_reference": args.base_model_reference,
        "allowed_use_cases": args.allowed_use_cases,
        "prohibited_use_cases": args.prohibited_use_cases,
        "mitigation_controls": args.mitigation_controls,
    }
    payload.update({key: value for key, value in flag_version.items() if value is not None})
    if args.dependency_lock:
        try:
            payload["dependency_lock_hash"] = sha256_file(args.dependency_lock)
        except OSError as exc:
            raise UsageError(f"Cannot read {args.dependency_lock}: {exc}") from exc

    checksum = reconciled_checksum(
        args.checksum or payload.get("checksum"), args.artifact, "artifact"
    )
    if checksum:
        payload["checksum"] = checksum
    missing = [field for field in REQUIRED_VERSION_FIELDS if not payload.get(field)]
    if missing:
        raise UsageError(
            "register needs " + ", ".join(missing) + " (flags, or keys of --metadata; "
            "the checksum may come from --artifact)."
        )

    if model_fields:
        _put_model(client, payload, model_fields, out)

    key = args.idempotency_key or idempotency_key_for(payload)
    response = client.request(
        "POST", "versions/", json_body=payload, headers={"Idempotency-Key": key}
    )
    version = response.json()
    # 200: the version existed with this checksum; a replayed Idempotency-Key answers with
    # the first call's status (201) and says so in a header.
    replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
    if response.status == 201 and not replayed:
        verb = "registered"
    elif replayed:
        verb = "already registered (idempotent replay)"
    else:
        verb = "already registered (same checksum)"
    out.say(
        f"version {payload['model']} {version.get('version', payload['version'])} {verb}: "
        f"id {version.get('id')}, state {version.get('state')}"
    )
    out.data(version)
    return EXIT_OK


def _put_model(
    client: Client, payload: dict[str, Any], model_fields: dict[str, Any], out: Output
) -> None:
    """Create or update the registered model before its version (PUT: idempotent)."""
    absent = [key for key in MODEL_FIELDS if not model_fields.get(key)]
    if absent:
        raise UsageError(
            "To create or update the model give all of --kind, --owner, --backup-owner and "
            "--escalation-contact (missing: " + ", ".join(absent) + ")."
        )
    team = urllib.parse.quote(str(payload["team"]), safe="")
    name = urllib.parse.quote(str(payload["model"]), safe="")
    response = client.request("PUT", f"teams/{team}/models/{name}/", json_body=model_fields)
    verb = "created" if response.status == 201 else "up to date"
    out.say(f"model {payload['team']}/{payload['model']} {verb}")
