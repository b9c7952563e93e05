"""Octavia notifications for the end-to-end stack: published into a real RabbitMQ the way
Octavia's oslo.messaging notifier does (topic exchange `octavia`, routing key
`notifications.info`, envelope 2.0), so the exporter's listener counts them
(octavia_notifications_received_total, _dropped_total) as in production."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import aio_pika


def _envelope(event_type: str, loadbalancer_id: str) -> bytes:
    inner = {
        "message_id": str(uuid.uuid4()), "publisher_id": None, "priority": "INFO",
        "event_type": event_type,
        "payload": {"loadbalancer_id": loadbalancer_id, "name": "e2e", "project_id": "p"},
        "timestamp": datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()


async def _publish(url: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("octavia", aio_pika.ExchangeType.TOPIC,
                                                  durable=False)
        for body in bodies:
            await exchange.publish(aio_pika.Message(body), routing_key="notifications.info")
    finally:
        await connection.close()


def publish(url: str, loadbalancer_id: str) -> None:
    """One load-balancer update (received) and one message about a server (dropped)."""
    asyncio.run(_publish(url, [
        _envelope("octavia.loadbalancer.update.end", loadbalancer_id),
        _envelope("compute.instance.create.end", loadbalancer_id),
    ]))
