"""Event-to-metric latency: Octavia notifications through a real RabbitMQ to /metrics.

Starts RabbitMQ (Debian's rabbitmq-server) and the simulator on 127.0.0.1, runs the real
exporter as a process with --notifications-url and a 10-minute poll interval, then N times:
change a load balancer in the simulator, publish the notification as Octavia's notifier does,
and time until /metrics shows the change. Prints median and p99.

    python benchmarks/events.py --events 100 --lbs 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.run import Process, free_port, http, wait_for
from tests.system.rabbit import Rabbit


def shows(url: str, needle: str) -> bool:
    with urllib.request.urlopen(url, timeout=10) as response:
        return needle in response.read().decode()


async def measure(args: argparse.Namespace, sim_base: str, metrics_url: str,
                  amqp_url: str) -> list[float]:
    fleet = json.loads(http(sim_base + "/_sim/fleet?kinds=loadbalancers")[0])
    lbs = [lb["id"] for lb in fleet["loadbalancers"]]
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange("octavia", aio_pika.ExchangeType.TOPIC,
                                              durable=False)
    latencies = []
    for i in range(args.events):
        lb = lbs[i % len(lbs)]
        status = "ERROR" if i % 2 == 0 else "ONLINE"
        http(f"{sim_base}/_sim/loadbalancers/{lb}",
             data=json.dumps({"operating_status": status}).encode(),
             headers={"Content-Type": "application/json"})
        needle = f'octavia_loadbalancer_operating_status{{cloud="simulator",loadbalancer_id="{lb}"'
        sent = time.time()
        inner = {"message_id": str(uuid.uuid4()), "priority": "INFO", "publisher_id": None,
                 "event_type": "octavia.loadbalancer.update.end",
                 "payload": {"loadbalancer_id": lb},
                 "timestamp": datetime.fromtimestamp(sent, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")}
        await exchange.publish(aio_pika.Message(json.dumps(
            {"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()),
            routing_key="notifications.info")
        target = f'{needle},project_id='
        deadline = time.monotonic() + 30
        while True:
            body = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
            line = next((x for x in body.splitlines() if x.startswith(target)), "")
            if f'status="{status}"' in line:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"event {i} never showed")
            await asyncio.sleep(0.01)
        latencies.append(time.time() - sent)
    await connection.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--lbs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="octavia-events-") as tmp:
        work = Path(tmp)
        rabbit = Rabbit(work / "rabbit")
        rabbit.start()
        sim_port, exp_port = free_port(), free_port()
        clouds = work / "clouds.yaml"
        sim = Process("simulator", [sys.executable, "-m", "exporter.simulator", "--lbs",
                                    str(args.lbs), "--port", str(sim_port),
                                    "--write-clouds-yaml", str(clouds)], work)
        exporter = None
        try:
            wait_for(clouds.exists, "simulator", 120)
            exporter = Process("exporter", [
                sys.executable, "-m", "exporter", "--os-cloud", "simulator", "--interval", "600",
                "--notifications-url", rabbit.url, "--log-format", "json",
                "--web.listen-address", f"127.0.0.1:{exp_port}"], work,
                env={"OS_CLIENT_CONFIG_FILE": str(clouds)})
            wait_for(lambda: any('"notifications_connected"' in x for x in exporter.lines()),
                     "exporter connected to the broker", 300)
            wait_for(lambda: any('"poll_cycle_done"' in x for x in exporter.lines()),
                     "first cycle", 300)
            latencies = asyncio.run(measure(args, f"http://127.0.0.1:{sim_port}",
                                            f"http://127.0.0.1:{exp_port}/metrics", rabbit.url))
        finally:
            if exporter is not None:
                exporter.stop()
            sim.stop()
            rabbit.stop()
    p99 = (statistics.quantiles(latencies, n=100, method="inclusive")[98]
           if len(latencies) > 1 else latencies[0])
    print(f"{args.events} events, {args.lbs} load balancers: event-to-metric median "
          f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
