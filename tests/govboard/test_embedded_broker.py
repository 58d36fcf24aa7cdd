"""The embedded (filesystem) broker never hands a consumer a half-written message."""

from __future__ import annotations

import threading

from kombu import Connection

MESSAGES = 200


def _connection(folder) -> Connection:
    return Connection(
        "filesystem://",
        transport="govboard.broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_a_consumer_racing_a_producer_receives_every_message_whole(tmp_path):
    # Given a producer publishing while a consumer is already polling the same folder
    folder = tmp_path / "broker"
    folder.mkdir()
    received: list[dict] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with _connection(folder) as connection:
                queue = connection.SimpleQueue("celery")
                while len(received) < MESSAGES:
                    message = queue.get(timeout=10)
                    received.append(message.payload)
                    message.ack()
        except BaseException as exc:
            errors.append(exc)

    # (The queue is declared before the consumer starts: two connections in one process
    # share kombu's in-memory binding state, which web and worker processes do not.)
    with _connection(folder) as connection:
        queue = connection.SimpleQueue("celery")
        consumer = threading.Thread(target=consume)
        consumer.start()

        # When it publishes many messages as fast as it can
        for number in range(MESSAGES):
            queue.put({"number": number, "padding": "x" * 200_000})
    consumer.join(timeout=60)

    # Then every message arrived complete and decodable, none twice, none lost
    leftovers = sorted(p.name for p in folder.iterdir())
    assert errors == [], (len(received), leftovers[:5])
    assert sorted(message["number"] for message in received) == list(range(MESSAGES))
    assert not [name for name in (p.name for p in folder.iterdir()) if name.endswith(".partial")]
