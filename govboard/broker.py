"""The embedded broker: kombu's filesystem transport, with atomic message files.

kombu writes a message file in place (create, then write), and a consumer listing the
folder can pick the file up while it is still empty: it then fails to decode it and its
connection dies. Here a message is written under a name consumers ignore and renamed into
place, which is atomic on one filesystem; the exchange tables (bindings) likewise are
rewritten under a lock file and renamed into place. See docs/adr/0002-embedded-broker.md.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # ".msg.partial" never matches a queue's ".msg" suffix
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        lock_path = table.with_name(table.name + ".lock")
        try:
            with open(lock_path, "ab") as guard:
                filesystem.lock(guard, filesystem.LOCK_EX)
                try:
                    bindings = self.get_table(exchange)
                    if binding in bindings:
                        return
                    bindings.insert(0, binding)
                    partial = table.with_name(table.name + ".partial")
                    with open(partial, "wb") as handle:
                        handle.write(str_to_bytes(dumps(bindings)))
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(partial, table)
                finally:
                    filesystem.unlock(guard)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot bind in {table}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
