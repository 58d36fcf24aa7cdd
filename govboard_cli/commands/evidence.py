"""``govboard upload-evidence`` and ``govboard link-dataset``: what a version is built
and judged on."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import UsageError
from ..exit_codes import EXIT_OK, EXIT_SERVER
from ..inputs import CHUNK, reconciled_checksum, sha256_file, timestamp
from ..output import Output


def _multipart(
    fields: dict[str, str], file_field: str, path: Path, content_type: str
) -> tuple[str, int, Callable[[], Iterator[bytes]]]:
    """A multipart/form-data body streamed from the file (its length known up front)."""
    boundary = "govboard-" + uuid.uuid4().hex
    head = b""
    for name, value in fields.items():
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    filename = path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def chunks() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(CHUNK), b"")
        yield tail

    return f"multipart/form-data; boundary={boundary}", length, chunks


def _guess_content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".intoto", ".sigstore"):
        return "application/json"
    if suffix in (".xml", ".spdx"):
        return "application/xml"
    return "application/octet-stream"


def cmd_upload_evidence(client: Client, args: argparse.Namespace, out: Output) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"No such file: {path}")
    local_sha = sha256_file(path)
    content_type, length, chunks = _multipart(
        {"kind": args.kind}, "file", path, args.content_type or _guess_content_type(path)
    )
    response = client.request(
        "POST",
        f"versions/{args.version}/evidence/",
        body=chunks,
        content_type=content_type,
        content_length=length,
        retry=False,
    )
    evidence = response.json()
    remote_sha = evidence.get("sha256") if isinstance(evidence, dict) else None
    if remote_sha and remote_sha != local_sha:
        out.say(f"evidence upload corrupted: local sha256 {local_sha}, server stored {remote_sha}")
        out.data(evidence)
        return EXIT_SERVER
    out.say(
        f"{args.kind} evidence attached to version {args.version}: id {evidence.get('id')}, "
        f"{evidence.get('size', path.stat().st_size)} bytes, sha256 {local_sha[:12]}…"
    )
    out.data(evidence)
    return EXIT_OK


def cmd_link_dataset(client: Client, args: argparse.Namespace, out: Output) -> int:
    # A dataset version is immutable on the server, so "now" as a window edge would make
    # every rerun a conflict: the window must be the snapshot's real, fixed boundaries.
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "version": args.dataset_version,
        "use": args.use,
        "window_start": timestamp(args.window_start, "--window-start", allow_now=False),
        "window_end": timestamp(args.window_end, "--window-end", allow_now=False),
    }
    # Optional fields are sent only when given, so an older server that lacks one still
    # accepts the rest (it refuses unknown fields).
    if args.uri is not None:
        payload["uri"] = args.uri
    if args.license is not None:
        payload["license"] = args.license
    checksum = reconciled_checksum(args.checksum, args.data_file, "data file")
    if checksum:
        payload["checksum"] = checksum
    # Linking is idempotent on the server (the same link answers 200), so a retry is safe.
    response = client.request(
        "POST", f"versions/{args.version}/datasets/", json_body=payload, retry=True
    )
    link = response.json()
    verb = "linked" if response.status == 201 else "already linked"
    out.say(
        f"{args.use} dataset {args.dataset}@{args.dataset_version} {verb} to version "
        f"{args.version}: id {link.get('id')}"
    )
    out.data(link)
    return EXIT_OK
