"""Octavia's oslo.messaging notifications, consumed from RabbitMQ with our OWN queue.

Octavia publishes `octavia.loadbalancer.{create,update,delete}.end` on the topic exchange of its
control_exchange (`octavia`) with routing key `<topic>.info`. oslo.messaging itself declares a
shared queue named `<topic>.info`; declaring a queue of that name with other properties breaks
publishing for everybody (406 PRECONDITION_FAILED), and consuming from it steals messages from
other consumers (Ceilometer…). So this listener declares an exclusive, auto-delete queue of its
own, bound to the exchange, and never touches `<topic>.info`.

It only decodes and hands events on; what to refresh is the refresher's business.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from exporter.logs import cloud_logger, redact_url
from exporter.model.parts import LoadBalancerEvent
from exporter.octavia.errors import MalformedNotification
from exporter.telemetry import Telemetry

EVENT_PREFIX = "octavia.loadbalancer."
BACKOFF_MAX = 30.0


def _timestamp(value: Any) -> float | None:
    # oslo writes "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, without a zone.
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def decode(body: bytes) -> LoadBalancerEvent | None:
    """An event for a load balancer, None for other notifications; MalformedNotification for
    bodies that are not oslo notifications. Accepts envelope 2.0 (`oslo.message` as a JSON
    string) and the bare 1.0 form."""
    try:
        outer = json.loads(body)
    except ValueError as exc:
        raise MalformedNotification("body is not JSON") from exc
    if not isinstance(outer, dict):
        raise MalformedNotification("body is not a JSON object")
    message: Any = outer
    if "oslo.message" in outer:
        try:
            message = json.loads(outer["oslo.message"])
        except (TypeError, ValueError) as exc:
            raise MalformedNotification("oslo.message is not a JSON string") from exc
    if not isinstance(message, dict) or not isinstance(message.get("event_type"), str):
        raise MalformedNotification("no event_type")
    event_type = message["event_type"]
    if not event_type.startswith(EVENT_PREFIX):
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise MalformedNotification("no payload object")
    lb_id = payload.get("loadbalancer_id") or payload.get("id")
    if not isinstance(lb_id, str) or not lb_id:
        raise MalformedNotification("payload names no load balancer")
    return LoadBalancerEvent(event_type, lb_id, _timestamp(message.get("timestamp")))


def url_password(url: str) -> str | None:
    return urlsplit(url).password


class NotificationListener:
    def __init__(
        self,
        cloud: str,
        url: str,
        telemetry: Telemetry,
        on_event: Callable[[LoadBalancerEvent], None],
        *,
        exchange: str = "octavia",
        topic: str = "notifications",
        queue: str | None = None,
    ) -> None:
        self.cloud = cloud
        self._log = cloud_logger("exporter.notifications", cloud)
        self._url = url
        self._telemetry = telemetry.for_cloud(cloud)
        self._on_event = on_event
        self._exchange = exchange
        self._topic = topic
        self._queue = queue or f"octavia-exporter-{cloud}-{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self._telemetry.notifications_connected.labels().set(0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"notifications-{self.cloud}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _handle(self, body: bytes) -> None:
        try:
            event = decode(body)
        except MalformedNotification as exc:
            self._telemetry.notifications_dropped.labels("malformed").inc()
            self._log.warning("notification_malformed", reason="malformed",
                              url=redact_url(self._url, mask_password=True), problem=str(exc))
            return
        if event is None:
            self._telemetry.notifications_dropped.labels("not_loadbalancer").inc()
            return
        self._telemetry.notifications_received.labels(event.event_type).inc()
        self._log.debug("notification_received", event_type=event.event_type,
                        loadbalancer_id=event.loadbalancer_id)
        self._on_event(event)

    async def _run(self) -> None:
        import aio_pika

        failures = 0
        while True:
            try:
                connection = await aio_pika.connect(self._url, timeout=10)
                async with connection:
                    channel = await connection.channel()
                    try:
                        exchange = await channel.get_exchange(self._exchange, ensure=True)
                    except aio_pika.exceptions.ChannelClosed:
                        # Not there yet (Octavia has not published since the broker started):
                        # declare it as oslo.messaging does, so binding can proceed.
                        channel = await connection.channel()
                        exchange = await channel.declare_exchange(
                            self._exchange, aio_pika.ExchangeType.TOPIC, durable=False)
                    queue = await channel.declare_queue(self._queue, exclusive=True,
                                                        auto_delete=True)
                    await queue.bind(exchange, routing_key=f"{self._topic}.info")
                    failures = 0
                    self._telemetry.notifications_connected.labels().set(1)
                    self.connected.set()
                    self._log.info("notifications_connected",
                                   url=redact_url(self._url, mask_password=True),
                                   queue=self._queue)
                    async with queue.iterator() as messages:
                        async for message in messages:
                            async with message.process(ignore_processed=True):
                                self._handle(message.body)
                # The iterator ends when the broker closes the channel.
                raise ConnectionError("the broker closed the consumer")
            except asyncio.CancelledError:
                self._telemetry.notifications_connected.labels().set(0)
                raise
            except Exception as exc:
                self.connected.clear()
                self._telemetry.notifications_connected.labels().set(0)
                failures += 1
                delay = min(BACKOFF_MAX, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.5, 1)
                self._log.warning("notifications_disconnected",
                                  url=redact_url(self._url, mask_password=True),
                                  error=type(exc).__name__, retry_in_seconds=round(delay, 1))
                await asyncio.sleep(delay)
